import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { createPool, type Pool } from '../../src/db/pg-pool.ts';
import { AppError } from '../../src/errors/app-error.ts';
import type { DecisionRequest } from '../../src/libraries/authz/decisions.ts';
import { createLibraries, type Libraries } from '../../src/libraries/create-libraries.ts';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { createTestDatabase, type TestDatabase } from '../support/services.ts';
import { silentLog, testSecret } from '../support/test-gatehouse.ts';

/**
 * Decisions end to end over a real directory: the contract's mapping from a request to Cedar entities (accounts
 * with their roles, groups and attributes; stored resources with their relation sets and parents; request
 * properties and context), the RBAC rule and the `forbid`s that restrict it, and the four worked examples of the
 * README (CMS, Drive-style sharing, ABAC on tier and country, a bank's recent second factor).
 */
let database: TestDatabase;
let dataDir: string;
let env: NodeJS.ProcessEnv;
let pool: Pool;
let libraries: Libraries;
const gatehouse = (...args: string[]) => runCli(args, env);
const ids: Record<string, string> = {};

const policies = `
// The CMS: writers edit their own posts, editors publish, admins delete; an archived post is frozen.
@id("cms-writers-edit-own")
permit(principal in role::"writer", action == Action::"edit", resource is post)
  when { resource has author && resource.author == principal };
@id("cms-editors-publish")
permit(principal in group::"editors", action == Action::"publish", resource is post);
@id("cms-admins-delete")
permit(principal in role::"cms-admin", action == Action::"delete", resource is post);
@id("cms-archived-frozen")
forbid(principal, action in [Action::"edit", Action::"publish"], resource is post)
  when { resource has archived && resource.archived };

// Drive: owners do everything, viewers view, editors view and edit; everything under folder::"public" is public.
@id("drive-owner")
permit(principal, action in [Action::"view", Action::"edit", Action::"share"], resource is file)
  when { resource has owner && resource.owner == principal };
@id("drive-viewers")
permit(principal, action == Action::"view", resource is file)
  when { (resource has viewers && principal in resource.viewers) || (resource has editors && principal in resource.editors) };
@id("drive-editors")
permit(principal, action == Action::"edit", resource is file)
  when { resource has editors && principal in resource.editors };
@id("drive-public")
permit(principal, action == Action::"view", resource in folder::"public");

// Streaming: the subscription tier decides, and only where the title is licensed.
@id("streaming-tier")
permit(principal, action == Action::"stream", resource is video)
  when { principal has tier && resource has tiers && resource.tiers.contains(principal.tier) };
@id("streaming-geo")
forbid(principal, action == Action::"stream", resource is video)
  unless { context has country && resource has countries && resource.countries.contains(context.country) };

// The bank: payout details change only for their holder, within 5 minutes of a second factor.
@id("bank-payout")
permit(principal, action == Action::"change_payout", resource is bank_account)
  when { resource has holder && resource.holder == principal &&
         context has mfa_age_seconds && context.mfa_age_seconds <= 300 };

// Restricting RBAC: a classified resource needs clearance, whatever permission the subject holds.
@id("classified")
forbid(principal, action, resource)
  when { resource has classified && resource.classified && !(principal has clearance && principal.clearance == true) };

@id("small-refunds")
permit(principal, action == Action::"refund", resource is order)
  when { context has amount && context.amount.lessThanOrEqual(decimal("100.0")) };

// Accounts as resources: the directory's entity, with its attributes and groups.
@id("same-country")
permit(principal, action == Action::"view_profile", resource is user)
  when { principal has country && resource has country && principal.country == resource.country };
@id("audit-finance")
permit(principal in role::"cms-admin", action == Action::"audit", resource in group::"finance");

@id("low-risk")
permit(principal, action, resource is sandbox) when { action has risk && action.risk == "low" };

// Attributes named only in a \`has\` path or as a quoted name (Cedar is given only the attributes policies name).
@id("badge-doors")
permit(principal, action == Action::"enter", resource is door)
  when { principal has badge.level && resource has "min level" };
@id("folder-quota")
permit(principal, action == Action::"upload", resource is folder) when { resource.quota > 0 };
@id("record-probe")
permit(principal, action == Action::"peek", resource is door)
  when { context has probe && context.probe == { attr: principal.clearance_level } };
`;

