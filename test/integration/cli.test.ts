import { readdirSync } from 'node:fs';
import pg from 'pg';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { createTestDatabase, type TestDatabase } from '../support/services.ts';

/** The `gatehouse` command line as outside tooling drives it: the contract's shapes, --json, exit codes. */
let database: TestDatabase;
let env: NodeJS.ProcessEnv;
const gatehouse = (...args: string[]) => runCli(args, env);

async function count(table: string): Promise<number> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const { rows } = await client.query<{ count: string }>(`SELECT count(*) FROM ${table}`);
  await client.end();
  return Number(rows[0]!.count);
}

beforeAll(async () => {
  database = await createTestDatabase();
  env = cliEnvironment(database.url);
  const migrations = readdirSync(new URL('../../migrations/', import.meta.url)).map((file) =>
    file.replace(/\.sql$/, ''),
  );
  expect((await gatehouse('migrate', '--json')).json()).toEqual({ applied: migrations.sort() });
  expect((await gatehouse('migrate', '--json')).json()).toEqual({ applied: [] });
}, 60_000);

afterAll(() => database.drop());

describe('gatehouse user', () => {
  it('creates a user with roles and lists it', async () => {
    const created = await gatehouse(
      'user',
      'create',
      '--email',
      'Lin@Example.com',
      '--password',
      'long enough password',
      '--name',
      'Lin',
      '--role',
      'admin',
      '--json',
    );
    expect(created.code).toBe(0);
    expect(created.json()).toMatchObject({
      email: 'Lin@Example.com',
      name: 'Lin',
      roles: ['admin'],
      id: expect.any(String),
    });
    const listed = await gatehouse('user', 'list', '--json');
    expect(listed.json<{ email: string }[]>().map((user) => user.email)).toContain('Lin@Example.com');
  });

  it('refuses a second account for the same email in any case, with exit code 2 and nothing written', async () => {
    const before = await count('accounts');
    const again = await gatehouse(
      'user',
      'create',
      '--email',
      'lin@example.COM',
      '--password',
      'long enough password',
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
    expect(await count('accounts')).toBe(before);
  });

  it.each([
    [
      ['user', 'create', '--email', 'not-an-email', '--password', 'long enough password'],
      'is not an email address',
    ],
    [['user', 'create', '--email', 'short@example.com', '--password', 'short'], 'at least 15 characters'],
    [
      ['user', 'create', '--email', 'common@example.com', '--password', '1qaz2wsx3edc4rfv'],
      'common or breached passwords',
    ],
    [
      ['user', 'create', '--email', 'jonathan@example.com', '--password', 'jonathan-is-my-password'],
      'must not contain your email',
    ],
    [
      [
        'user',
        'create',
        '--email',
        'role@example.com',
        '--password',
        'long enough password',
        '--role',
        'ghost',
      ],
      'no role named ghost',
    ],
    [
      ['user', 'create', '--password', 'long enough password'],
      "required option '--email <email>' not specified",
    ],
    [
      ['user', 'create', '--email', 'x@example.com', '--password', 'long enough password', '--colour', 'red'],
      "unknown option '--colour'",
    ],
    [['user', 'frobnicate'], "unknown command 'frobnicate'"],
  ])('answers %j with exit code 2 naming the problem, and writes nothing', async (args, message) => {
    const before = await count('accounts');
    const result = await gatehouse(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
    expect(await count('accounts')).toBe(before);
  });
});

describe('gatehouse client', () => {
  it('creates a confidential client, printing the generated secret once', async () => {
    const created = await gatehouse(
      'client',
      'create',
      '--id',
      'billing',
      '--redirect-uri',
      'https://billing.example.com/cb',
      '--redirect-uri',
      'http://127.0.0.1:5000/cb',
      '--json',
    );
    expect(created.code).toBe(0);
    expect(created.json()).toMatchObject({
      id: 'billing',
      public: false,
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: ['https://billing.example.com/cb', 'http://127.0.0.1:5000/cb'],
      secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    const listed = await gatehouse('client', 'list', '--json');
    const billing = listed.json<Record<string, unknown>[]>().find((client) => client.id === 'billing');
    expect(billing).toBeDefined();
    expect(billing).not.toHaveProperty('secret');
  });

  it('stores client secrets sealed, never in plain text', async () => {
    await gatehouse(
      'client',
      'create',
      '--id',
      'sealed',
      '--secret',
      'plain-text-secret-0123',
      '--redirect-uri',
      'https://s.example.com/cb',
    );
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ row: string }>(
      "SELECT row_to_json(c)::text AS row FROM clients c WHERE id = 'sealed'",
    );
    await client.end();
    expect(rows[0]!.row).not.toContain('plain-text-secret-0123');
  });

  it('creates public, first-party, service and device clients', async () => {
    const spa = await gatehouse(
      'client',
      'create',
      '--id',
      'spa',
      '--public',
      '--first-party',
      '--redirect-uri',
      'http://localhost:5173/cb',
      '--json',
    );
    expect(spa.json()).toMatchObject({ public: true, firstParty: true });
    expect(spa.json()).not.toHaveProperty('secret');
    const service = await gatehouse(
      'client',
      'create',
      '--id',
      'worker',
      '--grant-type',
      'client_credentials',
      '--role',
      'admin',
      '--json',
    );
    expect(service.json()).toMatchObject({ grantTypes: ['client_credentials'], roles: ['admin'] });
  });

  it.each([
    [['client', 'create', '--id', 'no-redirect'], 'needs at least one --redirect-uri'],
    [['client', 'create', '--id', 'bad uri', '--redirect-uri', 'https://x.example.com/cb'], 'client id'],
    [
      ['client', 'create', '--id', 'frag', '--redirect-uri', 'https://x.example.com/cb#f'],
      'must not have a fragment',
    ],
    [
      [
        'client',
        'create',
        '--id',
        'grant',
        '--grant-type',
        'password',
        '--redirect-uri',
        'https://x.example.com/cb',
      ],
      'unsupported grant type "password"',
    ],
    [
      [
        'client',
        'create',
        '--id',
        'ghost-role',
        '--redirect-uri',
        'https://x.example.com/cb',
        '--role',
        'ghost',
      ],
      'no role named ghost',
    ],
    [['client', 'create', '--id', 'billing', '--redirect-uri', 'https://x.example.com/cb'], 'already exists'],
  ])('answers %j with exit code 2 and writes nothing', async (args, message) => {
    const before = await count('clients');
    const result = await gatehouse(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(await count('clients')).toBe(before);
  });
});

describe('gatehouse role, api and keys', () => {
  it('creates roles, grants permissions, and assigns and removes them', async () => {
    expect(
      (
        await gatehouse(
          'role',
          'create',
          'editor',
          '--permission',
          'articles:read',
          '--permission',
          'articles:write',
          '--description',
          'Edits articles',
          '--json',
        )
      ).json(),
    ).toMatchObject({
      name: 'editor',
      permissions: ['articles:read', 'articles:write'],
    });
    expect(
      (await gatehouse('role', 'grant', 'editor', '--permission', 'articles:publish', '--json')).json(),
    ).toMatchObject({
      permissions: ['articles:publish', 'articles:read', 'articles:write'],
    });
    const roles = (await gatehouse('role', 'list', '--json')).json<{ name: string }[]>();
    expect(roles.map((role) => role.name)).toEqual(['admin', 'editor']);
    expect(
      (await gatehouse('user', 'assign-role', '--email', 'lin@example.com', '--role', 'editor')).code,
    ).toBe(0);
    expect(
      (await gatehouse('user', 'remove-role', '--email', 'lin@example.com', '--role', 'editor')).code,
    ).toBe(0);
    const twice = await gatehouse('user', 'remove-role', '--email', 'lin@example.com', '--role', 'editor');
    expect(twice.code).toBe(2);
  });

  it('registers an API with its permissions and token format', async () => {
    const created = await gatehouse(
      'api',
      'create',
      '--identifier',
      'https://api.example.com/articles',
      '--permission',
      'articles:read',
      '--format',
      'opaque',
      '--json',
    );
    expect(created.json()).toMatchObject({
      identifier: 'https://api.example.com/articles',
      format: 'opaque',
      permissions: ['articles:read'],
    });
    const bad = await gatehouse('api', 'create', '--identifier', 'not a uri');
    expect(bad.code).toBe(2);
    expect(
      (await gatehouse('api', 'create', '--identifier', 'https://x.example.com', '--format', 'xml')).code,
    ).toBe(2);
  });

  it('rotates keys: the next key is published before it signs', async () => {
    const before = (await gatehouse('keys', 'list', '--json')).json<{ kid: string; status: string }[]>();
    const rotated = await gatehouse('keys', 'rotate', '--activate-in', '600', '--json');
    expect(rotated.code).toBe(0);
    const after = (await gatehouse('keys', 'list', '--json')).json<
      { kid: string; alg: string; status: string }[]
    >();
    expect(after).toHaveLength(before.length * 2);
    expect(
      after
        .filter((key) => key.status === 'next')
        .map((key) => key.alg)
        .sort(),
    ).toEqual(['ES256', 'RS256']);
    expect(
      after
        .filter((key) => key.status === 'signing')
        .map((key) => key.kid)
        .sort(),
    ).toEqual(before.map((key) => key.kid).sort());
    const audit = (await gatehouse('audit', '--since', '5m', '--type', 'keys.rotated', '--json')).json<
      { actor: string }[]
    >();
    expect(audit).toEqual([expect.objectContaining({ actor: 'cli' })]);
  });
});
