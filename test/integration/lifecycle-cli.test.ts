/**
 * The lifecycle verbs of the command line (issue 17), against a running Gatehouse on the same database: disable,
 * enable, delete and set the password of an account, rotate a client's secret and delete a client, take permissions
 * from roles and delete them, change and delete APIs and upstreams; `--version`; and the contract's exit code 2 for a
 * refusal (not found and already exists included): nothing written.
 */
import { readFileSync } from 'node:fs';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { lifecycleProbes } from '../support/lifecycle-probes.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

const packageVersion = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

let gh: TestGatehouse;
let env: NodeJS.ProcessEnv;
let probes: Awaited<ReturnType<typeof lifecycleProbes>>;
const redirectUri = 'http://127.0.0.1:9/cb';
const password = 'a long enough first password';
const gatehouse = (...args: string[]) => runCli(args, env);

/** Runs the CLI with `input` on its standard input. */
const gatehouseWithStdin = (input: string, ...args: string[]) => runCli(args, env, { stdin: input });

/** The running server learns of the CLI's changes through its config cache: ask until it answers as expected. */
async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    last = await read();
  }
  return last;
}

beforeAll(async () => {
  gh = await startTestGatehouse({ hot: 'memory' });
  env = cliEnvironment(gh.database.url);
  probes = await lifecycleProbes(gh, password);
}, 60_000);

afterAll(() => gh?.close());

describe('gatehouse --version and --help', () => {
  it('prints the version of package.json', async () => {
    const result = await gatehouse('--version');
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(packageVersion);
    expect((await gatehouse('-V')).stdout.trim()).toBe(packageVersion);
  });

  it('documents the exit codes in the help', async () => {
    const help = await gatehouse('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /Exit codes:[\s\S]*1 +failed[\s\S]*2 +refused: bad arguments or input, not found, already exists/,
    );
  });
});

describe('the lifecycle of an account', () => {
  it('disables an account: its refresh token stops working and it cannot sign in; enabled, it can again', async () => {
    const user = await gh.gatehouse.accounts.create({ email: 'dora@example.com', password });
    const tokens = await probes.signIn('dora@example.com');

    const disabled = await gatehouse('user', 'disable', '--email', 'dora@example.com', '--json');
    expect(disabled.code).toBe(0);
    expect(disabled.json()).toEqual({ id: user.id, email: 'dora@example.com', status: 'disabled' });
    expect(await probes.refreshError(tokens.refresh_token!)).toBe('invalid_grant');
    await expect(probes.signIn('dora@example.com')).rejects.toThrow('sign-in refused');
    expect(await probes.lastChange('user.disabled')).toMatchObject({ accountId: user.id, actor: 'cli' });
    // The running server carries out the sign-out the CLI queued (its sessions live in the server's store).
    expect(
      await eventually(
        async () =>
          (await gh.gatehouse.audit.list({ since: new Date(Date.now() - 60_000), accountId: user.id })).some(
            (event) => event.type === 'session.revoked' && event.actor === 'cli',
          ),
        true,
      ),
    ).toBe(true);

    const enabled = await gatehouse('user', 'enable', '--email', 'dora@example.com', '--json');
    expect(enabled.code).toBe(0);
    expect(enabled.json()).toMatchObject({ status: 'active' });
    expect(await eventually(async () => (await gh.gatehouse.accounts.get(user.id)).status, 'active')).toBe(
      'active',
    );
    expect(
      await eventually(
        () =>
          probes.signIn('dora@example.com').then(
            (signedIn) => typeof signedIn.access_token,
            () => 'refused',
          ),
        'string',
      ),
    ).toBe('string');
  });

  it('sets a password read from standard input, and refuses one on the command line', async () => {
    await gh.gatehouse.accounts.create({ email: 'sam@example.com', password });
    const next = 'an entirely new passphrase from stdin';
    const set = await gatehouseWithStdin(
      `${next}\n`,
      'user',
      'set-password',
      '--email',
      'sam@example.com',
      '--password-stdin',
      '--json',
    );
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.json()).toEqual({ email: 'sam@example.com', passwordSet: true });
    expect(await gh.gatehouse.accounts.authenticate('sam@example.com', next)).toMatchObject({
      email: 'sam@example.com',
    });
    expect(await gh.gatehouse.accounts.authenticate('sam@example.com', password)).toBeUndefined();
    expect(JSON.stringify(await probes.lastChange('user.password_set'))).not.toContain(next);

    const onArgv = await gatehouse(
      'user',
      'set-password',
      '--email',
      'sam@example.com',
      '--password-stdin',
      '--password',
      next,
    );
    expect(onArgv.code).toBe(2);
    expect(onArgv.stderr).toContain("unknown option '--password'");
    const weak = await gatehouseWithStdin(
      'short\n',
      'user',
      'set-password',
      '--email',
      'sam@example.com',
      '--password-stdin',
    );
    expect(weak.code).toBe(2);
    expect(weak.stderr).toContain('at least');
    const empty = await gatehouseWithStdin(
      '\n',
      'user',
      'set-password',
      '--email',
      'sam@example.com',
      '--password-stdin',
    );
    expect(empty.code).toBe(2);
    expect(await gh.gatehouse.accounts.authenticate('sam@example.com', next)).toBeDefined();
  });

  it('changes the display name with user update --name', async () => {
    await gh.gatehouse.accounts.create({ email: 'nia@example.com', password });
    const updated = await gatehouse(
      'user',
      'update',
      '--email',
      'nia@example.com',
      '--name',
      'Nia K',
      '--json',
    );
    expect(updated.code).toBe(0);
    expect(updated.json()).toMatchObject({ email: 'nia@example.com', name: 'Nia K' });
    expect(await gh.gatehouse.accounts.findByEmail('nia@example.com')).toMatchObject({ name: 'Nia K' });
  });

  it('deletes an account: its refresh token stops working, and a second delete is refused with exit code 2', async () => {
    const user = await gh.gatehouse.accounts.create({ email: 'gone@example.com', password });
    const tokens = await probes.signIn('gone@example.com');
    const deleted = await gatehouse('user', 'delete', '--email', 'gone@example.com', '--json');
    expect(deleted.code).toBe(0);
    expect(deleted.json()).toEqual({ id: user.id, email: 'gone@example.com', deleted: true });
    expect(await probes.refreshError(tokens.refresh_token!)).toBe('invalid_grant');
    expect(await gh.gatehouse.accounts.findById(user.id)).toBeUndefined();
    expect(await probes.lastChange('user.deleted')).toMatchObject({ accountId: user.id, actor: 'cli' });

    const again = await gatehouse('user', 'delete', '--email', 'gone@example.com');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('no account with email gone@example.com');
  });

  it('answers an unknown email with exit code 2 for every lifecycle verb', async () => {
    for (const verb of ['disable', 'enable', 'delete']) {
      const result = await gatehouse('user', verb, '--email', 'nobody@example.com');
      expect([verb, result.code]).toEqual([verb, 2]);
      expect(result.stderr).toContain('no account with email nobody@example.com');
    }
    const setPassword = await gatehouseWithStdin(
      'a long enough other password\n',
      'user',
      'set-password',
      '--email',
      'nobody@example.com',
      '--password-stdin',
    );
    expect(setPassword.code).toBe(2);
  });
});

