import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import {
  IssuerUnavailableError,
  createIntrospectionVerifier,
  createJwtVerifier,
  createMemoryIntrospectionCache,
} from '../../../packages/guard/src/index.ts';

/** The JWT (JWKS) and introspection verifiers of @gatehouse/guard against a stand-in issuer on loopback. */

let server: Server;
let issuer: string;
const audience = 'https://api.example.com';
const hits: string[] = [];
let jwks: { keys: JWK[] } = { keys: [] };
let jwksStatus = 200;
let introspection: (body: URLSearchParams, req: IncomingMessage) => [number, unknown] = () => [
  200,
  { active: false },
];
let signingKey: CryptoKey;

const listen = (s: Server) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));

beforeAll(async () => {
  server = createServer(async (req, res) => {
    hits.push(req.url!);
    let body = '';
    for await (const chunk of req) body += chunk;
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.url === '/.well-known/openid-configuration')
      return send(200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        introspection_endpoint: `${issuer}/introspect`,
      });
    if (req.url === '/jwks') return send(jwksStatus, jwks);
    if (req.url === '/introspect') return send(...introspection(new URLSearchParams(body), req));
    send(404, {});
  });
  await listen(server);
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pair = await generateKeyPair('ES256', { extractable: true });
  signingKey = pair.privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
});

afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  hits.length = 0;
  jwksStatus = 200;
});