async function account(
  email: string,
  options: { roles?: string[]; attributes?: Record<string, unknown> } = {},
) {
  const created = await libraries.accounts.createWithRoles({
    email,
    password: 'long enough password',
    roles: options.roles ?? [],
    attributes: options.attributes,
  });
  ids[email.split('@')[0]!] = created.id;
  return created.id;
}

const user = (name: string) => ({ type: 'user', id: ids[name]! });
const entity = (name: string) => ({ __entity: user(name) });

function decide(
  subject: DecisionRequest['subject'],
  action: string,
  resource: DecisionRequest['resource'],
  more: { context?: Record<string, unknown>; actionProperties?: Record<string, unknown> } = {},
) {
  return libraries.authz.decisions.check({
    subject,
    action: { name: action, properties: more.actionProperties },
    resource,
    context: more.context,
  });
}

async function refusal(work: Promise<unknown>): Promise<AppError> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).status).toBe(400);
    return error as AppError;
  }
  throw new Error('expected a 400');
}

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateDatabase(database.url, silentLog);
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-decisions-'));
  env = cliEnvironment(database.url);
  pool = createPool({ connectionString: database.url, max: 3 }, () => undefined);
  libraries = createLibraries(
    loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      GATEHOUSE_SECRET: testSecret,
      GATEHOUSE_CONFIG_JSON: JSON.stringify({ dataDir }),
    }),
    pool,
    testSecret,
  );
  const { rbac, authz } = libraries;
  await rbac.createRole('reader', { permissions: ['report:read'] });
  await rbac.createRole('writer', { permissions: ['post:create'] });
  await rbac.createRole('cms-admin', { permissions: ['post:create'] });
  await rbac.createRole('exporter', { permissions: ['report:export'] });
  await rbac.groups.create('editors', { roles: [], permissions: ['post:review'] });
  await rbac.groups.create('junior-editors', { parents: ['editors'] });
  await rbac.groups.create('finance', {});

  await account('rita@example.com', { roles: ['reader'] });
  await account('wanda@example.com', { roles: ['writer'] });
  await account('walt@example.com', { roles: ['writer'] });
  await account('ed@example.com', { roles: ['writer'] });
  await rbac.groups.addMember('junior-editors', ids.ed!);
  await account('adam@example.com', { roles: ['cms-admin'] });
  await account('gina@example.com', { attributes: { tier: 'gold', country: 'DE' } });
  await account('sam@example.com', { attributes: { tier: 'silver' } });
  await account('olga@example.com');
  await account('vic@example.com');
  await account('fin@example.com');
  await rbac.groups.addMember('finance', ids.fin!);
  await account('hank@example.com');
  await account('dirk@example.com', { attributes: { country: 'DE' } });

  const put = (
    type: string,
    id: string,
    attributes: Record<string, unknown>,
    parents: { type: string; id: string }[] = [],
  ) => authz.resources.put({ type, id, attributes, parents }, 'test');
  await put('report', 'secret', { classified: true });
  await put('post', 'wanda-1', { author: entity('wanda') });
  await put('post', 'walt-1', { author: entity('walt') });
  await put('post', 'wanda-old', { author: entity('wanda'), archived: true });
  await put('file', 'plan', { owner: entity('olga') });
  await put('folder', 'public', {});
  await put('folder', 'handbooks', {}, [{ type: 'folder', id: 'public' }]);
  await put('file', 'handbook', {}, [{ type: 'folder', id: 'handbooks' }]);
  await put('video', 'film', { tiers: ['gold', 'platinum'], countries: ['DE', 'FR'] });
  await put('bank_account', 'acc-1', { holder: entity('hank') });
  await authz.policies.set(policies, null, 'test');
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await database?.drop();
  rmSync(dataDir, { force: true, recursive: true });
});