describe('the lifecycle of a client', () => {
  const register = (id: string, secret: string) =>
    gh.gatehouse.clients.create({
      id,
      secret,
      redirectUris: [],
      postLogoutRedirectUris: [],
      grantTypes: ['client_credentials'],
      public: false,
      firstParty: false,
    });

  it('rotates a secret, printing it once: the old one is refused and the new one accepted', async () => {
    await register('rotor', 'rotor-first-secret-0123');
    expect(await probes.tokenStatus('rotor', 'rotor-first-secret-0123')).toEqual({ status: 200 });
    const rotated = await gatehouse('client', 'rotate-secret', '--id', 'rotor', '--json');
    expect(rotated.code).toBe(0);
    const { client_secret: secret } = rotated.json<{ client_id: string; client_secret: string }>();
    expect(rotated.json()).toEqual({
      client_id: 'rotor',
      client_secret: expect.stringMatching(/^[\w-]{43}$/),
    });

    expect(
      await eventually(() => probes.tokenStatus('rotor', 'rotor-first-secret-0123'), {
        status: 401,
        error: 'invalid_client',
      }),
    ).toEqual({ status: 401, error: 'invalid_client' });
    expect(await probes.tokenStatus('rotor', secret)).toEqual({ status: 200 });
    expect(JSON.stringify(await probes.lastChange('client.secret_rotated'))).not.toContain(secret);
  });

  it('deletes a client: its token requests fail with invalid_client', async () => {
    await register('gone-client', 'gone-client-secret-0123');
    expect(await probes.tokenStatus('gone-client', 'gone-client-secret-0123')).toEqual({ status: 200 });
    const deleted = await gatehouse('client', 'delete', '--id', 'gone-client', '--json');
    expect(deleted.code).toBe(0);
    expect(deleted.json()).toEqual({ id: 'gone-client', deleted: true });
    expect(
      await eventually(() => probes.tokenStatus('gone-client', 'gone-client-secret-0123'), {
        status: 401,
        error: 'invalid_client',
      }),
    ).toEqual({ status: 401, error: 'invalid_client' });
    expect(await probes.lastChange('client.deleted')).toMatchObject({
      clientId: 'gone-client',
      actor: 'cli',
    });
  });

  it('answers unknown clients with 3, a public client with 2 and a missing --id with 2', async () => {
    expect((await gatehouse('client', 'rotate-secret', '--id', 'ghost')).code).toBe(2);
    expect((await gatehouse('client', 'delete', '--id', 'ghost')).code).toBe(2);
    await gh.gatehouse.clients.create({
      id: 'browser-app',
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [],
      grantTypes: [],
      public: true,
      firstParty: false,
    });
    const publicClient = await gatehouse('client', 'rotate-secret', '--id', 'browser-app');
    expect(publicClient.code).toBe(2);
    expect(publicClient.stderr).toContain('public client');
    const usage = await gatehouse('client', 'delete');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("required option '--id <id>'");
  });

  it('answers a duplicate with exit code 2', async () => {
    const duplicate = await gatehouse(
      'client',
      'create',
      '--id',
      'rotor',
      '--grant-type',
      'client_credentials',
    );
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toContain('already exists');
    expect((await gatehouse('role', 'create', 'admin')).code).toBe(2);
  });
});

