import { createAccountLibrary } from '../../src/libraries/accounts.ts';
import { createClientLibrary } from '../../src/libraries/clients.ts';
import { createPasswordPolicy } from '../../src/libraries/password-policy.ts';
import { createPasswordHasher } from '../../src/libraries/passwords.ts';
import { createSecretBox } from '../../src/libraries/secret-box.ts';
import { createAccountQueries } from '../../src/queries/account-queries.ts';
import { createClientQueries } from '../../src/queries/client-queries.ts';
import { adminApiToken } from '../support/admin-access.ts';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { startTestGatehouse, testSecret, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * "Create a user with roles" and "register a client" are one library call each, shared by the admin API and the
 * CLI, and all or nothing: when a role cannot be written, no account or client is left behind. A trigger refuses
 * the role `doomed` where a holder's role is written, which is the failure that used to strand a role-less account
 * (the role passes the existence check, then its row fails).
 */
let gh: TestGatehouse;
let token: string;
let env: NodeJS.ProcessEnv;
const api = 'https://api.example.com/things';
const gatehouse = (...args: string[]) => runCli(args, env);

async function rows(sql: string, params: unknown[] = []): Promise<number> {
  return (await gh.pool.query(sql, params)).rowCount ?? 0;
}

/** A role check that passes once whatever it is asked (the role is "deleted" after it), then tells the truth. */
function passFirstCheck(check: (names: readonly string[]) => Promise<string[]>) {
  let checked = false;
  return async (names: readonly string[]) => {
    if (checked) return check(names);
    checked = true;
    return [];
  };
}

const adminCall = (path: string, body: unknown) =>
  fetch(`${gh.url}/admin/api${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

beforeAll(async () => {
  gh = await startTestGatehouse({ hot: 'memory' });
  const { rbac } = gh.gatehouse;
  await rbac.createRole('editor', { permissions: ['things:write'] });
  await rbac.createRole('doomed');
  await rbac.createApi({ identifier: api, permissions: ['things:write'] });
  await gh.pool.query(`
    CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.role_name = 'doomed' THEN RAISE EXCEPTION 'the doomed role cannot be held'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER refuse_doomed BEFORE INSERT ON account_roles FOR EACH ROW EXECUTE FUNCTION refuse_doomed();
    CREATE TRIGGER refuse_doomed BEFORE INSERT ON client_roles FOR EACH ROW EXECUTE FUNCTION refuse_doomed();
  `);
  token = await adminApiToken(gh);
  env = cliEnvironment(gh.database.url);
}, 60_000);

afterAll(() => gh.close());

describe('creating a user with roles', () => {
  it('writes the account and its roles through the admin API, answering with the roles held', async () => {
    const response = await adminCall('/users', {
      email: 'wren@example.com',
      password: 'long enough password',
      roles: ['editor', 'admin'],
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { id: string; roles: string[] };
    expect(body).toMatchObject({ email: 'wren@example.com', roles: ['admin', 'editor'] });
    expect(await gh.gatehouse.rbac.rolesOfAccount(body.id)).toEqual(['admin', 'editor']);
  });

  it('leaves no account behind when a role cannot be written, through the admin API', async () => {
    const response = await adminCall('/users', {
      email: 'stranded@example.com',
      password: 'long enough password',
      roles: ['editor', 'doomed'],
    });
    expect(response.status).toBe(500);
    expect(await gh.gatehouse.accounts.findByEmail('stranded@example.com')).toBeUndefined();
  });

  it('leaves no account behind when a role cannot be written, through the CLI', async () => {
    const before = await rows('SELECT 1 FROM accounts');
    const result = await gatehouse(
      'user',
      'create',
      '--email',
      'stranded-cli@example.com',
      '--password',
      'long enough password',
      '--role',
      'editor',
      '--role',
      'doomed',
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(await rows('SELECT 1 FROM accounts')).toBe(before);
    expect(await rows('SELECT 1 FROM account_roles WHERE role_name = $1', ['editor'])).toBe(1);
  });

  it('names a role deleted between the check and the write, and leaves no account behind', async () => {
    const queries = createAccountQueries(gh.pool);
    const accounts = createAccountLibrary({
      queries: { ...queries, unknownRoles: passFirstCheck(queries.unknownRoles) },
      passwords: createPasswordHasher(gh.config.argon2),
      policy: createPasswordPolicy(gh.config.passwords, new Set()),
    });
    await expect(
      accounts.createWithRoles({
        email: 'raced@example.com',
        password: 'long enough password',
        roles: ['gone'],
      }),
    ).rejects.toMatchObject({ code: 'not_found', message: 'no role named gone' });
    expect(await queries.findByEmail('raced@example.com')).toBeUndefined();
  });
});

describe('finding an account by email', () => {
  it('answers an unknown email with the not-found error naming it, in every CLI command', async () => {
    for (const args of [
      ['user', 'unlock'],
      ['user', 'assign-role', '--role', 'editor'],
      ['explain', '--permission', 'things:write'],
    ]) {
      const result = await gatehouse(...args, '--email', 'Nobody@example.com');
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('no account with email Nobody@example.com');
    }
    await expect(gh.gatehouse.accounts.getByEmail(' WREN@example.com ')).resolves.toMatchObject({
      email: 'wren@example.com',
    });
  });
});

describe('registering a client', () => {
  const base = {
    redirectUris: ['https://app.example.com/cb'],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code', 'client_credentials'],
    public: false,
    firstParty: false,
    apis: [api],
  };

  it('writes the client with its roles, APIs and MFA requirement through the CLI', async () => {
    const result = await gatehouse(
      'client',
      'create',
      '--id',
      'registered',
      '--redirect-uri',
      'https://app.example.com/cb',
      '--grant-type',
      'client_credentials',
      '--grant-type',
      'authorization_code',
      '--role',
      'editor',
      '--api',
      api,
      '--require-mfa',
      '--json',
    );
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ id: 'registered', roles: ['editor'], apis: [api] });
    expect(await gh.gatehouse.clients.findProviderMetadata('registered')).toMatchObject({
      mfa_required: true,
      allowed_apis: [api],
    });
    expect(await gh.gatehouse.rbac.effectiveAccess({ clientId: 'registered' })).toMatchObject({
      roles: ['editor'],
    });
  });

  it('leaves no client, API or role row behind when a role cannot be written, through the admin API', async () => {
    const response = await adminCall('/clients', { ...base, id: 'stranded', roles: ['editor', 'doomed'] });
    expect(response.status).toBe(500);
    expect(await rows('SELECT 1 FROM clients WHERE id = $1', ['stranded'])).toBe(0);
    expect(await rows('SELECT 1 FROM client_apis WHERE client_id = $1', ['stranded'])).toBe(0);
    expect(await rows('SELECT 1 FROM client_roles WHERE client_id = $1', ['stranded'])).toBe(0);
  });

  it('leaves no client behind when a role cannot be written, through the CLI', async () => {
    const result = await gatehouse(
      'client',
      'create',
      '--id',
      'stranded-cli',
      '--redirect-uri',
      'https://app.example.com/cb',
      '--role',
      'doomed',
      '--api',
      api,
      '--require-mfa',
    );
    expect(result.code).not.toBe(0);
    expect(await rows('SELECT 1 FROM clients WHERE id = $1', ['stranded-cli'])).toBe(0);
    expect(await rows('SELECT 1 FROM client_apis WHERE client_id = $1', ['stranded-cli'])).toBe(0);
  });

  it('names a role deleted between the check and the write, and leaves no client behind', async () => {
    const queries = createClientQueries(gh.pool);
    const clients = createClientLibrary({
      pool: gh.pool,
      queries: { ...queries, unknownRoles: passFirstCheck(queries.unknownRoles) },
      secretBox: createSecretBox(testSecret),
      validateMetadata: async () => undefined,
      production: false,
    });
    await expect(clients.register({ ...base, id: 'raced', roles: ['gone'] })).rejects.toMatchObject({
      code: 'not_found',
      message: 'no role named gone',
    });
    expect(await queries.findById('raced')).toBeUndefined();
  });
});
