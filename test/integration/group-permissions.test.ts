import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { authorizeOverHttp, createHttpBrowser } from '../support/http-sign-in.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * Roles and permissions held through nested groups and direct grants reach real tokens: JWT access tokens,
 * introspection and ID tokens, narrowed exactly as role permissions are (what the API declares, what the token's
 * scope names), and gone at the next token once the membership or grant is.
 */
let gh: TestGatehouse;
let web: oidc.Configuration;
const articles = 'https://api.example.com/articles';
const reports = 'https://api.example.com/reports';
const redirectUri = 'http://127.0.0.1:9/cb';
const member = { email: 'gail@example.com', password: 'group member passphrase' };
const direct = { email: 'dora@example.com', password: 'direct grant passphrase' };
let memberId: string;
let directId: string;

beforeAll(async () => {
  gh = await startTestGatehouse();
  const { accounts, clients, rbac } = gh.gatehouse;
  await rbac.createRole('editor', { permissions: ['articles:read', 'articles:write', 'unrelated:thing'] });
  await rbac.createRole('reader', { permissions: ['reports:read'] });
  await rbac.createApi({
    identifier: articles,
    permissions: ['articles:read', 'articles:write', 'articles:publish', 'articles:delete'],
  });
  await rbac.createApi({
    identifier: reports,
    permissions: ['reports:read', 'reports:export'],
    format: 'opaque',
  });
  // company (role reader, permission articles:publish) > newsroom (role editor) > desk (permission reports:export)
  await rbac.groups.create('company', {
    roles: ['reader'],
    permissions: ['articles:publish', 'not:declared'],
  });
  await rbac.groups.create('newsroom', { roles: ['editor'], parents: ['company'] });
  await rbac.groups.create('desk', { permissions: ['reports:export'], parents: ['newsroom'] });
  memberId = (await accounts.create(member)).id;
  await rbac.groups.addMember('desk', memberId);
  directId = (await accounts.create(direct)).id;
  await rbac.grantToAccount(directId, 'articles:delete');
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
  web = await oidc.discovery(
    new URL(gh.url),
    'web',
    undefined,
    oidc.ClientSecretBasic('web-secret-0123456789'),
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
});

afterAll(() => gh.close());

const allScopes =
  'articles:read articles:write articles:publish articles:delete reports:read reports:export unrelated:thing not:declared';

async function signIn(
  who: { email: string; password: string },
  options: { scope?: string; resource?: string },
) {
  const flow = await authorizeOverHttp(
    createHttpBrowser(),
    {
      issuer: gh.url,
      clientId: 'web',
      redirectUri,
      scope: options.scope ?? `openid email roles offline_access ${allScopes}`,
      params: { prompt: 'consent', ...(options.resource ? { resource: options.resource } : {}) },
    },
    who,
  );
  return oidc.authorizationCodeGrant(
    web,
    flow.callback,
    { pkceCodeVerifier: flow.codeVerifier, expectedState: flow.state, expectedNonce: flow.nonce },
    options.resource ? { resource: options.resource } : undefined,
  );
}

describe('a member of a nested group', () => {
  it('gets the inherited roles and permissions in a JWT access token, narrowed by what the API declares', async () => {
    const tokens = await signIn(member, { resource: articles });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${gh.url}/jwks`)), {
      issuer: gh.url,
      audience: articles,
    });
    expect(payload).toMatchObject({
      sub: memberId,
      roles: ['editor', 'reader'],
      // editor's (through newsroom) and company's own; not unrelated:thing, not:declared or the reports ones.
      permissions: ['articles:read', 'articles:write', 'articles:publish'],
    });
  });

  it('gets them narrowed by the token scope', async () => {
    const tokens = await signIn(member, {
      resource: articles,
      scope: 'openid articles:publish articles:read',
    });
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      permissions: ['articles:read', 'articles:publish'],
    });
  });

  it('gets them in introspection of an opaque token and in the ID token', async () => {
    const tokens = await signIn(member, { resource: reports });
    expect(tokens.claims()).toMatchObject({ roles: ['editor', 'reader'] });
    expect(await oidc.tokenIntrospection(web, tokens.access_token)).toMatchObject({
      active: true,
      sub: memberId,
      aud: reports,
      roles: ['editor', 'reader'],
      permissions: ['reports:read', 'reports:export'],
    });
  });

  it('loses them at the next token once the membership is removed, and introspection says so at once', async () => {
    const before = await signIn(member, { resource: reports });
    await gh.gatehouse.rbac.groups.removeMember('desk', memberId);
    expect(await oidc.tokenIntrospection(web, before.access_token)).toMatchObject({
      active: true,
      roles: [],
      permissions: [],
    });
    const after = await signIn(member, { resource: articles });
    expect(decodeJwt(after.access_token)).toMatchObject({ roles: [], permissions: [] });
    await gh.gatehouse.rbac.groups.addMember('desk', memberId);
  });

  it('loses what a parent group gives once the link to the parent is removed', async () => {
    await gh.gatehouse.rbac.groups.update('newsroom', { removeParents: ['company'] });
    const tokens = await signIn(member, { resource: articles });
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      roles: ['editor'],
      permissions: ['articles:read', 'articles:write'],
    });
    await gh.gatehouse.rbac.groups.update('newsroom', { addParents: ['company'] });
  });
});

describe('a change made by another process (the CLI)', () => {
  it('reaches the running server: the group tables bump the rbac version', async () => {
    const env = cliEnvironment(gh.database.url);
    const tokens = await signIn(member, { resource: reports });
    const introspect = async () =>
      (await oidc.tokenIntrospection(web, tokens.access_token)) as { permissions?: string[] };
    // Read once, so this process has the account's grants cached.
    expect((await introspect()).permissions).toEqual(['reports:read', 'reports:export']);
    expect((await runCli(['group', 'remove-member', 'desk', '--email', member.email], env)).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, gh.config.configCache.pollMs * 2 + 100));
    expect((await introspect()).permissions).toEqual([]);
    expect((await runCli(['group', 'add-member', 'desk', '--email', member.email], env)).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, gh.config.configCache.pollMs * 2 + 100));
    expect((await introspect()).permissions).toEqual(['reports:read', 'reports:export']);
  });
});

describe('a permission granted directly', () => {
  it('is carried when the API declares it and the scope names it, and gone at the next token once revoked', async () => {
    const tokens = await signIn(direct, { resource: articles });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ roles: [], permissions: ['articles:delete'] });
    const unasked = await signIn(direct, { resource: articles, scope: 'openid articles:read' });
    expect(decodeJwt(unasked.access_token)).toMatchObject({ permissions: [] });
    const otherApi = await signIn(direct, { resource: reports });
    expect(await oidc.tokenIntrospection(web, otherApi.access_token)).toMatchObject({ permissions: [] });

    await gh.gatehouse.rbac.revokeFromAccount(directId, 'articles:delete');
    expect(await oidc.tokenIntrospection(web, tokens.access_token)).toMatchObject({
      active: true,
      permissions: [],
    });
    const after = await signIn(direct, { resource: articles });
    expect(decodeJwt(after.access_token)).toMatchObject({ permissions: [] });
  });
});