describe('roles, APIs and upstreams', () => {
  it('takes a permission from a role, then deletes the role', async () => {
    await gh.gatehouse.rbac.createRole('writer', { permissions: ['docs:read', 'docs:write'] });
    const revoked = await gatehouse('role', 'revoke', 'writer', '--permission', 'docs:write', '--json');
    expect(revoked.code).toBe(0);
    expect(revoked.json()).toMatchObject({ name: 'writer', permissions: ['docs:read'] });
    expect((await gatehouse('role', 'revoke', 'writer', '--permission', 'docs:write')).code).toBe(2);

    const deleted = await gatehouse('role', 'delete', 'writer', '--json');
    expect(deleted.code).toBe(0);
    expect(deleted.json()).toEqual({ name: 'writer', deleted: true });
    await expect(gh.gatehouse.rbac.getRole('writer')).rejects.toMatchObject({ code: 'not_found' });
    expect((await gatehouse('role', 'delete', 'writer')).code).toBe(2);
    expect((await gatehouse('role', 'delete', 'admin')).code).toBe(2);
    expect(await probes.lastChange('role.delete')).toMatchObject({ actor: 'cli' });
  });

  it('changes an API (permissions, format, search claims), then deletes it', async () => {
    const identifier = 'https://notes.example.com';
    await gh.gatehouse.rbac.createApi({ identifier, permissions: ['notes:read', 'notes:write'] });
    const updated = await gatehouse(
      'api',
      'update',
      '--identifier',
      identifier,
      '--permission',
      'notes:share',
      '--remove-permission',
      'notes:write',
      '--format',
      'opaque',
      '--search-claim',
      'readable=notes:read:note',
      '--json',
    );
    expect(updated.code).toBe(0);
    expect(updated.json()).toMatchObject({
      identifier,
      format: 'opaque',
      permissions: ['notes:read', 'notes:share'],
      searchClaims: [{ name: 'readable', action: 'notes:read', type: 'note' }],
    });
    const cleared = await gatehouse(
      'api',
      'update',
      '--identifier',
      identifier,
      '--no-search-claims',
      '--json',
    );
    expect(cleared.json()).toMatchObject({ searchClaims: [], permissions: ['notes:read', 'notes:share'] });
    expect((await gatehouse('api', 'update', '--identifier', identifier, '--format', 'xml')).code).toBe(2);

    expect((await gatehouse('api', 'delete', '--identifier', identifier)).code).toBe(0);
    expect(await gh.gatehouse.rbac.findApi(identifier)).toBeUndefined();
    expect((await gatehouse('api', 'delete', '--identifier', identifier)).code).toBe(2);
    expect((await gatehouse('api', 'update', '--identifier', identifier, '--permission', 'x')).code).toBe(2);
  });

  it('changes an upstream, its secret read from standard input and never printed', async () => {
    await gh.gatehouse.identityProviders.create({
      id: 'hub',
      type: 'github',
      clientId: 'old-id',
      clientSecret: 'old-upstream-secret',
    });
    const updated = await gatehouseWithStdin(
      'new-upstream-secret\n',
      'idp',
      'update',
      '--id',
      'hub',
      '--client-id',
      'new-id',
      '--client-secret-stdin',
      '--name',
      'Hub',
      '--scope',
      'read:user',
      '--json',
    );
    expect(updated.code).toBe(0);
    expect(updated.json()).toMatchObject({ id: 'hub', clientId: 'new-id', name: 'Hub', scope: 'read:user' });
    expect(updated.stdout).not.toContain('new-upstream-secret');
    expect(await gh.gatehouse.identityProviders.credentials('hub')).toMatchObject({
      clientSecret: 'new-upstream-secret',
    });
    expect(JSON.stringify(await probes.lastChange('idp.update'))).not.toContain('new-upstream-secret');
    expect((await gatehouse('idp', 'update', '--id', 'nowhere', '--name', 'x')).code).toBe(2);
    expect((await gatehouse('idp', 'update', '--id', 'hub', '--issuer', 'ftp://nope')).code).toBe(2);
  });
});