describe('RBAC', () => {
  it('permits a subject the action named like a permission it holds, on any resource', async () => {
    expect(await decide(user('rita'), 'report:read', { type: 'report', id: 'q3' })).toEqual({
      decision: true,
      policies: ['gatehouse:rbac'],
      errors: [],
      version: 1,
    });
    expect(await decide(user('rita'), 'report:write', { type: 'report', id: 'q3' })).toMatchObject({
      decision: false,
      policies: [],
    });
  });

  it('stops a permission from overriding a Cedar forbid (stored attribute or request property)', async () => {
    expect(await decide(user('rita'), 'report:read', { type: 'report', id: 'secret' })).toMatchObject({
      decision: false,
      policies: ['classified'],
    });
    expect(
      await decide(user('rita'), 'report:read', {
        type: 'report',
        id: 'q3',
        properties: { classified: true },
      }),
    ).toMatchObject({ decision: false, policies: ['classified'] });
    // A subject's properties are merged over its account's attributes.
    expect(
      await decide({ ...user('rita'), properties: { clearance: true } }, 'report:read', {
        type: 'report',
        id: 'secret',
      }),
    ).toMatchObject({ decision: true, policies: ['gatehouse:rbac'] });
  });

  it('gives permissions held through a group, and a client its roles’ permissions', async () => {
    expect(await decide(user('ed'), 'post:review', { type: 'post', id: 'x' })).toMatchObject({
      decision: true,
      policies: ['gatehouse:rbac'],
    });
    const created = await gatehouse(
      'client',
      'create',
      '--id',
      'reporting',
      '--secret',
      'reporting-secret-0123456789',
      '--redirect-uri',
      'http://127.0.0.1:9/cb',
      '--role',
      'exporter',
      '--json',
    );
    expect(created.code).toBe(0);
    expect(
      await decide({ type: 'client', id: 'reporting' }, 'report:export', { type: 'report', id: 'q3' }),
    ).toMatchObject({
      decision: true,
      policies: ['gatehouse:rbac'],
    });
    expect(
      await decide({ type: 'client', id: 'unknown-app' }, 'report:export', { type: 'report', id: 'q3' }),
    ).toMatchObject({
      decision: false,
    });
  });

  it('stops a request from claiming a built-in attribute such as permissions for an account', async () => {
    const error = await refusal(
      decide({ ...user('olga'), properties: { permissions: ['report:read'] } }, 'report:read', {
        type: 'report',
        id: 'q3',
      }),
    );
    expect(error.field).toBe('subject.properties.permissions');
  });

  it('denies a disabled account everything, even what is shared with it', async () => {
    await libraries.authz.resources.share(
      { type: 'file', id: 'plan' },
      'viewers',
      { email: 'vic@example.com' },
      'test',
    );
    expect(await decide(user('vic'), 'view', { type: 'file', id: 'plan' })).toMatchObject({ decision: true });
    await libraries.accounts.update(ids.vic!, { status: 'disabled' });
    expect(await decide(user('vic'), 'view', { type: 'file', id: 'plan' })).toMatchObject({
      decision: false,
    });
    await libraries.accounts.update(ids.vic!, { status: 'active' });
  });
});

describe('the CMS (ownership, roles, groups)', () => {
  it('lets writers edit their own posts only', async () => {
    expect(await decide(user('wanda'), 'edit', { type: 'post', id: 'wanda-1' })).toMatchObject({
      decision: true,
      policies: ['cms-writers-edit-own'],
    });
    expect(await decide(user('wanda'), 'edit', { type: 'post', id: 'walt-1' })).toMatchObject({
      decision: false,
    });
  });

  it('lets members of editors publish, through a nested group (principal in group::"editors")', async () => {
    expect(await decide(user('ed'), 'publish', { type: 'post', id: 'walt-1' })).toMatchObject({
      decision: true,
      policies: ['cms-editors-publish'],
    });
    expect(await decide(user('wanda'), 'publish', { type: 'post', id: 'wanda-1' })).toMatchObject({
      decision: false,
    });
  });

  it('lets admins delete other people’s posts, and freezes archived ones', async () => {
    expect(await decide(user('adam'), 'delete', { type: 'post', id: 'walt-1' })).toMatchObject({
      decision: true,
      policies: ['cms-admins-delete'],
    });
    expect(await decide(user('walt'), 'delete', { type: 'post', id: 'walt-1' })).toMatchObject({
      decision: false,
    });
    expect(await decide(user('wanda'), 'edit', { type: 'post', id: 'wanda-old' })).toMatchObject({
      decision: false,
      policies: ['cms-archived-frozen'],
    });
  });
});

