import { SignJWT, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { authorizeOverHttp, createHttpBrowser } from '../support/http-sign-in.ts';
import { runCli } from '../support/gatehouse-process.ts';
import { startTestGatehouse, testSecret, type TestGatehouse } from '../support/test-gatehouse.ts';

/** Roles and permissions in ID tokens, access tokens and introspection, and the admin API's 401/403 rule. */
let gh: TestGatehouse;
let web: oidc.Configuration;
let consoleApp: oidc.Configuration;
let adminService: oidc.Configuration;
let editorService: oidc.Configuration;
const articles = 'https://api.example.com/articles';
const reports = 'https://api.example.com/reports';
const redirectUri = 'http://127.0.0.1:9/cb';
const editor = { email: 'eddie@example.com', password: 'editor passphrase 1' };
const admin = { email: 'ada@example.com', password: 'admin passphrase 1' };
let editorId: string;
let adminApi: string;

const discover = (id: string, secret: string) =>
  oidc.discovery(new URL(gh.url), id, undefined, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });

beforeAll(async () => {
  gh = await startTestGatehouse();
  adminApi = `${gh.url}/admin`;
  const { accounts, clients, rbac } = gh.gatehouse;
  await rbac.createRole('editor', {
    permissions: ['articles:read', 'articles:write', 'reports:read', 'unrelated:thing'],
  });
  await rbac.createApi({
    identifier: articles,
    permissions: ['articles:read', 'articles:write', 'articles:publish'],
  });
  await rbac.createApi({ identifier: reports, permissions: ['reports:read'], format: 'opaque' });
  editorId = (await accounts.create(editor)).id;
  await rbac.assignToAccount(editorId, 'editor');
  await rbac.assignToAccount((await accounts.create(admin)).id, 'admin');
  await clients.create({
    id: 'web',
    secret: 'web-secret-0123456789',
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code', 'refresh_token'],
    public: false,
    firstParty: true,
    apis: [articles, reports],
  });
  // An operator's console, the one app allowed to call the admin API as the signed-in administrator.
  await clients.create({
    id: 'console',
    secret: 'console-secret-0123456789',
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code', 'refresh_token'],
    public: false,
    firstParty: true,
    apis: [adminApi],
  });
  for (const [id, role] of [
    ['admin-service', 'admin'],
    ['editor-service', 'editor'],
  ] as const) {
    await clients.create({
      id,
      secret: `${id}-secret-0123456789`,
      redirectUris: [],
      postLogoutRedirectUris: [],
      grantTypes: ['client_credentials'],
      public: false,
      firstParty: false,
    });
    await rbac.assignToClient(id, role);
  }
  web = await discover('web', 'web-secret-0123456789');
  consoleApp = await discover('console', 'console-secret-0123456789');
  adminService = await discover('admin-service', 'admin-service-secret-0123456789');
  editorService = await discover('editor-service', 'editor-service-secret-0123456789');
});

afterAll(() => gh.close());

/** Every permission the test APIs declare, as scopes: a client gets only the permissions it asks for. */
const permissionScopes =
  'articles:read articles:write articles:publish reports:read admin:read admin:write unrelated:thing';

async function signIn(
  who: { email: string; password: string },
  options: { scope?: string; resource?: string; client?: 'web' | 'console' } = {},
) {
  const clientId = options.client ?? 'web';
  const flow = await authorizeOverHttp(
    createHttpBrowser(),
    {
      issuer: gh.url,
      clientId,
      redirectUri,
      scope:
        options.scope ?? `openid email roles offline_access${options.resource ? ` ${permissionScopes}` : ''}`,
      params: { prompt: 'consent', ...(options.resource ? { resource: options.resource } : {}) },
    },
    who,
  );
  return oidc.authorizationCodeGrant(
    clientId === 'web' ? web : consoleApp,
    flow.callback,
    { pkceCodeVerifier: flow.codeVerifier, expectedState: flow.state, expectedNonce: flow.nonce },
    options.resource ? { resource: options.resource } : undefined,
  );
}

describe('roles in ID tokens and userinfo', () => {
  it('releases the roles claim with the roles scope', async () => {
    const tokens = await signIn(editor);
    expect(tokens.claims()).toMatchObject({ roles: ['editor'] });
    expect(await oidc.fetchUserInfo(web, tokens.access_token, editorId)).toMatchObject({ roles: ['editor'] });
  });

  it('keeps roles out without the roles scope', async () => {
    const tokens = await signIn(editor, { scope: 'openid email' });
    expect(tokens.claims()).not.toHaveProperty('roles');
  });
});

