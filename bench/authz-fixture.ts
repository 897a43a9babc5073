import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Fixtures } from './fixtures.ts';
import { postToken } from './http-sign-in.ts';
import { redisUrl } from './services.ts';
import type { RunningTarget } from './targets/target.ts';

/**
 * The authorization fixture (issue 14): the README's Drive-style sharing policies over 10,000 files in 100 folders,
 * and two accounts. `alice` owns one file in a hundred, is a viewer of another one in a hundred, and every file of
 * folder `d00` is public (under `folder::"public"`), so she may view 3% of the files: a resource search scans the
 * whole scan budget of a page to find them, the costly case of a sparse share.
 *
 * The same requests are decided two ways: over HTTP by Gatehouse (AuthZEN bodies), and in process by cedar-wasm
 * with the same policies and the entities Gatehouse builds for them (`cedarCall`), the baseline of the ratios.
 */
export const authzPolicies = `@id("owner")
permit(principal, action in [Action::"view", Action::"edit", Action::"share"], resource is file)
  when { resource has owner && resource.owner == principal };
@id("viewers")
permit(principal, action == Action::"view", resource is file)
  when { (resource has viewers && principal in resource.viewers) ||
         (resource has editors && principal in resource.editors) };
@id("editors")
permit(principal, action == Action::"edit", resource is file)
  when { resource has editors && principal in resource.editors };
@id("public")
permit(principal, action == Action::"view", resource in folder::"public");
`;

export const authzFileCount = 10_000;
const folderCount = 100;
/** The accounts: `alice` asks, `bob` owns what alice does not. Fixed `sub`s (`user create --id`). */
const people = {
  alice: { id: 'authz|alice', email: 'alice@authz.bench.local', name: 'Alice' },
  bob: { id: 'authz|bob', email: 'bob@authz.bench.local', name: 'Bob' },
} as const;

type Ref = { type: string; id: string };
type CedarValueJson = unknown;
export interface CedarEntity {
  uid: Ref;
  attrs: Record<string, CedarValueJson>;
  parents: Ref[];
}
/** One in-process decision: a request and the entities Gatehouse passes Cedar for it. */
export interface CedarCall {
  principal: Ref;
  action: Ref;
  resource: Ref;
  context: Record<string, CedarValueJson>;
  entities: CedarEntity[];
}

const fileId = (index: number) => `f${String(index).padStart(5, '0')}`;
const folderOf = (index: number) => `d${String(index % folderCount).padStart(2, '0')}`;
const entityRef = (ref: Ref) => ({ __entity: ref });

/** File `index` as stored (Cedar's entity format, as `resource import` reads it). */
function fileEntity(index: number): CedarEntity {
  const slot = index % 100;
  const attrs: Record<string, CedarValueJson> = {
    owner: entityRef({ type: 'user', id: slot === 7 ? people.alice.id : people.bob.id }),
    size: index * 37,
  };
  if (slot === 13) attrs.viewers = [entityRef({ type: 'user', id: people.alice.id })];
  return {
    uid: { type: 'file', id: fileId(index) },
    attrs,
    parents: [{ type: 'folder', id: folderOf(index) }],
  };
}

function folderEntity(id: string): CedarEntity {
  return {
    uid: { type: 'folder', id },
    attrs: {},
    parents: id === 'd00' ? [{ type: 'folder', id: 'public' }] : [],
  };
}

/** Every stored resource: the folders (`public` first) and the files. */
function storedResources(): CedarEntity[] {
  const folders: CedarEntity[] = [folderEntity('public')];
  for (let index = 0; index < folderCount; index += 1) folders.push(folderEntity(folderOf(index)));
  return [...folders, ...Array.from({ length: authzFileCount }, (_, index) => fileEntity(index))];
}

/**
 * `user::"authz-alice"` as Gatehouse builds it: its built-in attributes (permissions from its role) and its role as
 * a parent; the role's entity follows.
 */
function aliceEntities(fixtures: Fixtures): CedarEntity[] {
  return [
    {
      uid: { type: 'user', id: people.alice.id },
      attrs: {
        sub: people.alice.id,
        email: people.alice.email,
        email_verified: false,
        permissions: [fixtures.api.permission, authzenPermission],
        name: people.alice.name,
      },
      parents: [{ type: 'role', id: fixtures.api.role }],
    },
    { uid: { type: 'role', id: fixtures.api.role }, attrs: {}, parents: [] },
  ];
}

const authzenPermission = 'authz:evaluate';

/** Alice may view file `index`? (the policies above, decided by hand: a check on the fixture, not on Gatehouse.) */
export function aliceMayView(index: number): boolean {
  const slot = index % 100;
  return slot === 7 || slot === 13 || slot === 0;
}