describe('Drive-style sharing (relation sets) and parents', () => {
  it('shares a file with a user as viewer and with a group as editor, until it is unshared', async () => {
    const plan = { type: 'file', id: 'plan' };
    expect(await decide(user('olga'), 'edit', plan)).toMatchObject({
      decision: true,
      policies: ['drive-owner'],
    });
    expect(await decide(user('sam'), 'view', plan)).toMatchObject({ decision: false });
    await libraries.authz.resources.share(plan, 'viewers', { email: 'sam@example.com' }, 'test');
    expect(await decide(user('sam'), 'view', plan)).toMatchObject({
      decision: true,
      policies: ['drive-viewers'],
    });
    expect(await decide(user('sam'), 'edit', plan)).toMatchObject({ decision: false });

    await libraries.authz.resources.share(plan, 'editors', { group: 'finance' }, 'test');
    expect(await decide(user('fin'), 'edit', plan)).toMatchObject({
      decision: true,
      policies: ['drive-editors'],
    });
    expect(await decide(user('fin'), 'view', plan)).toMatchObject({
      decision: true,
      policies: ['drive-viewers'],
    });

    await libraries.authz.resources.unshare(plan, 'editors', { group: 'finance' }, 'test');
    await libraries.authz.resources.unshare(plan, 'viewers', { email: 'sam@example.com' }, 'test');
    expect(await decide(user('fin'), 'edit', plan)).toMatchObject({ decision: false });
    expect(await decide(user('sam'), 'view', plan)).toMatchObject({ decision: false });
  });

  it('answers resource in folder::"public" through a chain of stored parents', async () => {
    expect(await decide(user('sam'), 'view', { type: 'file', id: 'handbook' })).toMatchObject({
      decision: true,
      policies: ['drive-public'],
    });
  });
});

describe('ABAC on attributes, request properties and context', () => {
  const film = { type: 'video', id: 'film' };

  it('streams by subscription tier where the title is licensed', async () => {
    expect(await decide(user('gina'), 'stream', film, { context: { country: 'DE' } })).toMatchObject({
      decision: true,
      policies: ['streaming-tier'],
    });
    expect(await decide(user('gina'), 'stream', film, { context: { country: 'US' } })).toMatchObject({
      decision: false,
      policies: ['streaming-geo'],
    });
    expect(await decide(user('sam'), 'stream', film, { context: { country: 'DE' } })).toMatchObject({
      decision: false,
    });
  });

  it('merges request properties over a resource’s stored attributes', async () => {
    expect(
      await decide(
        user('sam'),
        'stream',
        { ...film, properties: { tiers: ['silver'] } },
        { context: { country: 'FR' } },
      ),
    ).toMatchObject({ decision: true });
  });

  it('requires a recent second factor in context to change payout details', async () => {
    const account = { type: 'bank_account', id: 'acc-1' };
    expect(
      await decide(user('hank'), 'change_payout', account, { context: { mfa_age_seconds: 60 } }),
    ).toMatchObject({
      decision: true,
      policies: ['bank-payout'],
    });
    expect(
      await decide(user('hank'), 'change_payout', account, { context: { mfa_age_seconds: 3600 } }),
    ).toMatchObject({
      decision: false,
    });
    expect(await decide(user('hank'), 'change_payout', account)).toMatchObject({ decision: false });
    expect(
      await decide(user('olga'), 'change_payout', account, { context: { mfa_age_seconds: 1 } }),
    ).toMatchObject({
      decision: false,
    });
  });

  it('turns fractional numbers into Cedar decimals, and refuses one that does not fit', async () => {
    const order = { type: 'order', id: 'o1' };
    expect(await decide(user('olga'), 'refund', order, { context: { amount: 99.5 } })).toMatchObject({
      decision: true,
    });
    expect(await decide(user('olga'), 'refund', order, { context: { amount: 100.25 } })).toMatchObject({
      decision: false,
    });
    const error = await refusal(decide(user('olga'), 'refund', order, { context: { amount: 1.23456 } }));
    expect(error.field).toBe('context.amount');
  });

  it('decides on attributes a policy names only in a `has` path, as a quoted name or inside a record', async () => {
    await account('bea@example.com', {
      attributes: { badge: { level: 2 }, clearance_level: 5, unread: 'x' },
    });
    const door = { type: 'door', id: 'lab', properties: { 'min level': 1, colour: 'red' } };
    expect(await decide(user('bea'), 'enter', door)).toMatchObject({
      decision: true,
      policies: ['badge-doors'],
    });
    expect((await decide(user('rita'), 'enter', door)).decision).toBe(false);
    expect((await decide(user('bea'), 'enter', { type: 'door', id: 'lab' })).decision).toBe(false);
    // Inside a record literal whose field is called `attr`.
    const probe = (level: number) =>
      decide(user('bea'), 'peek', door, { context: { probe: { attr: level } } });
    expect(await probe(5)).toMatchObject({ decision: true, policies: ['record-probe'] });
    expect((await probe(4)).decision).toBe(false);
  });

  it('names the error of a policy reading an attribute of an entity with none, as Cedar words it', async () => {
    // folder::"public" has no attributes and no parents: the first evaluation leaves it out, and the error it
    // causes there ("does not exist") must not be what the caller reads.
    expect(await decide(user('rita'), 'upload', { type: 'folder', id: 'public' })).toEqual({
      decision: false,
      policies: [],
      errors: [{ policy: 'folder-quota', message: '`folder::"public"` does not have the attribute `quota`' }],
      version: 1,
    });
  });

  it('gives an action’s properties to Action::"<name>"', async () => {
    const sandbox = { type: 'sandbox', id: 's' };
    expect(await decide(user('olga'), 'run', sandbox, { actionProperties: { risk: 'low' } })).toMatchObject({
      decision: true,
      policies: ['low-risk'],
    });
    expect(await decide(user('olga'), 'run', sandbox, { actionProperties: { risk: 'high' } })).toMatchObject({
      decision: false,
    });
  });
});

