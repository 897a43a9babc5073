/**
 * The OpenAPI document of the admin API (issue 17): generated from the zod schemas the routes validate with and the
 * response schemas of response-schemas.ts. The router and the document list the same operations (each way round),
 * real answers of a running Gatehouse parse against the documented response schemas (so a field the API starts to
 * send without describing it fails here), and the served document is OpenAPI 3.1 in shape with every `$ref`
 * resolving.
 */
import * as oidc from 'openid-client';
import type { z } from 'zod';
import { createAdminRouter, type AdminRouterDeps } from '../../src/routes/admin-api/admin-router.ts';
import { adminApiOperations } from '../../src/routes/admin-api/openapi.ts';
import type { AdminOperation } from '../../src/routes/admin-api/openapi-operation.ts';
import * as responses from '../../src/routes/admin-api/response-schemas.ts';
import { adminApiToken } from '../support/admin-access.ts';
import { authorizeOverHttp, createHttpBrowser } from '../support/http-sign-in.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

let gh: TestGatehouse;
let token: string;
const redirectUri = 'http://127.0.0.1:9/cb';
const webSecret = 'web-app-secret-0123456789';
const password = 'a long enough first password';

beforeAll(async () => {
  gh = await startTestGatehouse();
  token = await adminApiToken(gh);
  await gh.gatehouse.clients.create({
    id: 'web-app',
    secret: webSecret,
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code', 'refresh_token'],
    scope: 'openid email profile offline_access',
    public: false,
    firstParty: true,
  });
}, 60_000);

afterAll(() => gh?.close());

const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;
const documented = new Set(adminApiOperations.map((operation) => key(operation.method, operation.path)));

/** The routes the admin router registers, as `METHOD /path` with `{name}` parameters (HEAD is Koa's, for GET). */
function routerOperations(): Set<string> {
  // Routes are registered when the router is built; no handler runs here, so no library is needed.
  const router = createAdminRouter({
    issuer: 'https://id.example.com',
    bodyLimitBytes: 102_400,
    verify: async () => undefined,
  } as unknown as AdminRouterDeps);
  const routes = new Set<string>();
  for (const layer of router.stack) {
    const path = String(layer.path)
      .replace(/^\/admin\/api/, '')
      .replace(/:(\w+)/g, '{$1}');
    for (const method of layer.methods) if (method !== 'HEAD') routes.add(key(method, path));
  }
  return routes;
}

describe('the operations', () => {
  it('documents every route the admin router serves', () => {
    const routes = routerOperations();
    expect(routes.size).toBeGreaterThan(60);
    expect([...routes].filter((route) => !documented.has(route))).toEqual([]);
  });

  it('documents no operation the admin router does not serve', () => {
    const routes = routerOperations();
    expect([...documented].filter((operation) => !routes.has(operation))).toEqual([]);
  });

  it('serves every documented operation in the running app (a refusal for want of a token, never a 404)', async () => {
    const answers: string[] = [];
    for (const operation of adminApiOperations) {
      const path = operation.path.replace(/\{(\w+)\}/g, 'x');
      const response = await fetch(`${gh.url}/admin/api${path}`, { method: operation.method.toUpperCase() });
      const body: unknown = await response.json();
      const expected = operation.permission ? 401 : 200;
      if (response.status !== expected)
        answers.push(`${key(operation.method, operation.path)}: ${response.status}`);
      if (operation.permission) expect(responses.errorResponse.parse(body).error).toBe('unauthorized');
    }
    expect(answers).toEqual([]);
  });

  it('gives every operation a unique operationId, a summary, a success answer and the permission it needs', () => {
    const ids = adminApiOperations.map((operation) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const operation of adminApiOperations) {
      expect(operation.summary.length).toBeGreaterThan(0);
      // A 204 answers nothing; every other success has a schema.
      expect(operation.response === undefined).toBe(operation.status === 204);
      if (operation.method === 'get') expect(operation.permission ?? 'admin:read').toBe('admin:read');
    }
    expect(
      adminApiOperations
        .filter((operation) => operation.method !== 'get' && operation.permission !== 'admin:write')
        .map((operation) => operation.operationId),
    ).toEqual(['checkAuthorization']);
  });
});

type Json = Record<string, unknown>;

