import { createRoleHolderQueries } from '../../src/queries/role-holder-queries.ts';
import { adminApiToken } from '../support/admin-access.ts';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * Directory data for policies (issue 14, step 1): accounts with a chosen `sub` and typed custom attributes,
 * permissions held directly, and nested groups whose members inherit roles and permissions. Through the library,
 * the `gatehouse` command line (as a process, on the same database) and the admin API.
 */
let gh: TestGatehouse;
let env: NodeJS.ProcessEnv;
let token: string;
const gatehouse = (...args: string[]) => runCli(args, env);
const password = 'long enough password';

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return (await gh.pool.query(sql, params)).rowCount ?? 0;
}

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gh.url}/admin/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

beforeAll(async () => {
  gh = await startTestGatehouse({ hot: 'memory' });
  const { rbac } = gh.gatehouse;
  await rbac.createRole('editor', { permissions: ['articles:read', 'articles:write'] });
  await rbac.createRole('auditor', { permissions: ['audit:read'] });
  token = await adminApiToken(gh);
  env = cliEnvironment(gh.database.url);
}, 60_000);

afterAll(() => gh.close());

describe('user create --id and --attribute', () => {
  it('creates an account with a given sub and typed attributes', async () => {
    const created = await gatehouse(
      'user',
      'create',
      '--email',
      'mia@example.com',
      '--password',
      password,
      '--id',
      'auth0|5f7c8ec7a1b2',
      '--attribute',
      'tier=gold',
      '--attribute',
      'seats:=5',
      '--attribute',
      'tags:=["a","b"]',
      '--attribute',
      'limits:={"daily": 2.5, "eu": true}',
      '--attribute',
      'zip=01234',
      '--json',
    );
    expect(created.code).toBe(0);
    const attributes = {
      tier: 'gold',
      seats: 5,
      tags: ['a', 'b'],
      limits: { daily: 2.5, eu: true },
      zip: '01234',
    };
    expect(created.json()).toMatchObject({ id: 'auth0|5f7c8ec7a1b2', email: 'mia@example.com', attributes });
    expect(await gh.gatehouse.accounts.findById('auth0|5f7c8ec7a1b2')).toMatchObject({
      email: 'mia@example.com',
      attributes,
    });
    // Signing in gives the account the sub it was created with.
    expect((await gh.gatehouse.accounts.authenticate('mia@example.com', password))?.id).toBe(
      'auth0|5f7c8ec7a1b2',
    );
  });

  it('accepts a UUID and makes one by default', async () => {
    const uuid = '0b7e3b9e-3c1f-4b8e-9a55-2f1c3d4e5f60';
    const given = await gatehouse(
      'user',
      'create',
      '--email',
      'uma@example.com',
      '--password',
      password,
      '--id',
      uuid,
      '--json',
    );
    expect(given.json()).toMatchObject({ id: uuid, attributes: {} });
    const made = await gatehouse(
      'user',
      'create',
      '--email',
      'una@example.com',
      '--password',
      password,
      '--json',
    );
    expect(made.json<{ id: string }>().id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
  });

  it.each([
    [['--id', 'plain-client-like_id'], 'could be a client id', 'id'],
    [['--id', 'has space|x'], 'printable ASCII', 'id'],
    [['--id', 'auth0|5f7c8ec7a1b2'], 'already exists', 'id'],
    [['--attribute', 'email=evil@example.com'], '"email" is a built-in attribute', 'email'],
    [['--attribute', 'sub=someone-else'], '"sub" is a built-in attribute', 'sub'],
    [['--attribute', 'permissions:=["admin:write"]'], '"permissions" is a built-in attribute', 'permissions'],
    [['--attribute', 'email_verified:=true'], 'built-in attribute', 'email_verified'],
    [['--attribute', 'name=x'], 'built-in attribute', 'name'],
    [['--attribute', 'tier:={not json'], 'not JSON', 'tier'],
    [['--attribute', 'tier:=null'], 'has no value', 'tier'],
    [['--attribute', 'no-equals-sign'], 'expected NAME=VALUE', 'attribute'],
    [['--attribute', '1st=x'], 'not a valid attribute name', '1st'],
  ])('refuses %j with exit code 2 and writes nothing', async (extra, message) => {
    const before = await count('SELECT 1 FROM accounts');
    const result = await gatehouse(
      'user',
      'create',
      '--email',
      'nobody@example.com',
      '--password',
      password,
      ...extra,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(await count('SELECT 1 FROM accounts')).toBe(before);
  });
});

describe('user update', () => {
  it('sets, replaces and removes attributes, keeping the others', async () => {
    const updated = await gatehouse(
      'user',
      'update',
      '--email',
      'MIA@example.com',
      '--attribute',
      'tier=platinum',
      '--attribute',
      'country=NO',
      '--remove-attribute',
      'seats',
      '--remove-attribute',
      'never-there',
      '--json',
    );
    expect(updated.code).toBe(0);
    expect(updated.json<{ attributes: unknown }>().attributes).toEqual({
      tier: 'platinum',
      country: 'NO',
      tags: ['a', 'b'],
      limits: { daily: 2.5, eu: true },
      zip: '01234',
    });
  });

  it('refuses a built-in name, or a name both set and removed, changing nothing', async () => {
    for (const args of [
      ['--attribute', 'email=x@example.com'],
      ['--attribute', 'tier=x', '--remove-attribute', 'tier'],
    ]) {
      const result = await gatehouse('user', 'update', '--email', 'mia@example.com', ...args);
      expect(result.code).toBe(2);
    }
    expect((await gh.gatehouse.accounts.getByEmail('mia@example.com')).attributes).toMatchObject({
      tier: 'platinum',
    });
    expect(
      (await gatehouse('user', 'update', '--email', 'ghost@example.com', '--attribute', 'a=b')).code,
    ).toBe(2);
  });
});

describe('user grant and revoke', () => {
  it('gives and takes a permission held directly', async () => {
    const granted = await gatehouse(
      'user',
      'grant',
      '--email',
      'una@example.com',
      '--permission',
      'reports:export',
      '--json',
    );
    expect(granted.code).toBe(0);
    expect(granted.json()).toMatchObject({ permissions: ['reports:export'] });
    const una = await gh.gatehouse.accounts.getByEmail('una@example.com');
    expect((await gh.gatehouse.rbac.effectiveAccess({ accountId: una.id })).permissions).toEqual([
      'reports:export',
    ]);
    const explained = await gatehouse(
      'explain',
      '--email',
      'una@example.com',
      '--permission',
      'reports:export',
      '--json',
    );
    expect(explained.json()).toMatchObject({ granted: true, direct: true, via: [], viaGroups: [] });

    const revoked = await gatehouse(
      'user',
      'revoke',
      '--email',
      'una@example.com',
      '--permission',
      'reports:export',
      '--json',
    );
    expect(revoked.json()).toMatchObject({ permissions: [] });
    expect((await gh.gatehouse.rbac.effectiveAccess({ accountId: una.id })).permissions).toEqual([]);
    const again = await gatehouse(
      'user',
      'revoke',
      '--email',
      'una@example.com',
      '--permission',
      'reports:export',
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('does not hold reports:export directly');
    expect(
      (await gatehouse('user', 'grant', '--email', 'una@example.com', '--permission', 'has space')).code,
    ).toBe(2);
  });
});

describe('groups', () => {
  it('nest: members inherit the roles and permissions of their groups and of the groups above', async () => {
    expect(
      (await gatehouse('group', 'create', 'staff', '--permission', 'wiki:read', '--role', 'auditor')).code,
    ).toBe(0);
    const writers = await gatehouse(
      'group',
      'create',
      'writers',
      '--role',
      'editor',
      '--permission',
      'drafts:create',
      '--parent',
      'staff',
      '--json',
    );
    expect(writers.code).toBe(0);
    expect(writers.json()).toMatchObject({
      name: 'writers',
      roles: ['editor'],
      permissions: ['drafts:create'],
      parents: ['staff'],
    });
    expect((await gatehouse('group', 'create', 'interns', '--parent', 'writers')).code).toBe(0);

    const added = await gatehouse('group', 'add-member', 'interns', '--email', 'mia@example.com', '--json');
    expect(added.code).toBe(0);
    expect(added.json()).toMatchObject({ groups: ['interns'] });

    const mia = 'auth0|5f7c8ec7a1b2';
    expect(await gh.gatehouse.rbac.effectiveAccess({ accountId: mia })).toEqual({
      roles: ['auditor', 'editor'],
      permissions: ['audit:read', 'articles:read', 'articles:write', 'wiki:read', 'drafts:create'],
    });
    expect(await gh.gatehouse.rbac.rolesOfAccount(mia)).toEqual(['auditor', 'editor']);
    expect(await gh.gatehouse.rbac.directRolesOfAccount(mia)).toEqual([]);

    const listed = await gatehouse('group', 'list', '--json');
    expect(listed.json()).toEqual([
      expect.objectContaining({ name: 'interns', parents: ['writers'], memberCount: 1 }),
      expect.objectContaining({ name: 'staff', parents: [], roles: ['auditor'], memberCount: 0 }),
      expect.objectContaining({ name: 'writers', parents: ['staff'], memberCount: 0 }),
    ]);
    expect((await gatehouse('group', 'show', 'interns', '--json')).json()).toMatchObject({
      members: ['mia@example.com'],
    });

    const explained = (
      await gatehouse('explain', '--email', 'mia@example.com', '--permission', 'articles:write', '--json')
    ).json<{ granted: boolean; via: string[]; reason: string }>();
    expect(explained).toMatchObject({ granted: true, via: ['editor'], viaGroups: [], direct: false });
    expect(explained.reason).toContain('role editor (through group writers)');
    const wiki = (
      await gatehouse('explain', '--email', 'mia@example.com', '--permission', 'wiki:read', '--json')
    ).json();
    expect(wiki).toMatchObject({ granted: true, via: [], viaGroups: ['staff'] });
  });

  it('refuses a parent that would make a cycle, and a group as its own parent, changing nothing', async () => {
    const cycle = await gatehouse('group', 'update', 'staff', '--add-parent', 'interns');
    expect(cycle.code).toBe(2);
    expect(cycle.stderr).toContain('cycle');
    const self = await gatehouse('group', 'update', 'staff', '--add-parent', 'staff');
    expect(self.code).toBe(2);
    expect((await gatehouse('group', 'create', 'loop', '--parent', 'loop')).code).toBe(2);
    expect(await count('SELECT 1 FROM group_parents WHERE group_name = $1', ['staff'])).toBe(0);
    expect(await gh.gatehouse.rbac.groups.get('staff')).toMatchObject({ parents: [] });
  });

  it('refuses unknown roles, parents and groups, bad names and a second group of one name', async () => {
    for (const [args, message] of [
      [['group', 'create', 'g1', '--role', 'no-such-role'], 'no role named no-such-role'],
      [['group', 'create', 'g2', '--parent', 'no-such-group'], 'no group named no-such-group'],
      [['group', 'create', '-bad name'], ''],
      [['group', 'create', 'bad name'], 'not a valid group name'],
      [['group', 'create', 'staff'], 'already exists'],
      [['group', 'add-member', 'no-such-group', '--email', 'mia@example.com'], 'no group named'],
      [['group', 'add-member', 'staff', '--email', 'ghost@example.com'], 'no account'],
      [['group', 'remove-member', 'staff', '--email', 'mia@example.com'], 'not a member'],
    ] as const) {
      const result = await gatehouse(...args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
    }
    expect(await count("SELECT 1 FROM groups WHERE name IN ('g1', 'g2')")).toBe(0);
  });

  it('changes and removes what members inherit', async () => {
    const mia = 'auth0|5f7c8ec7a1b2';
    expect(
      (await gatehouse('group', 'update', 'writers', '--remove-parent', 'staff', '--remove-role', 'editor'))
        .code,
    ).toBe(0);
    expect(await gh.gatehouse.rbac.effectiveAccess({ accountId: mia })).toEqual({
      roles: [],
      permissions: ['drafts:create'],
    });
    expect((await gatehouse('group', 'update', 'writers', '--add-parent', 'staff')).code).toBe(0);
    expect((await gatehouse('group', 'remove-member', 'interns', '--email', 'mia@example.com')).code).toBe(0);
    expect(await gh.gatehouse.rbac.effectiveAccess({ accountId: mia })).toEqual({
      roles: [],
      permissions: [],
    });
  });

  it('counts roles held through groups where SQL asks who holds a role', async () => {
    const holders = createRoleHolderQueries(gh.pool);
    expect(await holders.anyAccountHolds('auditor')).toBe(false);
    expect((await gatehouse('group', 'create', 'audit-team', '--role', 'auditor')).code).toBe(0);
    expect((await gatehouse('group', 'create', 'audit-juniors', '--parent', 'audit-team')).code).toBe(0);
    expect(await holders.anyAccountHolds('auditor')).toBe(false);
    expect((await gatehouse('group', 'add-member', 'audit-juniors', '--email', 'una@example.com')).code).toBe(
      0,
    );
    expect(await holders.anyAccountHolds('auditor')).toBe(true);
    const una = await gh.gatehouse.accounts.getByEmail('una@example.com');
    const { rows } = await gh.pool.query<{ role: string }>('SELECT gatehouse_account_roles($1) AS role', [
      una.id,
    ]);
    expect(rows.map((row) => row.role)).toEqual(['auditor']);
    expect((await gatehouse('group', 'delete', 'audit-team')).code).toBe(0);
    expect(await holders.anyAccountHolds('auditor')).toBe(false);
    expect(await gh.gatehouse.rbac.groups.get('audit-juniors')).toMatchObject({ parents: [] });
  });
});

describe('the admin API', () => {
  it('creates a user with an id and attributes, and refuses a built-in attribute name naming the field', async () => {
    const created = await admin('POST', '/users', {
      email: 'api-user@example.com',
      password,
      id: 'legacy:42',
      attributes: { department: 'sales', level: 3 },
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      id: 'legacy:42',
      attributes: { department: 'sales', level: 3 },
    });

    const refused = await admin('POST', '/users', {
      email: 'api-user2@example.com',
      password,
      attributes: { email_verified: true },
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: 'invalid_request',
      field: 'attributes.email_verified',
    });
    const clientLike = await admin('POST', '/users', { email: 'api-user3@example.com', password, id: 'web' });
    expect(clientLike.status).toBe(400);
    expect(await clientLike.json()).toMatchObject({ field: 'id' });
    expect(await gh.gatehouse.accounts.findByEmail('api-user2@example.com')).toBeUndefined();

    const patched = await admin('PATCH', '/users/legacy:42', {
      attributes: { level: 4 },
      removeAttributes: ['department'],
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ attributes: { level: 4 } });
  });

  it('manages groups, members and direct permissions', async () => {
    const group = await admin('POST', '/groups', {
      name: 'sales',
      roles: ['editor'],
      permissions: ['leads:read'],
      parents: ['staff'],
    });
    expect(group.status).toBe(201);
    expect(await group.json()).toMatchObject({ name: 'sales', parents: ['staff'], memberCount: 0 });
    expect((await admin('POST', '/groups/sales/members', { email: 'api-user@example.com' })).status).toBe(
      200,
    );
    expect((await admin('POST', '/users/legacy:42/permissions', { permission: 'quotes:sign' })).status).toBe(
      200,
    );

    const user = (await (await admin('GET', '/users/legacy:42')).json()) as Record<string, unknown>;
    expect(user).toMatchObject({
      roles: [],
      groups: ['sales'],
      directPermissions: ['quotes:sign'],
      effective: {
        roles: ['auditor', 'editor'],
        permissions: [
          'audit:read',
          'articles:read',
          'articles:write',
          'leads:read',
          'wiki:read',
          'quotes:sign',
        ],
      },
    });
    expect(await (await admin('GET', '/groups/sales')).json()).toMatchObject({
      members: [{ id: 'legacy:42', email: 'api-user@example.com' }],
    });

    const cycle = await admin('PATCH', '/groups/staff', { addParents: ['sales'] });
    expect(cycle.status).toBe(400);
    expect(await cycle.json()).toMatchObject({ field: 'parent' });
    const unknownField = await admin('POST', '/groups', { name: 'x', owner: 'me' });
    expect(unknownField.status).toBe(400);

    expect((await admin('DELETE', '/groups/sales/members/legacy:42')).status).toBe(200);
    expect((await admin('DELETE', '/users/legacy:42/permissions/quotes:sign')).status).toBe(200);
    expect(await gh.gatehouse.rbac.effectiveAccess({ accountId: 'legacy:42' })).toEqual({
      roles: [],
      permissions: [],
    });
    expect((await admin('DELETE', '/groups/sales')).status).toBe(204);
    expect((await admin('GET', '/groups/sales')).status).toBe(404);
    const paths = ((await (await fetch(`${gh.url}/admin/api/openapi.json`)).json()) as { paths: object })
      .paths;
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining([
        '/groups',
        '/groups/{name}',
        '/groups/{name}/members',
        '/users/{id}/permissions',
      ]),
    );
  });
});
