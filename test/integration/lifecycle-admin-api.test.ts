/**
 * The lifecycle verbs of the admin API (issue 17): disable, enable, delete and set the password of an account,
 * rotate a client's secret and delete a client, change and delete APIs and upstreams, and every list a page at a
 * time. Each goes through the use case the CLI and the console share, needs admin:write, and is audited with the
 * acting administrator.
 */
import { adminApiToken, readOnlyAdminApiToken } from '../support/admin-access.ts';
import { lifecycleProbes } from '../support/lifecycle-probes.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

let gh: TestGatehouse;
let token: string;
let readOnlyToken: string;
let probes: Awaited<ReturnType<typeof lifecycleProbes>>;
const redirectUri = 'http://127.0.0.1:9/cb';
const password = 'a long enough first password';

beforeAll(async () => {
  gh = await startTestGatehouse({ hot: 'memory' });
  token = await adminApiToken(gh);
  readOnlyToken = await readOnlyAdminApiToken(gh);
  probes = await lifecycleProbes(gh, password);
}, 60_000);

afterAll(() => gh?.close());

const admin = (method: string, path: string, body?: unknown, bearer = token) =>
  fetch(`${gh.url}/admin/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

async function newUser(email: string) {
  return gh.gatehouse.accounts.create({ email, password });
}

async function registerService(id: string, secret: string) {
  await gh.gatehouse.clients.create({
    id,
    secret,
    redirectUris: [],
    postLogoutRedirectUris: [],
    grantTypes: ['client_credentials'],
    public: false,
    firstParty: false,
  });
}

describe('disabling and enabling an account', () => {
  it('refuses the sign-in and the refresh token of a disabled account at once, and lets it in again once enabled', async () => {
    const user = await newUser('dana@example.com');
    const tokens = await probes.signIn('dana@example.com');
    expect(tokens.refresh_token).toEqual(expect.any(String));

    const disabled = await admin('POST', `/users/${user.id}/disable`);
    expect(disabled.status).toBe(200);
    expect(await disabled.json()).toMatchObject({ id: user.id, status: 'disabled', roles: [] });
    expect(await probes.refreshError(tokens.refresh_token!)).toBe('invalid_grant');
    await expect(probes.signIn('dana@example.com')).rejects.toThrow('sign-in refused');
    expect(await probes.lastChange('user.disabled')).toMatchObject({
      accountId: user.id,
      actor: 'admin:operator',
      details: { before: { status: 'active' }, after: { status: 'disabled' } },
    });

    const enabled = await admin('POST', `/users/${user.id}/enable`);
    expect(enabled.status).toBe(200);
    expect(await enabled.json()).toMatchObject({ status: 'active' });
    expect((await probes.signIn('dana@example.com')).access_token).toEqual(expect.any(String));
    expect(await probes.lastChange('user.enabled')).toMatchObject({
      accountId: user.id,
      actor: 'admin:operator',
    });
  });

  it('still signs a user out everywhere when PATCH /users/{id} sets status disabled', async () => {
    const user = await newUser('pat@example.com');
    const tokens = await probes.signIn('pat@example.com');
    const patched = await admin('PATCH', `/users/${user.id}`, { status: 'disabled' });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ status: 'disabled' });
    expect(await probes.refreshError(tokens.refresh_token!)).toBe('invalid_grant');
    expect((await gh.gatehouse.sessions.listGrants(user.id)).length).toBe(0);
  });
});

describe('deleting an account', () => {
  it('ends its tokens, deletes it, and answers 404 afterwards', async () => {
    const user = await newUser('del@example.com');
    await gh.gatehouse.rbac.assignToAccount(user.id, 'auditor');
    const tokens = await probes.signIn('del@example.com');

    const deleted = await admin('DELETE', `/users/${user.id}`);
    expect(deleted.status).toBe(204);
    expect(await probes.refreshError(tokens.refresh_token!)).toBe('invalid_grant');
    expect(await gh.gatehouse.accounts.findById(user.id)).toBeUndefined();
    expect((await admin('GET', `/users/${user.id}`)).status).toBe(404);
    const again = await admin('DELETE', `/users/${user.id}`);
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: 'not_found' });
    expect(await probes.lastChange('user.deleted')).toMatchObject({
      accountId: user.id,
      actor: 'admin:operator',
      details: { before: { email: 'del@example.com' } },
    });
  });
});

describe('setting a password', () => {
  it('applies the password policy, naming the field, and the new password is the one that works', async () => {
    const user = await newUser('pw@example.com');
    const weak = await admin('PUT', `/users/${user.id}/password`, { password: 'short' });
    expect(weak.status).toBe(400);
    expect(await weak.json()).toMatchObject({ error: 'invalid_request', field: 'password' });

    const next = 'a completely different passphrase';
    const set = await admin('PUT', `/users/${user.id}/password`, { password: next });
    expect(set.status).toBe(204);
    expect(await gh.gatehouse.accounts.authenticate('pw@example.com', next)).toMatchObject({ id: user.id });
    expect(await gh.gatehouse.accounts.authenticate('pw@example.com', password)).toBeUndefined();
    const event = await probes.lastChange('user.password_set');
    expect(event).toMatchObject({ accountId: user.id, actor: 'admin:operator' });
    expect(JSON.stringify(event)).not.toContain(next);

    expect((await admin('PUT', '/users/no-such-user/password', { password: next })).status).toBe(404);
    expect((await admin('PUT', `/users/${user.id}/password`, { password: next, extra: 1 })).status).toBe(400);
  });
});

describe('invitations without mail', () => {
  it('answers POST /invitations with a 400 naming smtp.url, and creates no account', async () => {
    const response = await admin('POST', '/invitations', { email: 'invited@example.com' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request', field: 'smtp.url' });
    expect(await gh.gatehouse.accounts.findByEmail('invited@example.com')).toBeUndefined();
  });
});

describe('client secrets and client deletion', () => {
  it('rotates a secret: shown once, the old one refused, the new one accepted', async () => {
    await registerService('rotating', 'rotating-first-secret-0123');
    expect(await probes.tokenStatus('rotating', 'rotating-first-secret-0123')).toEqual({ status: 200 });

    const rotated = await admin('POST', '/clients/rotating/rotate-secret');
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    const body = (await rotated.json()) as { client_id: string; client_secret: string };
    expect(body).toEqual({ client_id: 'rotating', client_secret: expect.stringMatching(/^[\w-]{43}$/) });

    expect(await probes.tokenStatus('rotating', 'rotating-first-secret-0123')).toEqual({
      status: 401,
      error: 'invalid_client',
    });
    expect(await probes.tokenStatus('rotating', body.client_secret)).toEqual({ status: 200 });
    const event = await probes.lastChange('client.secret_rotated');
    expect(event).toMatchObject({ clientId: 'rotating', actor: 'admin:operator' });
    expect(JSON.stringify(event)).not.toContain(body.client_secret);
  });

  it('refuses to rotate the secret of a public client (400) or an unknown one (404)', async () => {
    await gh.gatehouse.clients.create({
      id: 'spa',
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [],
      grantTypes: [],
      public: true,
      firstParty: false,
    });
    const publicClient = await admin('POST', '/clients/spa/rotate-secret');
    expect(publicClient.status).toBe(400);
    expect(await publicClient.json()).toMatchObject({ error: 'invalid_request' });
    expect((await admin('POST', '/clients/ghost/rotate-secret')).status).toBe(404);
  });

  it('deletes a client: its token requests fail with invalid_client, and it is audited', async () => {
    await registerService('doomed', 'doomed-secret-0123456789');
    expect(await probes.tokenStatus('doomed', 'doomed-secret-0123456789')).toEqual({ status: 200 });
    expect((await admin('DELETE', '/clients/doomed')).status).toBe(204);
    expect(await probes.tokenStatus('doomed', 'doomed-secret-0123456789')).toEqual({
      status: 401,
      error: 'invalid_client',
    });
    expect(await probes.lastChange('client.deleted')).toMatchObject({
      clientId: 'doomed',
      actor: 'admin:operator',
    });
    expect((await admin('DELETE', '/clients/doomed')).status).toBe(404);
  });
});

describe('APIs and upstreams', () => {
  const identifier = 'https://docs.example.com';
  const path = `/apis/${encodeURIComponent(identifier)}`;

  it('reads, changes and deletes an API by its URL-encoded identifier', async () => {
    expect(
      (await admin('POST', '/apis', { identifier, permissions: ['docs:read', 'docs:write'] })).status,
    ).toBe(201);
    expect(await (await admin('GET', path)).json()).toMatchObject({
      identifier,
      permissions: ['docs:read', 'docs:write'],
    });
    const patched = await admin('PATCH', path, {
      addPermissions: ['docs:share'],
      removePermissions: ['docs:write'],
      format: 'opaque',
      name: 'Docs',
      searchClaims: [{ name: 'readable', action: 'docs:read', type: 'doc' }],
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({
      identifier,
      name: 'Docs',
      format: 'opaque',
      permissions: ['docs:read', 'docs:share'],
      searchClaims: [{ name: 'readable', action: 'docs:read', type: 'doc' }],
    });
    const unknownPermission = await admin('PATCH', path, { removePermissions: ['docs:nothing'] });
    expect(unknownPermission.status).toBe(404);
    const builtin = await admin('PATCH', `/apis/${encodeURIComponent(`${gh.url}/admin`)}`, {
      addPermissions: ['admin:everything'],
    });
    expect(builtin.status).toBe(400);

    expect((await admin('DELETE', path)).status).toBe(204);
    expect((await admin('GET', path)).status).toBe(404);
    expect((await admin('DELETE', path)).status).toBe(404);
    expect(await probes.lastChange('api.delete')).toMatchObject({ actor: 'admin:operator' });
  });

  it('changes an upstream without showing its secret', async () => {
    await gh.gatehouse.identityProviders.create({
      id: 'octo',
      type: 'github',
      clientId: 'first-id',
      clientSecret: 'first-upstream-secret',
    });
    const patched = await admin('PATCH', '/idps/octo', {
      clientId: 'second-id',
      clientSecret: 'second-upstream-secret',
      name: 'Octo',
      scope: 'read:user',
    });
    expect(patched.status).toBe(200);
    const body = await patched.json();
    expect(body).toMatchObject({ id: 'octo', clientId: 'second-id', name: 'Octo', scope: 'read:user' });
    expect(JSON.stringify(body)).not.toContain('second-upstream-secret');
    expect(await gh.gatehouse.identityProviders.credentials('octo')).toMatchObject({
      clientSecret: 'second-upstream-secret',
    });
    expect(JSON.stringify(await probes.lastChange('idp.update'))).not.toContain('second-upstream-secret');
    expect((await admin('PATCH', '/idps/octo', { issuer: 'ftp://nope' })).status).toBe(400);
    expect((await admin('PATCH', '/idps/nobody', { name: 'x' })).status).toBe(404);
  });
});

describe('who may use the lifecycle verbs', () => {
  it('refuses every one of them to a token with admin:read only (403), changing nothing', async () => {
    const user = await newUser('kept@example.com');
    await registerService('kept-client', 'kept-client-secret-0123');
    for (const [method, path, body] of [
      ['POST', `/users/${user.id}/disable`],
      ['POST', `/users/${user.id}/enable`],
      ['DELETE', `/users/${user.id}`],
      ['PUT', `/users/${user.id}/password`, { password: 'a long enough other password' }],
      ['POST', '/clients/kept-client/rotate-secret'],
      ['DELETE', '/clients/kept-client'],
      ['PATCH', `/apis/${encodeURIComponent(`${gh.url}/admin`)}`, { name: 'x' }],
      ['DELETE', `/apis/${encodeURIComponent(`${gh.url}/admin`)}`],
      ['PATCH', '/idps/octo', { name: 'x' }],
    ] as const) {
      const response = await admin(method, path, body, readOnlyToken);
      expect([method, path, response.status]).toEqual([method, path, 403]);
    }
    expect(await gh.gatehouse.accounts.get(user.id)).toMatchObject({ status: 'active' });
    expect(await probes.tokenStatus('kept-client', 'kept-client-secret-0123')).toEqual({ status: 200 });
  });
});

describe('lists a page at a time', () => {
  beforeAll(async () => {
    for (const name of ['page-a', 'page-b', 'page-c']) {
      await gh.gatehouse.rbac.createRole(name);
      await gh.gatehouse.rbac.groups.create(name, {});
      await gh.gatehouse.rbac.createApi({ identifier: `https://${name}.example.com` });
      await gh.gatehouse.identityProviders.create({
        id: name,
        type: 'github',
        clientId: 'id',
        clientSecret: 'secret',
      });
    }
  });

  it.each([
    ['/clients', 'clients', 'id'],
    ['/roles', 'roles', 'name'],
    ['/groups', 'groups', 'name'],
    ['/apis', 'apis', 'identifier'],
    ['/idps', 'idps', 'id'],
  ])('walks %s with limit and cursor: every item once, then next null', async (path, key, field) => {
    const all = (await (await admin('GET', path)).json()) as Record<string, Record<string, string>[]> & {
      next: string | null;
    };
    expect(all.next).toBeNull();
    const expected = all[key]!.map((item) => item[field]);
    expect(expected.length).toBeGreaterThanOrEqual(3);
    const seen: string[] = [];
    let query = '?limit=2';
    for (let pages = 0; pages < 50; pages += 1) {
      const page = (await (await admin('GET', `${path}${query}`)).json()) as Record<
        string,
        Record<string, string>[]
      > & { next: string | null };
      expect(page[key]!.length).toBeLessThanOrEqual(2);
      seen.push(...page[key]!.map((item) => item[field]!));
      if (!page.next) break;
      query = `?limit=2&cursor=${encodeURIComponent(page.next)}`;
    }
    expect(seen).toEqual(expected);
  });

  it('walks the audit log with limit and cursor, each event once', async () => {
    const since = new Date(Date.now() - 600_000).toISOString();
    const all = (await (await admin('GET', `/audit?since=${since}`)).json()) as {
      events: { id: string }[];
      next: string | null;
    };
    expect(all.next).toBeNull();
    expect(all.events.length).toBeGreaterThan(3);
    const seen: string[] = [];
    let cursor = '';
    for (let pages = 0; pages < 500; pages += 1) {
      const page = (await (
        await admin('GET', `/audit?since=${since}&limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      ).json()) as { events: { id: string }[]; next: string | null };
      seen.push(...page.events.map((event) => event.id));
      if (!page.next) break;
      cursor = page.next;
    }
    // Reading the audit log writes none, so the pages add up to the whole list.
    expect(seen).toEqual(all.events.map((event) => event.id));
  });

  it('answers a cursor it did not give out, or a limit out of range, with a 400 naming the parameter', async () => {
    for (const [path, field] of [
      ['/roles?cursor=not-a-cursor', 'cursor'],
      ['/clients?limit=0', 'limit'],
      ['/apis?limit=5000', 'limit'],
      ['/audit?cursor=abc', 'cursor'],
    ] as const) {
      const response = await admin('GET', path);
      expect([path, response.status]).toEqual([path, 400]);
      expect(await response.json()).toMatchObject({ error: 'invalid_request', field });
    }
  });
});

describe('the OpenAPI document', () => {
  it('lists the lifecycle routes', async () => {
    const document = (await (await fetch(`${gh.url}/admin/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(document.paths['/users/{id}/disable']!)).toEqual(['post']);
    expect(Object.keys(document.paths['/users/{id}/enable']!)).toEqual(['post']);
    expect(Object.keys(document.paths['/users/{id}/password']!)).toEqual(['put']);
    expect(document.paths['/users/{id}']).toHaveProperty('delete');
    expect(document.paths['/clients/{id}/rotate-secret']).toHaveProperty('post');
    expect(document.paths['/apis/{identifier}']).toHaveProperty('patch');
    expect(document.paths['/apis/{identifier}']).toHaveProperty('delete');
    expect(document.paths['/idps/{id}']).toHaveProperty('patch');
  });
});