/** Resolves a local JSON pointer (`#/components/schemas/User`) in the document; undefined when it does not. */
function resolvePointer(document: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = document;
  for (const raw of ref.slice(2).split('/')) {
    const segment = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof node !== 'object' || node === null || !(segment in node)) return undefined;
    node = (node as Json)[segment];
  }
  return node;
}

function refsIn(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refsIn(item, found);
  else if (typeof node === 'object' && node !== null)
    for (const [name, value] of Object.entries(node)) {
      if (name === '$ref' && typeof value === 'string') found.push(value);
      else refsIn(value, found);
    }
  return found;
}

describe('the served document', () => {
  let document: Json;
  beforeAll(async () => {
    const response = await fetch(`${gh.url}/admin/api/openapi.json`);
    expect(response.status).toBe(200);
    document = (await response.json()) as Json;
  });

  it('is OpenAPI 3.1 with the admin API as its server and both token schemes', () => {
    expect(document).toMatchObject({
      openapi: '3.1.0',
      info: { title: 'Gatehouse admin API', version: expect.any(String) },
      servers: [{ url: `${gh.url}/admin/api` }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          dpop: { type: 'http', scheme: 'DPoP' },
        },
      },
    });
  });

  it('resolves every $ref inside the document', () => {
    const refs = refsIn(document);
    expect(refs.length).toBeGreaterThan(100);
    expect([...new Set(refs)].filter((ref) => resolvePointer(document, ref) === undefined)).toEqual([]);
  });

  it('describes each operation: id, parameters of every path template, body, answers and security', () => {
    const paths = document.paths as Record<string, Record<string, Json>>;
    let count = 0;
    for (const [path, methods] of Object.entries(paths)) {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => name).sort();
      for (const [method, operation] of Object.entries(methods)) {
        count++;
        const where = `${method} ${path}`;
        const parameters = (operation.parameters ?? []) as { name: string; in: string; schema: unknown }[];
        expect([
          where,
          parameters
            .filter((p) => p.in === 'path')
            .map((p) => p.name)
            .sort(),
        ]).toEqual([where, templated]);
        for (const parameter of parameters) expect(parameter.schema).toEqual(expect.any(Object));
        expect(operation.operationId).toEqual(expect.any(String));
        const answers = operation.responses as Record<string, Json>;
        const success = Object.keys(answers).filter((status) => status.startsWith('2'));
        expect([where, success.length]).toEqual([where, 1]);
        if (success[0] !== '204')
          expect(answers[success[0]!]).toMatchObject({
            content: {
              'application/json': { schema: { $ref: expect.stringMatching(/^#\/components\/schemas\//) } },
            },
          });
        const security = operation.security as Record<string, string[]>[];
        if (path === '/openapi.json') expect(security).toEqual([]);
        else {
          expect(Object.keys(answers)).toEqual(expect.arrayContaining(['401', '403']));
          expect(security).toEqual([
            { bearer: [expect.stringMatching(/^admin:(read|write)$/)] },
            { dpop: security[0]!.bearer },
          ]);
        }
        if (['post', 'put', 'patch'].includes(method) && operation.requestBody)
          expect(Object.keys(answers)).toEqual(expect.arrayContaining(['400', '413']));
      }
    }
    expect(count).toBe(adminApiOperations.length);
  });

  it('takes request bodies and query parameters from the schemas the routes validate with', () => {
    const paths = document.paths as Record<string, Record<string, Json>>;
    const createUser = paths['/users']!.post!.requestBody as Json;
    expect(createUser).toMatchObject({
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: expect.arrayContaining(['email', 'password']),
            additionalProperties: false,
            properties: { email: { type: 'string', minLength: 1, maxLength: 320 } },
          },
        },
      },
    });
    expect(paths['/audit']!.get!.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'limit',
          in: 'query',
          required: false,
          schema: expect.objectContaining({ maximum: 10_000 }),
        }),
        // A default computed per request is described, not frozen into the document.
        expect.objectContaining({
          name: 'since',
          in: 'query',
          schema: { type: 'string', format: 'date-time' },
        }),
      ]),
    );
    expect(paths['/resources']!.get!.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'type', in: 'query', required: true })]),
    );
  });
});

/** The documented operation of a method and path template. */
function operation(method: AdminOperation['method'], path: string): AdminOperation {
  const found = adminApiOperations.find(
    (candidate) => candidate.method === method && candidate.path === path,
  );
  if (!found) throw new Error(`${method} ${path} is not documented`);
  return found;
}