/** The in-process form of "may alice view file `index`": the request and its entities. */
export function cedarCall(fixtures: Fixtures, index: number): CedarCall {
  const folder = folderOf(index);
  const ancestors = [folderEntity(folder), ...(folder === 'd00' ? [folderEntity('public')] : [])];
  return {
    principal: { type: 'user', id: people.alice.id },
    action: { type: 'Action', id: 'view' },
    resource: { type: 'file', id: fileId(index) },
    context: {},
    entities: [
      ...aliceEntities(fixtures),
      fileEntity(index),
      ...ancestors,
      { uid: { type: 'Action', id: 'view' }, attrs: {}, parents: [] },
    ],
  };
}

/** The AuthZEN request of the same question. */
export function evaluationBody(index: number) {
  return {
    subject: { type: 'user', id: people.alice.id },
    action: { name: 'view' },
    resource: { type: 'file', id: fileId(index) },
  };
}

/** A batch of `size` evaluations sharing subject and action (AuthZEN's defaults), files `0..size-1`. */
export function evaluationsBody(size: number) {
  return {
    subject: { type: 'user', id: people.alice.id },
    action: { name: 'view' },
    evaluations: Array.from({ length: size }, (_, index) => ({
      resource: { type: 'file', id: fileId(index) },
    })),
  };
}

/** A resource search: the files alice may view (first page, the default page size). */
export function searchBody() {
  return {
    subject: { type: 'user', id: people.alice.id },
    action: { name: 'view' },
    resource: { type: 'file' },
  };
}

const mainScript = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/**
 * `gatehouse <args> --json` against a running gatehouse-real target: its database and Redis prefix, outside
 * production mode with a data directory of its own (so no secret is needed and none is written into the
 * repository). Only commands that touch neither keys nor sealed secrets are run this way.
 */
function cliFor(target: RunningTarget, dataDir: string) {
  const storage = target.storage;
  if (!storage)
    throw new Error(`authz scenarios need a target with PostgreSQL (gatehouse-real), not ${target.name}`);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: storage.databaseUrl,
    REDIS_URL: redisUrl,
    GATEHOUSE_CONFIG_JSON: JSON.stringify({ logLevel: 'warn', redisKeyPrefix: storage.redisPrefix, dataDir }),
  };
  return (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [mainScript, ...args, '--json'],
        { env, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error)
            reject(new Error(`gatehouse ${args.slice(0, 2).join(' ')} failed: ${stderr || error.message}`));
          else resolve(stdout);
        },
      );
    });
}

/** Provisions the fixture once per target (scenarios share it), through the CLI. */
const provisioned = new Map<string, Promise<void>>();

export function provisionAuthz(target: RunningTarget, fixtures: Fixtures): Promise<void> {
  let done = provisioned.get(target.origin);
  if (!done) {
    done = provision(target, fixtures);
    provisioned.set(target.origin, done);
  }
  return done;
}

async function provision(target: RunningTarget, fixtures: Fixtures): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-bench-authz-'));
  try {
    const cli = cliFor(target, join(directory, 'data'));
    // The service client's role may ask for decisions: its tokens for <ISSUER>/authz carry authz:evaluate.
    await cli('role', 'grant', fixtures.api.role, '--permission', authzenPermission);
    for (const person of Object.values(people))
      await cli(
        ...['user', 'create', '--email', person.email, '--password', randomBytes(18).toString('base64url')],
        ...['--id', person.id, '--name', person.name, '--role', fixtures.api.role],
      );
    const policyPath = join(directory, 'drive.cedar');
    writeFileSync(policyPath, authzPolicies);
    await cli('policy', 'set', '--file', policyPath);
    // `resource import` takes at most 10,000 entities at a time.
    const resources = storedResources();
    for (let start = 0; start < resources.length; start += 10_000) {
      const path = join(directory, `resources-${String(start)}.json`);
      writeFileSync(path, JSON.stringify(resources.slice(start, start + 10_000)));
      await cli('resource', 'import', '--file', path);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** An access token for `<ISSUER>/authz` (the service client, whose role holds authz:evaluate). */
export async function authzToken(target: RunningTarget, fixtures: Fixtures): Promise<string> {
  const { access_token: token } = await postToken(target.origin, fixtures.serviceClient, {
    grant_type: 'client_credentials',
    resource: `${target.origin}/authz`,
  });
  return token;
}

/** POSTs an AuthZEN request once, so a scenario fails early when the answer is not what the fixture says. */
export async function postAuthzen(
  target: RunningTarget,
  token: string,
  path: string,
  body: unknown,
): Promise<unknown> {
  const answer = await fetch(new URL(path, target.origin), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json',
    },
    body: JSON.stringify(body),
  });
  const text = await answer.text();
  if (!answer.ok) throw new Error(`${path} answered ${String(answer.status)}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}
