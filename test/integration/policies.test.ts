import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfigCache, type ConfigCache } from '../../src/db/config-cache.ts';
import { listenForConfigChanges, type ConfigListener } from '../../src/db/config-listener.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { createPool, type Pool } from '../../src/db/pg-pool.ts';
import { createAuditLog } from '../../src/libraries/audit.ts';
import { createAuthzLibraries, type AuthzLibraries } from '../../src/libraries/authz/create-authz.ts';
import { createConfigVersionQueries } from '../../src/queries/config-version-queries.ts';
import { createQueries } from '../../src/queries/create-queries.ts';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { createTestDatabase, type TestDatabase } from '../support/services.ts';
import { silentLog } from '../support/test-gatehouse.ts';

/**
 * The Cedar policy set through the CLI (`policy set/get/history/rollback`, exit codes as the contract says) and as a
 * running server sees it: the decisions of a serving runtime (config cache, LISTEN/NOTIFY listener, the same
 * libraries `createGatehouse` builds) change on the very next call after the CLI changes the set.
 */
let database: TestDatabase;
let env: NodeJS.ProcessEnv;
let dir: string;
/** What a serving process holds: its pool, config cache and listener, and the authz libraries over them. */
let server: { pool: Pool; cache: ConfigCache; listener: ConfigListener; authz: AuthzLibraries };
let sub: string;
const gatehouse = (...args: string[]) => runCli(args, env);

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

interface PolicyGet {
  version: number;
  text: string;
  schema: string | null;
}
const get = async () => {
  const result = await gatehouse('policy', 'get', '--json');
  expect(result.code).toBe(0);
  return result.json<PolicyGet>();
};

const check = (action: string, resource = { type: 'document', id: 'd1' }) =>
  server.authz.decisions.check({
    subject: { type: 'user', id: sub },
    action: { name: action },
    resource,
  });

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateDatabase(database.url, silentLog);
  env = cliEnvironment(database.url);
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-policies-'));
  const pool = createPool({ connectionString: database.url, max: 3 }, () => undefined);
  // Polls only every 10 s, entries live 10 minutes: only the notification explains a change seen at once.
  const versions = createConfigVersionQueries(pool);
  const cache = createConfigCache({
    readVersions: () => versions.read(),
    pollMs: 10_000,
    maxAgeMs: 600_000,
    log: silentLog,
  });
  const listener = listenForConfigChanges({ connection: pool.options, cache, log: silentLog });
  expect(await listener.started).toBe(true);
  const queries = createQueries(pool, cache);
  server = {
    pool,
    cache,
    listener,
    authz: createAuthzLibraries({ pool, queries, audit: createAuditLog(queries.audit) }),
  };
  expect((await gatehouse('role', 'create', 'reader', '--permission', 'read', '--json')).code).toBe(0);
  const created = await gatehouse(
    'user',
    'create',
    '--email',
    'ada@example.com',
    '--password',
    'long enough password',
    '--role',
    'reader',
    '--json',
  );
  expect(created.code).toBe(0);
  sub = created.json<{ id: string }>().id;
}, 60_000);

afterAll(async () => {
  await server?.listener.close();
  server?.cache.close();
  await server?.pool.end();
  await database?.drop();
  rmSync(dir, { force: true, recursive: true });
});

const readOnly = `// Readers read; nobody deletes archived documents.
@id("archived")
forbid(principal, action == Action::"delete", resource) when { resource has archived && resource.archived };
@id("owners")
permit(principal, action, resource) when { resource has owner && resource.owner == principal };
`;

