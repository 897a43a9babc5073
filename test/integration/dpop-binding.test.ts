import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import Koa from 'koa';
import * as oidc from 'openid-client';
import { createGatehouse, type Gatehouse } from '../../src/app.ts';
import {
  createIntrospectionVerifier,
  createJwtVerifier,
} from '../../src/middleware/access-token-verifiers.ts';
import { requirePermission } from '../../src/middleware/require-permission.ts';
import { createTokenInspector } from '../../src/oidc/token-inspector.ts';
import { silentLog, startTestGatehouse, testSecret, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * DPoP-bound access tokens (RFC 9449: `cnf.jkt`) count only with the DPoP scheme and a proof signed by their key:
 * at the admin API, in JWT introspection answers, and in the exported middleware (requirePermission with
 * createJwtVerifier or createIntrospectionVerifier). A thief who steals a bound token cannot use it as a Bearer
 * token, nor with a proof of their own key, nor by replaying a proof the owner sent.
 */
let gh: TestGatehouse;
let adminApi: string;
let adminService: oidc.Configuration;
let writerService: oidc.Configuration;
const articles = 'https://api.example.com/articles';
const reports = 'https://api.example.com/reports';

interface Holder {
  keyPair: CryptoKeyPair;
  publicJwk: JWK;
  jkt: string;
}

async function newHolder(): Promise<Holder> {
  const keyPair = (await generateKeyPair('ES256', { extractable: true })) as CryptoKeyPair;
  const publicJwk = await exportJWK(keyPair.publicKey);
  return { keyPair, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

/** A DPoP proof made by hand, so that each claim can be made wrong on purpose. */
async function proof(
  holder: Holder,
  request: { method: string; url: string; token: string },
  overrides: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT({
    htm: request.method,
    htu: request.url,
    ath: ath(request.token),
    jti: randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    ...overrides,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.publicJwk })
    .sign(holder.keyPair.privateKey);
}

/** A token bound to the holder's key, obtained the way a client does (openid-client's DPoP support). */
async function boundToken(client: oidc.Configuration, holder: Holder, resource: string): Promise<string> {
  const DPoP = oidc.getDPoPHandle(client, holder.keyPair);
  const tokens = await oidc.clientCredentialsGrant(client, { resource }, { DPoP });
  expect(tokens.token_type).toBe('dpop');
  return tokens.access_token;
}

const challengeOf = (response: Response) => response.headers.get('www-authenticate') ?? '';

function expectRefused(response: Response, error: 'invalid_token' | 'invalid_dpop_proof') {
  expect(response.status).toBe(401);
  expect(challengeOf(response)).toContain(`error="${error}"`);
  if (error === 'invalid_dpop_proof') expect(challengeOf(response)).toMatch(/^DPoP .*algs="ES256[ "]/);
}

beforeAll(async () => {
  gh = await startTestGatehouse();
  adminApi = `${gh.url}/admin`;
  const { clients, rbac } = gh.gatehouse;
  await rbac.createRole('writer', { permissions: ['articles:write', 'reports:read'] });
  await rbac.createApi({ identifier: articles, permissions: ['articles:write'] });
  await rbac.createApi({ identifier: reports, permissions: ['reports:read'], format: 'opaque' });
  for (const [id, role] of [
    ['admin-service', 'admin'],
    ['writer-service', 'writer'],
    ['articles-api', undefined],
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
    if (role) await rbac.assignToClient(id, role);
  }
  const discover = (id: string) =>
    oidc.discovery(new URL(gh.url), id, undefined, oidc.ClientSecretBasic(`${id}-secret-0123456789`), {
      execute: [oidc.allowInsecureRequests],
    });
  adminService = await discover('admin-service');
  writerService = await discover('writer-service');
});

afterAll(() => gh.close());

describe('the admin API', () => {
  const usersUrl = () => `${gh.url}/admin/api/users`;
  const get = (headers: Record<string, string>) => fetch(usersUrl(), { headers });

  it('stops a thief replaying a stolen DPoP-bound token as a plain Bearer token at the admin API', async () => {
    const token = await boundToken(adminService, await newHolder(), adminApi);
    const response = await get({ authorization: `Bearer ${token}` });
    expectRefused(response, 'invalid_token');
    expect(await response.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('accepts the bound token with the DPoP scheme and a valid proof, for reads and writes', async () => {
    const holder = await newHolder();
    const token = await boundToken(adminService, holder, adminApi);
    const DPoP = oidc.getDPoPHandle(adminService, holder.keyPair);
    const read = await oidc.fetchProtectedResource(
      adminService,
      token,
      new URL(usersUrl()),
      'GET',
      undefined,
      undefined,
      {
        DPoP,
      },
    );
    expect(read.status).toBe(200);
    const created = await fetch(`${gh.url}/admin/api/roles`, {
      method: 'POST',
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await proof(holder, { method: 'POST', url: `${gh.url}/admin/api/roles`, token }),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ name: 'dpop-made', permissions: [] }),
    });
    expect(created.status).toBe(201);
  });

  it('stops a thief presenting a stolen bound token with a proof of their own key (thumbprint mismatch)', async () => {
    const token = await boundToken(adminService, await newHolder(), adminApi);
    const thief = await newHolder();
    const response = await get({
      authorization: `DPoP ${token}`,
      dpop: await proof(thief, { method: 'GET', url: usersUrl(), token }),
    });
    expectRefused(response, 'invalid_dpop_proof');
  });

  it('stops a proof made for another method, another path or another host', async () => {
    const holder = await newHolder();
    const token = await boundToken(adminService, holder, adminApi);
    const request = { method: 'GET', url: usersUrl(), token };
    expectRefused(
      await get({
        authorization: `DPoP ${token}`,
        dpop: await proof(holder, { ...request, method: 'DELETE' }),
      }),
      'invalid_dpop_proof',
    );
    expectRefused(
      await get({
        authorization: `DPoP ${token}`,
        dpop: await proof(holder, { ...request, url: `${gh.url}/admin/api/clients` }),
      }),
      'invalid_dpop_proof',
    );
    expectRefused(
      await get({
        authorization: `DPoP ${token}`,
        dpop: await proof(holder, { ...request, url: 'https://evil.example/admin/api/users' }),
      }),
      'invalid_dpop_proof',
    );
    // The query is not part of htu.
    const withQuery = await fetch(`${usersUrl()}?limit=5`, {
      headers: { authorization: `DPoP ${token}`, dpop: await proof(holder, request) },
    });
    expect(withQuery.status).toBe(200);
  });

  it('stops a proof without ath, or with the ath of another token', async () => {
    const holder = await newHolder();
    const token = await boundToken(adminService, holder, adminApi);
    const other = await boundToken(adminService, holder, adminApi);
    const request = { method: 'GET', url: usersUrl(), token };
    expectRefused(
      await get({ authorization: `DPoP ${token}`, dpop: await proof(holder, request, { ath: undefined }) }),
      'invalid_dpop_proof',
    );
    expectRefused(
      await get({ authorization: `DPoP ${token}`, dpop: await proof(holder, { ...request, token: other }) }),
      'invalid_dpop_proof',
    );
  });

  it('stops a missing proof, a stale proof and two proofs at once', async () => {
    const holder = await newHolder();
    const token = await boundToken(adminService, holder, adminApi);
    const request = { method: 'GET', url: usersUrl(), token };
    expectRefused(await get({ authorization: `DPoP ${token}` }), 'invalid_dpop_proof');
    expectRefused(
      await get({
        authorization: `DPoP ${token}`,
        dpop: await proof(holder, request, { iat: Math.floor(Date.now() / 1000) - 600 }),
      }),
      'invalid_dpop_proof',
    );
    const headers = new Headers({ authorization: `DPoP ${token}` });
    headers.append('dpop', await proof(holder, request));
    headers.append('dpop', await proof(holder, request));
    expectRefused(await fetch(usersUrl(), { headers }), 'invalid_dpop_proof');
  });

  it('stops an eavesdropper replaying a proof (same jti) the owner already used', async () => {
    const holder = await newHolder();
    const token = await boundToken(adminService, holder, adminApi);
    const headers = {
      authorization: `DPoP ${token}`,
      dpop: await proof(holder, { method: 'GET', url: usersUrl(), token }),
    };
    expect((await get(headers)).status).toBe(200);
    expectRefused(await get(headers), 'invalid_dpop_proof');
  });

  it('stops a replayed proof at another Gatehouse process sharing the Redis (the replay cache is in Redis)', async () => {
    const second: Gatehouse = await createGatehouse(gh.config, {
      pool: gh.pool,
      hotState: gh.hotState,
      log: silentLog,
      secret: testSecret,
      internalOrigin: () => gh.url,
    });
    const server = createServer(second.app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const holder = await newHolder();
      const token = await boundToken(adminService, holder, adminApi);
      const headers = {
        authorization: `DPoP ${token}`,
        dpop: await proof(holder, { method: 'GET', url: usersUrl(), token }),
      };
      expect((await get(headers)).status).toBe(200);
      const elsewhere = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/api/users`;
      expectRefused(await fetch(elsewhere, { headers }), 'invalid_dpop_proof');
      const keys = await gh.redis!.client.keys(`${gh.redis!.prefix}dpop-jti:*`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await second.close();
    }
  });

  it('refuses an unbound token presented with the DPoP scheme, and still accepts it as Bearer', async () => {
    const token = (await oidc.clientCredentialsGrant(adminService, { resource: adminApi })).access_token;
    const holder = await newHolder();
    expectRefused(
      await get({
        authorization: `DPoP ${token}`,
        dpop: await proof(holder, { method: 'GET', url: usersUrl(), token }),
      }),
      'invalid_token',
    );
    expect((await get({ authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it('answers 403 insufficient_scope, not 401, for a bound token with a valid proof but no admin permission', async () => {
    const holder = await newHolder();
    const DPoP = oidc.getDPoPHandle(writerService, holder.keyPair);
    const token = (await oidc.clientCredentialsGrant(writerService, { resource: adminApi }, { DPoP }))
      .access_token;
    const response = await get({
      authorization: `DPoP ${token}`,
      dpop: await proof(holder, { method: 'GET', url: usersUrl(), token }),
    });
    expect(response.status).toBe(403);
    expect(challengeOf(response)).toContain('error="insufficient_scope"');
  });
});

describe('introspection', () => {
  it('answers for a DPoP-bound JWT with its cnf.jkt and token_type DPoP, and for a Bearer JWT without', async () => {
    const holder = await newHolder();
    const token = await boundToken(writerService, holder, articles);
    expect(await oidc.tokenIntrospection(writerService, token)).toMatchObject({
      active: true,
      token_type: 'DPoP',
      cnf: { jkt: holder.jkt },
    });
    const plain = (await oidc.clientCredentialsGrant(writerService, { resource: articles })).access_token;
    const answer = await oidc.tokenIntrospection(writerService, plain);
    expect(answer).toMatchObject({ active: true, token_type: 'Bearer' });
    expect(answer).not.toHaveProperty('cnf');
  });

  it('answers for a DPoP-bound opaque token with its cnf.jkt (oidc-provider does)', async () => {
    const holder = await newHolder();
    const token = await boundToken(writerService, holder, reports);
    expect(await oidc.tokenIntrospection(writerService, token)).toMatchObject({
      active: true,
      cnf: { jkt: holder.jkt },
    });
  });

  it('the token inspector reports the key a bound opaque token needs', async () => {
    const holder = await newHolder();
    const token = await boundToken(writerService, holder, reports);
    const inspector = createTokenInspector({
      provider: () => gh.gatehouse.provider,
      publicKeys: () => [],
      issuer: gh.config.issuer,
    });
    expect(await inspector.inspect(token)).toMatchObject({
      format: 'opaque',
      confirmation: { jkt: holder.jkt },
    });
  });
});

describe('the exported middleware (requirePermission with the verifiers)', () => {
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dpop = { baseUrl: origin };
    const introspect = (audience: string) =>
      createIntrospectionVerifier({
        issuer: gh.url,
        audience,
        clientId: 'articles-api',
        clientSecret: 'articles-api-secret-0123456789',
      });
    const router = new Router();
    const done = (ctx: Koa.Context) => {
      ctx.status = 204;
    };
    router.delete(
      '/jwt/articles/1',
      requirePermission('articles:write', {
        verify: createJwtVerifier({ issuer: gh.url, audience: articles }),
        dpop,
      }),
      done,
    );
    router.delete(
      '/introspect/articles/1',
      requirePermission('articles:write', { verify: introspect(articles), dpop }),
      done,
    );
    router.get(
      '/introspect/reports/1',
      requirePermission('reports:read', { verify: introspect(reports), dpop }),
      done,
    );
    const app = new Koa();
    app.use(router.routes());
    server.on('request', app.callback());
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const cases = [
    { name: 'createJwtVerifier (JWT)', method: 'DELETE', path: '/jwt/articles/1', resource: articles },
    {
      name: 'createIntrospectionVerifier (JWT, Gatehouse JWT introspection)',
      method: 'DELETE',
      path: '/introspect/articles/1',
      resource: articles,
    },
    {
      name: 'createIntrospectionVerifier (opaque)',
      method: 'GET',
      path: '/introspect/reports/1',
      resource: reports,
    },
  ];

  describe.each(cases)('with $name', ({ method, path, resource }) => {
    const call = (headers: Record<string, string>) => fetch(`${origin}${path}`, { method, headers });
    const url = () => `${origin}${path}`;

    it('stops a thief replaying a stolen DPoP-bound token as a plain Bearer token at a relying party API', async () => {
      const token = await boundToken(writerService, await newHolder(), resource);
      expectRefused(await call({ authorization: `Bearer ${token}` }), 'invalid_token');
    });

    it('accepts the bound token with a valid proof, and refuses a replay of that proof', async () => {
      const holder = await newHolder();
      const token = await boundToken(writerService, holder, resource);
      const headers = {
        authorization: `DPoP ${token}`,
        dpop: await proof(holder, { method, url: url(), token }),
      };
      expect((await call(headers)).status).toBe(204);
      expectRefused(await call(headers), 'invalid_dpop_proof');
    });

    it('refuses a proof of another key, method or URL, or for another token', async () => {
      const holder = await newHolder();
      const token = await boundToken(writerService, holder, resource);
      const request = { method, url: url(), token };
      const thief = await newHolder();
      for (const dpopProof of [
        await proof(thief, request),
        await proof(holder, { ...request, method: method === 'GET' ? 'POST' : 'GET' }),
        await proof(holder, { ...request, url: `${origin}/elsewhere` }),
        await proof(holder, request, { ath: ath('another token') }),
      ])
        expectRefused(await call({ authorization: `DPoP ${token}`, dpop: dpopProof }), 'invalid_dpop_proof');
    });
  });
});