/**
 * Calls the admin API as `template` (with `path`, its parameters filled in) and checks the answer against the
 * document: its status is the documented success, and its body parses against the documented response schema.
 * The body sent must parse against the documented request schema too.
 */
async function call<T = Json>(
  method: AdminOperation['method'],
  template: string,
  options: { path?: string; body?: unknown } = {},
): Promise<T> {
  const documentedOperation = operation(method, template);
  if (options.body !== undefined)
    expect(documentedOperation.body!.safeParse(options.body).error).toBeUndefined();
  const response = await fetch(`${gh.url}/admin/api${options.path ?? template}`, {
    method: method.toUpperCase(),
    headers: {
      authorization: `Bearer ${token}`,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  expect([key(method, template), response.status, text.slice(0, 300)]).toEqual([
    key(method, template),
    documentedOperation.status ?? 200,
    expect.any(String),
  ]);
  if (documentedOperation.status === 204) {
    expect(text).toBe('');
    return undefined as T;
  }
  const parsed = (documentedOperation.response as z.ZodType).safeParse(JSON.parse(text));
  expect([key(method, template), parsed.error?.issues]).toEqual([key(method, template), undefined]);
  return parsed.data as T;
}

describe('real answers against the documented response schemas', () => {
  it('accounts: create, list, get, update, roles, permissions, disable, enable, unlock, reset, delete', async () => {
    await call('post', '/roles', { body: { name: 'reader', permissions: ['docs:read'] } });
    const created = await call<{ id: string }>('post', '/users', {
      body: { email: 'ada@example.com', password, name: 'Ada', roles: ['reader'], attributes: { level: 3 } },
    });
    await call('post', '/users', { body: { email: 'bob@example.com', password } });
    const first = await call<{ next: string | null }>('get', '/users', { path: '/users?limit=1' });
    expect(first.next).toEqual(expect.any(String));
    await call('get', '/users', { path: `/users?limit=1000&cursor=${first.next!}` });
    const user = `/users/${created.id}`;
    await call('get', '/users/{id}', { path: user });
    await call('patch', '/users/{id}', { path: user, body: { name: 'Ada L.', removeAttributes: ['level'] } });
    await call('post', '/users/{id}/roles', { path: `${user}/roles`, body: { role: 'reader' } });
    await call('delete', '/users/{id}/roles/{role}', { path: `${user}/roles/reader` });
    await call('post', '/users/{id}/permissions', {
      path: `${user}/permissions`,
      body: { permission: 'docs:write' },
    });
    await call('delete', '/users/{id}/permissions/{permission}', { path: `${user}/permissions/docs:write` });
    await call('post', '/users/{id}/disable', { path: `${user}/disable` });
    await call('post', '/users/{id}/enable', { path: `${user}/enable` });
    await call('post', '/users/{id}/unlock', { path: `${user}/unlock` });
    await call('post', '/users/{id}/reset-mfa', { path: `${user}/reset-mfa` });
    await call('put', '/users/{id}/password', {
      path: `${user}/password`,
      body: { password: 'another long passphrase' },
    });
    await call('delete', '/users/{id}', { path: user });
  });

  it('sessions: list a signed-in account’s sessions and grants, end one, sign it out everywhere', async () => {
    const account = await gh.gatehouse.accounts.create({ email: 'sam@example.com', password });
    const rp = await oidc.discovery(
      new URL(gh.url),
      'web-app',
      undefined,
      oidc.ClientSecretBasic(webSecret),
      {
        execute: [oidc.allowInsecureRequests],
      },
    );
    const flow = await authorizeOverHttp(
      createHttpBrowser(),
      {
        issuer: gh.url,
        clientId: 'web-app',
        redirectUri,
        scope: 'openid email offline_access',
        params: { prompt: 'consent' },
      },
      { email: 'sam@example.com', password },
    );
    await oidc.authorizationCodeGrant(rp, flow.callback, {
      pkceCodeVerifier: flow.codeVerifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
    });
    const path = `/users/${account.id}/sessions`;
    const listed = await call<z.infer<typeof responses.userSessions>>('get', '/users/{id}/sessions', {
      path,
    });
    expect(listed.sessions).toHaveLength(1);
    expect(listed.grants).toHaveLength(1);
    await call('delete', '/users/{id}/grants/{grantId}', {
      path: `/users/${account.id}/grants/${listed.grants[0]!.grantId}`,
    });
    await call('delete', '/users/{id}/sessions/{sessionId}', { path: `${path}/${listed.sessions[0]!.id}` });
    expect(await call('delete', '/users/{id}/sessions', { path })).toEqual({ sessions: 0, grants: 0 });
  }, 30_000);

  it('roles and groups', async () => {
    await call('post', '/roles', {
      body: { name: 'editor', permissions: ['docs:write'], description: 'Edits' },
    });
    await call('get', '/roles', { path: '/roles?limit=1' });
    await call('patch', '/roles/{name}', { path: '/roles/editor', body: { mfaRequired: true } });
    await call('post', '/roles/{name}/permissions', {
      path: '/roles/editor/permissions',
      body: { permission: 'docs:publish' },
    });
    await call('delete', '/roles/{name}/permissions/{permission}', {
      path: '/roles/editor/permissions/docs:publish',
    });
    await call('post', '/groups', { body: { name: 'staff', roles: ['editor'] } });
    await call('post', '/groups', {
      body: { name: 'writers', parents: ['staff'], permissions: ['docs:draft'] },
    });
    await call('get', '/groups', { path: '/groups?limit=1' });
    await call('patch', '/groups/{name}', { path: '/groups/writers', body: { addRoles: ['editor'] } });
    await call('post', '/groups/{name}/members', {
      path: '/groups/writers/members',
      body: { email: 'bob@example.com' },
    });
    const group = await call<{ members: { id: string }[] }>('get', '/groups/{name}', {
      path: '/groups/writers',
    });
    expect(group.members).toHaveLength(1);
    await call('delete', '/groups/{name}/members/{accountId}', {
      path: `/groups/writers/members/${group.members[0]!.id}`,
    });
    await call('delete', '/groups/{name}', { path: '/groups/writers' });
    await call('delete', '/roles/{name}', { path: '/roles/reader' });
  });

  it('clients, APIs and upstream identity providers', async () => {
    const api = 'https://docs.example.com';
    await call('post', '/apis', {
      body: {
        identifier: api,
        name: 'Docs',
        permissions: ['docs:read'],
        descriptions: { 'docs:write': 'Edit your documents' },
      },
    });
    await call('get', '/apis', { path: '/apis?limit=1' });
    const apiPath = `/apis/${encodeURIComponent(api)}`;
    await call('get', '/apis/{identifier}', { path: apiPath });
    await call('patch', '/apis/{identifier}', {
      path: apiPath,
      body: { format: 'opaque', accessTokenTtl: 600 },
    });

    const created = await call<{ secret?: string }>('post', '/clients', {
      body: {
        id: 'docs-app',
        redirectUris: [redirectUri],
        grantTypes: ['authorization_code'],
        apis: [api],
        roles: ['editor'],
      },
    });
    expect(created.secret).toEqual(expect.any(String));
    await call('get', '/clients', { path: '/clients?limit=2' });
    await call('get', '/clients/{id}', { path: '/clients/docs-app' });
    await call('patch', '/clients/{id}', {
      path: '/clients/docs-app',
      body: { name: 'Docs', backchannelLogoutUri: null },
    });
    await call('post', '/clients/{id}/rotate-secret', { path: '/clients/docs-app/rotate-secret' });
    await call('delete', '/clients/{id}', { path: '/clients/docs-app' });
    await call('delete', '/apis/{identifier}', { path: apiPath });

    await call('post', '/idps', {
      body: {
        id: 'github',
        type: 'github',
        clientId: 'gh-client',
        clientSecret: 'gh-secret',
        roleRules: [{ claim: 'site_admin', value: 'true', role: 'editor' }],
      },
    });
    await call('get', '/idps', { path: '/idps?limit=1' });
    await call('patch', '/idps/{id}', { path: '/idps/github', body: { name: 'GitHub (Acme)' } });
    await call('delete', '/idps/{id}', { path: '/idps/github' });
  });

  it('the audit log, a page at a time', async () => {
    const first = await call<{ next: string | null; events: unknown[] }>('get', '/audit', {
      path: '/audit?limit=2',
    });
    expect(first.events).toHaveLength(2);
    expect(first.next).toEqual(expect.any(String));
    await call('get', '/audit', { path: `/audit?type=admin.change&limit=10000&cursor=${first.next!}` });
  });

  it('policies, resources and decisions', async () => {
    await call('get', '/policy');
    const policy =
      '@id("owners-edit")\npermit(principal, action == Action::"edit", resource is doc)\n  when { resource has owner && resource.owner == principal };';
    await call('put', '/policy', { body: { text: policy } });
    await call('put', '/policy', { body: { text: '@id("nothing") forbid(principal, action, resource);' } });
    await call('get', '/policy/history');
    await call('get', '/policy/versions/{version}', { path: '/policy/versions/1' });
    await call('post', '/policy/rollback', { body: { version: 1 } });
    const owner = (await gh.gatehouse.accounts.create({ email: 'rita@example.com', password })).id;
    await call('put', '/resources/{type}/{id}', {
      path: '/resources/doc/plan',
      body: { attributes: { owner: { __entity: { type: 'user', id: owner } }, pages: 3 } },
    });
    await call('post', '/resources/import', {
      body: [{ uid: { type: 'doc', id: 'memo' }, attrs: {}, parents: [] }],
    });
    await call('get', '/resources', { path: '/resources?type=doc&limit=1' });
    await call('get', '/resources/{type}/{id}', { path: '/resources/doc/plan' });
    await call('post', '/resources/{type}/{id}/share', {
      path: '/resources/doc/memo/share',
      body: { relation: 'viewers', email: 'rita@example.com' },
    });
    await call('post', '/resources/{type}/{id}/unshare', {
      path: '/resources/doc/memo/unshare',
      body: { relation: 'viewers', email: 'rita@example.com' },
    });
    const decided = await call<{ decision: boolean }>('post', '/authz/check', {
      body: {
        subject: { type: 'user', id: owner },
        action: { name: 'edit' },
        resource: { type: 'doc', id: 'plan' },
        explain: true,
      },
    });
    expect(decided.decision).toBe(true);
    await call('delete', '/resources/{type}/{id}', { path: '/resources/doc/memo' });
  });

  it('the document itself', async () => {
    await call('get', '/openapi.json');
  });

  it('refusals: 400, 401, 403 and 404 answer the documented error shape', async () => {
    await gh.gatehouse.rbac.createRole('openapi-auditor', { permissions: ['admin:read'] });
    await gh.gatehouse.clients.register({
      id: 'openapi-auditor',
      secret: 'openapi-auditor-secret-0123456789',
      redirectUris: [],
      postLogoutRedirectUris: [],
      grantTypes: ['client_credentials'],
      public: false,
      firstParty: false,
      roles: ['openapi-auditor'],
    });
    const auditor = await oidc.discovery(
      new URL(gh.url),
      'openapi-auditor',
      undefined,
      oidc.ClientSecretBasic('openapi-auditor-secret-0123456789'),
      { execute: [oidc.allowInsecureRequests] },
    );
    const readOnly = (await oidc.clientCredentialsGrant(auditor, { resource: `${gh.url}/admin` }))
      .access_token;
    const refusal = async (method: string, path: string, bearer: string | undefined, body?: unknown) => {
      const response = await fetch(`${gh.url}/admin/api${path}`, {
        method,
        headers: {
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: responses.errorResponse.parse(await response.json()) };
    };
    expect(
      await refusal('POST', '/users', token, { email: 'x@example.com', password, typo: 1 }),
    ).toMatchObject({
      status: 400,
      body: { error: 'invalid_request' },
    });
    expect((await refusal('GET', '/users', undefined)).status).toBe(401);
    expect(await refusal('POST', '/roles', readOnly, { name: 'nope' })).toMatchObject({
      status: 403,
      body: { error: 'insufficient_scope' },
    });
    expect(await refusal('GET', '/users/no-such-user', token)).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    });
  }, 30_000);
});

describe('the response schemas', () => {
  it('refuse a field the document does not describe, so an undocumented change to an answer fails above', () => {
    const role = { name: 'r', description: null, builtin: false, mfaRequired: false, permissions: [] };
    expect(responses.role.safeParse(role).success).toBe(true);
    expect(responses.role.safeParse({ ...role, secret: 'x' }).success).toBe(false);
    expect(responses.rolePage.safeParse({ roles: [role] }).success).toBe(false);
  });
});