const now = () => Math.floor(Date.now() / 1000);
const sign = (
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  key: CryptoKey = signingKey,
) =>
  new SignJWT({
    iss: issuer,
    aud: audience,
    sub: 'user-1',
    client_id: 'app',
    iat: now(),
    exp: now() + 300,
    roles: ['reader'],
    permissions: ['articles:read'],
    scope: 'openid articles:read',
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1', ...header })
    .sign(key);

describe('createJwtVerifier', () => {
  it('verifies an RFC 9068 token through discovery and the JWKS, fetched once', async () => {
    const verify = createJwtVerifier({ issuer, audience });
    const auth = await verify(await sign());
    expect(auth).toMatchObject({
      subject: 'user-1',
      clientId: 'app',
      roles: ['reader'],
      permissions: ['articles:read'],
      scope: ['openid', 'articles:read'],
      claims: { iss: issuer, aud: audience },
    });
    expect(auth!.confirmation).toBeUndefined();
    await verify(await sign());
    expect(hits).toEqual(['/.well-known/openid-configuration', '/jwks']);
    expect((await verify(await sign({ cnf: { jkt: 'abc' } })))!.confirmation).toEqual({ jkt: 'abc' });
  });

  it('refuses a wrong typ, issuer, audience, an expired or not-yet-valid token, and an unverifiable cnf', async () => {
    const verify = createJwtVerifier({ issuer, audience, jwksUri: `${issuer}/jwks` });
    for (const token of [
      await sign({}, { typ: 'JWT' }),
      await sign({ iss: 'https://other.example.com' }),
      await sign({ aud: 'https://other.example.com' }),
      await sign({ exp: now() - 10 }),
      await sign({ nbf: now() + 60 }),
      await sign({ exp: undefined }),
      await sign({ cnf: { 'x5t#S256': 'abc' } }),
      'not-a-jwt',
    ])
      expect(await verify(token)).toBeUndefined();
  });

  it('tolerates a small clock difference, as configured', async () => {
    const verify = createJwtVerifier({ issuer, audience, clockToleranceSeconds: 30 });
    expect(await verify(await sign({ exp: now() - 10 }))).toBeDefined();
  });

  it('fetches the JWKS again for an unknown kid, at most once per cooldown', async () => {
    const verify = createJwtVerifier({ issuer, audience, jwksUri: `${issuer}/jwks`, jwksCooldownMs: 60_000 });
    await verify(await sign());
    const other = (await generateKeyPair('ES256')).privateKey;
    expect(await verify(await sign({}, { kid: 'k2' }, other))).toBeUndefined();
    expect(await verify(await sign({}, { kid: 'k3' }, other))).toBeUndefined();
    expect(hits.filter((hit) => hit === '/jwks')).toHaveLength(1); // still cooling down since the first fetch

    const eager = createJwtVerifier({ issuer, audience, jwksUri: `${issuer}/jwks`, jwksCooldownMs: 0 });
    hits.length = 0;
    await eager(await sign());
    expect(await eager(await sign({}, { kid: 'k2' }, other))).toBeUndefined();
    expect(hits).toEqual(['/jwks', '/jwks']);
  });

  it('takes a token already verified again without its signature check, but never past its exp', async () => {
    const verify = createJwtVerifier({ issuer, audience, clockToleranceSeconds: 0 });
    const token = await sign({ exp: now() + 2 });
    const first = await verify(token);
    expect(first).toBeDefined();
    expect(await verify(token)).toBe(first); // the same object: from the cache
    const uncached = createJwtVerifier({ issuer, audience, verifiedCacheSeconds: 0 });
    expect(await uncached(token)).not.toBe(await uncached(token));
    await new Promise((resolve) => setTimeout(resolve, (now() + 3 - Date.now() / 1000) * 1000));
    expect(await verify(token)).toBeUndefined();
  });

  it('throws IssuerUnavailableError when discovery or the JWKS cannot be fetched, and recovers after', async () => {
    jwksStatus = 500;
    const verify = createJwtVerifier({ issuer, audience });
    await expect(verify(await sign())).rejects.toBeInstanceOf(IssuerUnavailableError);
    jwksStatus = 200;
    expect(await verify(await sign())).toBeDefined();

    const closed = createServer();
    await listen(closed);
    const gone = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    await expect(createJwtVerifier({ issuer: gone, audience })(await sign())).rejects.toBeInstanceOf(
      IssuerUnavailableError,
    );
    await expect(
      createJwtVerifier({ issuer: gone, audience, jwksUri: `${gone}/jwks` })(await sign()),
    ).rejects.toBeInstanceOf(IssuerUnavailableError);
  });
});

describe('createIntrospectionVerifier', () => {
  const active = (over: Record<string, unknown> = {}) => ({
    active: true,
    iss: issuer,
    aud: [audience],
    sub: 'user-1',
    client_id: 'app',
    exp: now() + 300,
    permissions: ['reports:read'],
    roles: [],
    scope: 'reports:read',
    token_type: 'Bearer',
    ...over,
  });

  it('authenticates as the API client and returns what an active answer grants', async () => {
    let authorization: string | undefined;
    introspection = (body, req) => {
      authorization = req.headers.authorization;
      return [200, body.get('token') === 'good' ? active({ cnf: { jkt: 'k' } }) : { active: false }];
    };
    const verify = createIntrospectionVerifier({
      issuer,
      audience,
      clientId: 'api',
      clientSecret: 's:1',
      cacheSeconds: 0,
    });
    expect(await verify('good')).toMatchObject({
      subject: 'user-1',
      permissions: ['reports:read'],
      confirmation: { jkt: 'k' },
    });
    expect(authorization).toBe(`Basic ${Buffer.from('api:s%3A1').toString('base64')}`);
    expect(await verify('bad')).toBeUndefined();
  });

  it('refuses an answer for another audience or issuer, or already expired', async () => {
    const answers = [
      active({ aud: 'https://other' }),
      active({ iss: 'https://other' }),
      active({ exp: now() - 60 }),
    ];
    introspection = () => [200, answers.shift()];
    const verify = createIntrospectionVerifier({
      issuer,
      audience,
      clientId: 'api',
      clientSecret: 's',
      cacheSeconds: 0,
    });
    for (let i = 0; i < 3; i++) expect(await verify('t')).toBeUndefined();
  });

  it('caches answers for a few seconds keyed by a hash of the token, and never caches failures', async () => {
    let calls = 0;
    let fail = true;
    introspection = () => (calls++, fail ? [500, {}] : [200, active()]);
    const verify = createIntrospectionVerifier({ issuer, audience, clientId: 'api', clientSecret: 's' });
    await expect(verify('t')).rejects.toBeInstanceOf(IssuerUnavailableError);
    fail = false;
    expect(await verify('t')).toBeDefined();
    expect(await verify('t')).toBeDefined();
    expect(calls).toBe(2);
    expect(await verify('u')).toBeDefined();
    expect(calls).toBe(3);
  });

  it('the memory cache expires entries and stays bounded', () => {
    let clock = 0;
    const cache = createMemoryIntrospectionCache({ maxEntries: 2, now: () => clock });
    cache.set('a', null, 1000);
    cache.set('b', null, 1000);
    cache.set('c', null, 1000);
    expect(cache.get('a')).toBeUndefined(); // evicted, oldest first
    expect(cache.get('b')).toBeNull();
    clock = 1000;
    expect(cache.get('b')).toBeUndefined();
  });
});