describe('gatehouse policy', () => {
  it('has no policy set before one is stored, and RBAC alone answers', async () => {
    expect(await get()).toEqual({ version: 0, text: '', schema: null });
    expect(await check('read')).toMatchObject({ decision: true, policies: ['gatehouse:rbac'] });
    expect(await check('delete')).toMatchObject({ decision: false, policies: [] });
  });

  it('stores a policy set and prints it with its version', async () => {
    const set = await gatehouse('policy', 'set', '--file', file('v1.cedar', readOnly), '--json');
    expect(set.code).toBe(0);
    expect(set.json()).toEqual({ version: 1, policies: ['archived', 'owners'], schema: false });
    expect(await get()).toEqual({ version: 1, text: readOnly, schema: null });
  });

  it('stops a policy set that does not parse from replacing the active one (exit 2, Cedar message and line)', async () => {
    const broken =
      'permit(principal, action, resource);\n\npermit(principal, action, resource)\n  when { principal. };\n';
    const refused = await gatehouse('policy', 'set', '--file', file('broken.cedar', broken), '--json');
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('line 4');
    expect(refused.stderr).toContain('unexpected token');
    expect(await get()).toEqual({ version: 1, text: readOnly, schema: null });
    const history = await gatehouse('policy', 'history', '--json');
    expect(history.json<unknown[]>()).toHaveLength(1);
  });

  it('stops a policy set that does not validate against its schema from becoming active', async () => {
    const schema = file(
      'app.cedarschema',
      `entity user { tier?: String };
entity document { owner: user, archived: Bool };
action read, delete appliesTo { principal: user, resource: document };
`,
    );
    const invalid = await gatehouse(
      'policy',
      'set',
      '--file',
      file(
        'typo.cedar',
        'permit(principal, action == Action::"read", resource)\n  when { resource.ownr == principal };\n',
      ),
      '--schema',
      schema,
    );
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('does not validate against the schema');
    expect(invalid.stderr).toContain('line 2');
    expect(invalid.stderr).toContain('ownr');
    expect((await get()).version).toBe(1);

    // An action the schema does not declare is a validation error too.
    const unknownAction = await gatehouse(
      'policy',
      'set',
      '--file',
      file('unknown-action.cedar', 'permit(principal, action == Action::"publish", resource);\n'),
      '--schema',
      schema,
    );
    expect(unknownAction.code).toBe(2);
    expect((await get()).version).toBe(1);

    const valid = await gatehouse(
      'policy',
      'set',
      '--file',
      file('v2.cedar', readOnly),
      '--schema',
      schema,
      '--json',
    );
    expect(valid.code).toBe(0);
    expect(valid.json()).toMatchObject({ version: 2, schema: true });
    expect(await get()).toEqual({
      version: 2,
      text: readOnly,
      schema: expect.stringContaining('entity document') as unknown as string,
    });
  });

  it('stops a schema that does not parse, and a file that cannot be read, with exit 2', async () => {
    const badSchema = await gatehouse(
      'policy',
      'set',
      '--file',
      file('ok.cedar', 'permit(principal, action, resource);'),
      '--schema',
      file('bad.cedarschema', 'entity user {'),
    );
    expect(badSchema.code).toBe(2);
    expect(badSchema.stderr).toContain('schema');
    const missing = await gatehouse('policy', 'set', '--file', join(dir, 'nope.cedar'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.cedar');
    expect((await get()).version).toBe(2);
  });

  it('keeps every version with who made it and when, newest first, and audits each change', async () => {
    const history = await gatehouse('policy', 'history', '--json');
    expect(history.code).toBe(0);
    const entries = history.json<
      {
        version: number;
        created_at: string;
        created_by: string;
        restored_from: number | null;
        active: boolean;
      }[]
    >();
    expect(entries.map((entry) => [entry.version, entry.created_by, entry.active])).toEqual([
      [2, 'cli', true],
      [1, 'cli', false],
    ]);
    expect(Date.parse(entries[0]!.created_at)).toBeGreaterThanOrEqual(Date.parse(entries[1]!.created_at));
    const { rows } = await server.pool.query<{ actor: string; details: { version: number; action: string } }>(
      "SELECT actor, details FROM audit_events WHERE type = 'policy.changed' ORDER BY at",
    );
    expect(rows.map((row) => [row.actor, row.details.action, row.details.version])).toEqual([
      ['cli', 'policy.set', 1],
      ['cli', 'policy.set', 2],
    ]);
  });

  it('rolls back to an older version as a new version, and refuses one that does not exist', async () => {
    const denyAll = file('deny.cedar', '@id("freeze") forbid(principal, action, resource);\n');
    expect((await gatehouse('policy', 'set', '--file', denyAll, '--json')).json()).toMatchObject({
      version: 3,
    });
    const rolled = await gatehouse('policy', 'rollback', '1', '--json');
    expect(rolled.code).toBe(0);
    expect(rolled.json()).toMatchObject({ version: 4, restored_from: 1 });
    expect(await get()).toEqual({ version: 4, text: readOnly, schema: null });
    const missing = await gatehouse('policy', 'rollback', '99');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no policy set version 99');
    expect((await gatehouse('policy', 'rollback', 'two')).code).toBe(2);
    expect((await get()).version).toBe(4);
    const old = await gatehouse('policy', 'get', '--version', '3', '--json');
    expect(old.json()).toMatchObject({ version: 3, text: expect.stringContaining('freeze') as unknown });
    const history = (await gatehouse('policy', 'history', '--json')).json<
      { version: number; restored_from: number | null }[]
    >();
    expect(history[0]).toMatchObject({ version: 4, restored_from: 1 });
  });
});

describe('a running server', () => {
  it('caches the active policy set (a change that does not notify is not seen before the next poll)', async () => {
    expect(await check('read')).toMatchObject({ decision: true, version: 4 });
    expect(await check('read')).toMatchObject({ decision: true, version: 4 });
    // Written behind the trigger's back: nothing tells the server.
    await server.pool.query(
      'ALTER TABLE authz_policy_versions DISABLE TRIGGER authz_policy_versions_version',
    );
    try {
      await server.pool.query(
        "INSERT INTO authz_policy_versions (version, text, created_by) VALUES (5, 'forbid(principal, action, resource);', 'test')",
      );
    } finally {
      await server.pool.query(
        'ALTER TABLE authz_policy_versions ENABLE TRIGGER authz_policy_versions_version',
      );
    }
    expect(await check('read')).toMatchObject({ decision: true, version: 4 });
  });

  it('sees a policy set the CLI stores on its very next decision', async () => {
    const frozen = file(
      'freeze.cedar',
      '@id("freeze") forbid(principal, action == Action::"read", resource);\n',
    );
    expect((await gatehouse('policy', 'set', '--file', frozen, '--json')).json()).toMatchObject({
      version: 6,
    });
    expect(await check('read')).toEqual({ decision: false, policies: ['freeze'], errors: [], version: 6 });
    expect((await gatehouse('policy', 'rollback', '1')).code).toBe(0);
    expect(await check('read')).toMatchObject({ decision: true, policies: ['gatehouse:rbac'], version: 7 });
  });

  it('sees a resource the CLI stores or changes on its very next decision', async () => {
    const doc = { type: 'document', id: 'd9' };
    expect(await check('edit', doc)).toMatchObject({ decision: false });
    expect(await check('edit', doc)).toMatchObject({ decision: false });
    const owner = `owner:={"__entity": {"type": "user", "id": "${sub}"}}`;
    expect(
      (await gatehouse('resource', 'put', '--type', 'document', '--id', 'd9', '--attribute', owner)).code,
    ).toBe(0);
    expect(await check('edit', doc)).toMatchObject({ decision: true, policies: ['owners'] });
    expect(await check('delete', doc)).toMatchObject({ decision: true, policies: ['owners'] });
    const archived = await gatehouse(
      'resource',
      'put',
      '--type',
      'document',
      '--id',
      'd9',
      '--attribute',
      owner,
      '--attribute',
      'archived:=true',
    );
    expect(archived.code).toBe(0);
    expect(await check('delete', doc)).toMatchObject({ decision: false, policies: ['archived'] });
    expect((await gatehouse('resource', 'delete', '--type', 'document', '--id', 'd9')).code).toBe(0);
    expect(await check('edit', doc)).toMatchObject({ decision: false });
  });

  it('keeps answering with the active set when the CLI is refused a bad one', async () => {
    const refused = await gatehouse('policy', 'set', '--file', file('bad2.cedar', 'permit(principal'));
    expect(refused.code).toBe(2);
    expect(await check('read')).toMatchObject({ decision: true, version: 7 });
  });
});