describe('unknown and invalid input', () => {
  it('denies an unknown subject or resource instead of failing', async () => {
    expect(
      await decide(
        { type: 'user', id: 'nobody' },
        'stream',
        { type: 'video', id: 'film' },
        { context: { country: 'DE' } },
      ),
    ).toMatchObject({ decision: false });
    expect(await decide(user('olga'), 'view', { type: 'file', id: 'no-such-file' })).toMatchObject({
      decision: false,
    });
    expect(
      await decide({ type: 'robot', id: 'r2' }, 'report:read', { type: 'nothing', id: 'x' }),
    ).toMatchObject({
      decision: false,
    });
  });

  it('stops an entity type that is not a valid Cedar name with a 400 naming the field', async () => {
    expect(
      (await refusal(decide({ type: 'has', id: 'x' }, 'view', { type: 'file', id: 'plan' }))).field,
    ).toBe('subject.type');
    expect((await refusal(decide(user('olga'), 'view', { type: 'my file', id: 'plan' }))).field).toBe(
      'resource.type',
    );
    expect((await refusal(decide(user('olga'), 'view', { type: 'Action', id: 'view' }))).field).toBe(
      'resource.type',
    );
    await refusal(decide(user('olga'), '', { type: 'file', id: 'plan' }));
  });

  it('reads an account named as the resource from the directory (attributes, groups)', async () => {
    expect(await decide(user('gina'), 'view_profile', user('dirk'))).toMatchObject({
      decision: true,
      policies: ['same-country'],
    });
    expect(await decide(user('sam'), 'view_profile', user('dirk'))).toMatchObject({ decision: false });
    expect(await decide(user('adam'), 'audit', user('fin'))).toMatchObject({
      decision: true,
      policies: ['audit-finance'],
    });
    expect(await decide(user('adam'), 'audit', user('dirk'))).toMatchObject({ decision: false });
    expect(
      (
        await refusal(
          decide(user('gina'), 'view_profile', { ...user('dirk'), properties: { email: 'x@example.com' } }),
        )
      ).field,
    ).toBe('resource.properties.email');
  });

  it('answers a subject asking about itself (one entity, no conflict)', async () => {
    expect(await decide(user('olga'), 'view', user('olga'))).toMatchObject({ decision: false });
  });
});