describe('access tokens for a registered API', () => {
  it('are RFC 9068 JWTs for that audience carrying roles and the permissions the API declares', async () => {
    const tokens = await signIn(editor, { resource: articles });
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${gh.url}/jwks`)), {
      issuer: gh.url,
      audience: articles,
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({
      sub: editorId,
      client_id: 'web',
      roles: ['editor'],
      permissions: ['articles:read', 'articles:write'],
    });
  });

  it('carry the client’s own roles and permissions for client_credentials', async () => {
    const tokens = await oidc.clientCredentialsGrant(editorService, { resource: articles });
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      sub: 'editor-service',
      client_id: 'editor-service',
      aud: articles,
      roles: ['editor'],
      permissions: ['articles:read', 'articles:write'],
    });
  });

  it('are opaque for an API registered with --format opaque, and introspection gives its permissions', async () => {
    const tokens = await oidc.clientCredentialsGrant(editorService, { resource: reports });
    expect(tokens.access_token.split('.')).toHaveLength(1);
    expect(await oidc.tokenIntrospection(editorService, tokens.access_token)).toMatchObject({
      active: true,
      client_id: 'editor-service',
      aud: reports,
      roles: ['editor'],
      permissions: ['reports:read'],
    });
  });

  it('are refused for an API that is not registered', async () => {
    await expect(
      oidc.clientCredentialsGrant(editorService, { resource: 'https://unknown.example.com' }),
    ).rejects.toMatchObject({ error: 'invalid_target' });
  });
});

describe('permissions follow the client, its scope and consent (the confused deputy)', () => {
  it('stops the confused deputy: an app an admin signs in to gets no admin-API token (invalid_target)', async () => {
    await expect(signIn(admin, { resource: adminApi })).rejects.toMatchObject({ error: 'invalid_target' });
    await expect(signIn(admin, { resource: 'https://api.example.com/not-registered' })).rejects.toMatchObject(
      { error: 'invalid_target' },
    );
  });

  it('stops a token from carrying permissions its client never asked for', async () => {
    const narrow = await signIn(editor, { resource: articles, scope: 'openid articles:read' });
    expect(decodeJwt(narrow.access_token)).toMatchObject({ permissions: ['articles:read'] });
    expect(await oidc.tokenIntrospection(web, narrow.access_token)).toMatchObject({
      scope: 'articles:read',
      permissions: ['articles:read'],
    });
    const none = await signIn(editor, { resource: articles, scope: 'openid email' });
    expect(decodeJwt(none.access_token)).toMatchObject({ permissions: [] });
    expect(await oidc.tokenIntrospection(web, none.access_token)).toMatchObject({ permissions: [] });
  });

  it('stops an app whose admin-API access was withdrawn from using the tokens it already holds', async () => {
    const token = (await signIn(admin, { resource: adminApi, client: 'console', scope: 'openid admin:read' }))
      .access_token;
    const call = () => fetch(`${gh.url}/admin/api/users`, { headers: { authorization: `Bearer ${token}` } });
    expect((await call()).status).toBe(200);
    await gh.gatehouse.clients.update('console', { removeApis: [adminApi] });
    await new Promise((resolve) => setTimeout(resolve, gh.config.configCache.pollMs * 2 + 100));
    expect((await call()).status).toBe(401);
    await expect(signIn(admin, { resource: adminApi, client: 'console' })).rejects.toMatchObject({
      error: 'invalid_target',
    });
    await gh.gatehouse.clients.update('console', { addApis: [adminApi] });
  });

  it('narrows a client_credentials token by scope, and refuses a scope naming none of the API’s permissions', async () => {
    const narrow = await oidc.clientCredentialsGrant(editorService, {
      resource: articles,
      scope: 'articles:read',
    });
    expect(decodeJwt(narrow.access_token)).toMatchObject({
      scope: 'articles:read',
      permissions: ['articles:read'],
    });
    await expect(
      oidc.clientCredentialsGrant(editorService, { resource: articles, scope: 'billing:refund' }),
    ).rejects.toMatchObject({ error: 'invalid_scope' });
  });
});

describe('introspection', () => {
  it('returns the roles and all permissions of the subject of an opaque token', async () => {
    const tokens = await signIn(editor);
    expect(await oidc.tokenIntrospection(web, tokens.access_token)).toMatchObject({
      active: true,
      sub: editorId,
      client_id: 'web',
      scope: 'openid email roles offline_access',
      exp: expect.any(Number),
      roles: ['editor'],
      permissions: ['articles:read', 'articles:write', 'reports:read', 'unrelated:thing'],
    });
  });

  it("answers for Gatehouse's own JWT access tokens, and says inactive once their grant is revoked", async () => {
    const tokens = await signIn(editor, { resource: articles });
    expect(await oidc.tokenIntrospection(web, tokens.access_token)).toMatchObject({
      active: true,
      sub: editorId,
      aud: articles,
      permissions: ['articles:read', 'articles:write'],
    });
    await oidc.tokenRevocation(web, tokens.refresh_token!);
    expect(await oidc.tokenIntrospection(web, tokens.access_token)).toEqual({ active: false });
  });

  it('says inactive for a JWT not signed by Gatehouse', async () => {
    const forged = await new SignJWT({ client_id: 'web', sub: editorId })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer(gh.url)
      .setExpirationTime('1h')
      .sign(new Uint8Array(32));
    expect(await oidc.tokenIntrospection(web, forged)).toEqual({ active: false });
  });
});

describe('changing roles', () => {
  it('shows in new tokens and in introspection at once, while issued JWTs keep what was true', async () => {
    const account = await gh.gatehouse.accounts.create({
      email: `changing-${Date.now()}@example.com`,
      password: 'changing passphrase',
    });
    await gh.gatehouse.rbac.assignToAccount(account.id, 'editor');
    const before = await signIn(
      { email: account.email, password: 'changing passphrase' },
      { resource: articles },
    );
    const opaque = await signIn({ email: account.email, password: 'changing passphrase' });

    await gh.gatehouse.rbac.createRole(`publisher-${account.id}`, { permissions: ['articles:publish'] });
    await gh.gatehouse.rbac.assignToAccount(account.id, `publisher-${account.id}`);
    await gh.gatehouse.rbac.removeFromAccount(account.id, 'editor');

    const after = await signIn(
      { email: account.email, password: 'changing passphrase' },
      { resource: articles },
    );
    expect(decodeJwt(after.access_token)).toMatchObject({
      roles: [`publisher-${account.id}`],
      permissions: ['articles:publish'],
    });
    expect(decodeJwt(before.access_token)).toMatchObject({
      roles: ['editor'],
      permissions: ['articles:read', 'articles:write'],
    });
    // Introspection answers with what is true now, within what the token was issued for: the editor permissions
    // are gone at once, and the new articles:publish was never asked for (nor consented to) in its scope.
    expect(await oidc.tokenIntrospection(web, before.access_token)).toMatchObject({
      active: true,
      roles: [`publisher-${account.id}`],
      permissions: [],
    });
    expect(await oidc.tokenIntrospection(web, opaque.access_token)).toMatchObject({
      roles: [`publisher-${account.id}`],
    });
  });
});

describe('changes made by another process', () => {
  it('reach new tokens within one config poll (the CLI writes, this server caches)', async () => {
    const email = `cli-granted-${Date.now()}@example.com`;
    await gh.gatehouse.accounts.create({ email, password: 'cli granted passphrase' });
    const firstPermissions = async () =>
      decodeJwt(
        (await signIn({ email, password: 'cli granted passphrase' }, { resource: articles })).access_token,
      ).permissions;
    expect(await firstPermissions()).toEqual([]);

    const cli = await runCli(['user', 'assign-role', '--email', email, '--role', 'editor'], {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      DATABASE_URL: gh.database.url,
      GATEHOUSE_SECRET: testSecret,
    });
    expect({ code: cli.code, stderr: cli.stderr }).toMatchObject({ code: 0 });
    await new Promise((resolve) => setTimeout(resolve, gh.config.configCache.pollMs * 2 + 100));
    expect(await firstPermissions()).toEqual(['articles:read', 'articles:write']);
  });
});

describe('token size', () => {
  it('stays under 8 KB for a user holding 200 roles', async () => {
    const account = await gh.gatehouse.accounts.create({
      email: 'many-roles@example.com',
      password: 'many roles passphrase',
    });
    for (let i = 0; i < 200; i += 1) {
      const name = `team-${String(i).padStart(3, '0')}-member`;
      await gh.gatehouse.rbac.createRole(name, { permissions: [`team-${i}:read`, `team-${i}:write`] });
      await gh.gatehouse.rbac.assignToAccount(account.id, name);
    }
    const tokens = await signIn(
      { email: account.email, password: 'many roles passphrase' },
      { resource: articles },
    );
    expect((tokens.claims()!.roles as string[]).length).toBe(200);
    expect(Buffer.byteLength(tokens.id_token!)).toBeLessThan(8192);
    expect(Buffer.byteLength(tokens.access_token)).toBeLessThan(8192);
    // The API declares none of the team permissions, so its token carries none of them.
    expect(decodeJwt(tokens.access_token).permissions).toEqual([]);
  });
});

describe('the admin API and the 401/403 rule', () => {
  const call = (path: string, token?: string, init: RequestInit = {}) =>
    fetch(`${gh.url}/admin/api${path}`, {
      ...init,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        'content-type': 'application/json',
        ...(init.headers as Record<string, string>),
      },
    });
  const expectChallenge = (response: Response, status: number, error?: string) => {
    expect(response.status).toBe(status);
    const header = response.headers.get('www-authenticate') ?? '';
    expect(header).toMatch(/^Bearer /);
    if (error) expect(header).toContain(`error="${error}"`);
    else expect(header).not.toContain('error=');
  };

  async function signedExpiredToken(): Promise<string> {
    const keySet = await gh.gatehouse.keys.loadKeySet();
    const jwk = keySet.keys.find((key) => key.alg === 'ES256')!;
    return new SignJWT({ client_id: 'admin-service', scope: '' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid! })
      .setIssuer(gh.url)
      .setAudience(adminApi)
      .setSubject('admin-service')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(await importJWK(jwk, 'ES256'));
  }

  it('answers 401 without an error code when no token is sent', async () => {
    expectChallenge(await call('/users'), 401);
  });

  it('answers 401 invalid_token for garbage, a foreign audience, an expired and a revoked token', async () => {
    expectChallenge(await call('/users', 'garbage'), 401, 'invalid_token');
    expectChallenge(await call('/users', 'not a token!'), 401, 'invalid_token');
    const foreign = await oidc.clientCredentialsGrant(adminService, { resource: articles });
    expectChallenge(await call('/users', foreign.access_token), 401, 'invalid_token');
    expectChallenge(await call('/users', await signedExpiredToken()), 401, 'invalid_token');
    const revoked = await signIn(admin, { resource: adminApi, client: 'console' });
    expect((await call('/users', revoked.access_token)).status).toBe(200);
    await oidc.tokenRevocation(consoleApp, revoked.refresh_token!);
    expectChallenge(await call('/users', revoked.access_token), 401, 'invalid_token');
  });

  it('answers 403 insufficient_scope for an editor, on reads and writes', async () => {
    const token = (await signIn(editor, { resource: adminApi, client: 'console' })).access_token;
    expectChallenge(await call('/users', token), 403, 'insufficient_scope');
    expectChallenge(
      await call('/roles', token, { method: 'POST', body: JSON.stringify({ name: 'x' }) }),
      403,
      'insufficient_scope',
    );
  });

  it('lets an admin read and write, as a user and as a service', async () => {
    const userToken = (await signIn(admin, { resource: adminApi, client: 'console' })).access_token;
    const users = await call('/users', userToken);
    expect(users.status).toBe(200);
    expect(((await users.json()) as { users: { email: string }[] }).users.map((u) => u.email)).toContain(
      editor.email,
    );
    const serviceToken = (await oidc.clientCredentialsGrant(adminService, { resource: adminApi }))
      .access_token;
    const created = await call('/roles', serviceToken, {
      method: 'POST',
      body: JSON.stringify({ name: 'auditor', permissions: ['audit:read'] }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: 'auditor', permissions: ['audit:read'] });
  });

  it('answers bad input with 400 naming the field, unknown references with 404, and writes nothing', async () => {
    const token = (await oidc.clientCredentialsGrant(adminService, { resource: adminApi })).access_token;
    const invalidJson = await call('/users', token, { method: 'POST', body: '{"email":' });
    expect(invalidJson.status).toBe(400);
    const unknownField = await call('/users', token, {
      method: 'POST',
      body: JSON.stringify({ email: 'x@example.com', password: 'long passphrase', admin: true }),
    });
    expect(unknownField.status).toBe(400);
    expect(await unknownField.json()).toMatchObject({ error: 'invalid_request', field: 'admin' });
    const wrongType = await call('/users', token, {
      method: 'POST',
      body: JSON.stringify({ email: 42, password: 'long passphrase' }),
    });
    expect(await wrongType.json()).toMatchObject({ error: 'invalid_request', field: 'email' });
    const unknownRole = await call('/users', token, {
      method: 'POST',
      body: JSON.stringify({ email: 'ghost@example.com', password: 'long passphrase', roles: ['ghost'] }),
    });
    expect(unknownRole.status).toBe(404);
    expect(await unknownRole.json()).toMatchObject({ error_description: 'no role named ghost' });
    expect(await gh.gatehouse.accounts.findByEmail('ghost@example.com')).toBeUndefined();
    expect((await call('/users/no-such-user', token)).status).toBe(404);
  });

  it('disables a user, who can then no longer sign in', async () => {
    const token = (await oidc.clientCredentialsGrant(adminService, { resource: adminApi })).access_token;
    const account = await gh.gatehouse.accounts.create({
      email: 'leaver@example.com',
      password: 'last day passphrase',
    });
    const response = await call(`/users/${account.id}`, token, {
      method: 'PATCH',
      body: JSON.stringify({ status: 'disabled' }),
    });
    expect(await response.json()).toMatchObject({ status: 'disabled' });
    await expect(signIn({ email: 'leaver@example.com', password: 'last day passphrase' })).rejects.toThrow(
      'sign-in refused',
    );
  });

  it('describes itself in OpenAPI', async () => {
    const document = (await (await fetch(`${gh.url}/admin/api/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/users', '/users/{id}', '/roles', '/clients', '/apis']),
    );
  });
});