describe('batches', () => {
  it('answers each item over one policy version, an item that cannot be evaluated with its error', async () => {
    const answers = await libraries.authz.decisions.checkMany([
      { subject: user('wanda'), action: { name: 'edit' }, resource: { type: 'post', id: 'wanda-1' } },
      { subject: user('wanda'), action: { name: 'edit' }, resource: { type: 'post', id: 'walt-1' } },
      { subject: user('wanda'), action: { name: 'edit' }, resource: { type: 'not valid', id: 'x' } },
      { subject: user('gina'), action: { name: 'view_profile' }, resource: user('gina'), context: { a: 1 } },
      {
        subject: user('wanda'),
        action: { name: 'edit' },
        resource: { type: 'post', id: 'walt-1', properties: { author: entity('wanda') } },
      },
      { subject: user('wanda'), action: { name: 'edit' }, resource: { type: 'post', id: 'walt-1' } },
    ]);
    expect(answers).toEqual([
      { decision: true, policies: ['cms-writers-edit-own'], errors: [], version: 1 },
      { decision: false, policies: [], errors: [], version: 1 },
      {
        error: {
          code: 'invalid_request',
          message: expect.stringContaining('resource.type') as unknown,
          field: 'resource.type',
        },
      },
      { decision: true, policies: ['same-country'], errors: [], version: 1 },
      { decision: true, policies: ['cms-writers-edit-own'], errors: [], version: 1 },
      // Request properties of one item never leak into another's entities.
      { decision: false, policies: [], errors: [], version: 1 },
    ]);
  });
});

describe('gatehouse authz check', () => {
  it('prints the decision, the policies that decided it and the errors, exactly', async () => {
    const allowed = await gatehouse(
      'authz',
      'check',
      '--subject',
      `user:${ids.gina!}`,
      '--action',
      'stream',
      '--resource',
      'video:film',
      '--context',
      '{"country": "FR"}',
      '--json',
    );
    expect(allowed.code).toBe(0);
    expect(allowed.json()).toEqual({ decision: true, policies: ['streaming-tier'], errors: [] });
    const denied = await gatehouse(
      'authz',
      'check',
      '--subject',
      'user:nobody',
      '--action',
      'stream',
      '--resource',
      'video:film',
      '--json',
    );
    expect(denied.code).toBe(0);
    expect(denied.json()).toMatchObject({ decision: false, policies: ['streaming-geo'] });
  });

  it('takes resource properties and explains the entities it decided on', async () => {
    const result = await gatehouse(
      'authz',
      'check',
      '--subject',
      `user:${ids.rita!}`,
      '--action',
      'report:read',
      '--resource',
      'report:q4',
      '--resource-property',
      'classified:=true',
      '--explain',
      '--json',
    );
    expect(result.code).toBe(0);
    const answer = result.json<{
      decision: boolean;
      policies: string[];
      entities: { uid: unknown; attrs: Record<string, unknown> }[];
    }>();
    expect(answer).toMatchObject({ decision: false, policies: ['classified'] });
    expect(
      answer.entities.find((e) => JSON.stringify(e.uid) === JSON.stringify({ type: 'report', id: 'q4' }))
        ?.attrs,
    ).toEqual({
      classified: true,
    });
    const rita = answer.entities.find((e) => JSON.stringify(e.uid) === JSON.stringify(user('rita')));
    expect(rita?.attrs).toMatchObject({ email: 'rita@example.com', permissions: ['report:read'] });
  });

  it.each([
    [['--subject', 'not a type:x'], '--subject'],
    [['--subject', 'if:x'], '--subject'],
    [['--context', '{not json'], '--context'],
    [['--context', '[1, 2]'], '--context'],
    [['--context', '{"amount": 0.00001}'], 'context.amount'],
  ])('refuses %p with exit 2 naming %s', async (args, named) => {
    const base: Record<string, string> = {
      '--subject': 'user:x',
      '--action': 'view',
      '--resource': 'file:plan',
    };
    for (let i = 0; i < args.length; i += 2) base[args[i]!] = args[i + 1]!;
    const result = await gatehouse('authz', 'check', ...Object.entries(base).flat(), '--json');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(named);
  });
});
