import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import Koa from 'koa';
import {
  accessTokenHash,
  checkDPoPProof,
  createMemoryReplayCache,
  createRedisReplayCache,
  type DPoPExpectation,
} from '../../../src/middleware/dpop-proof.ts';
import { requirePermission, type VerifiedAccess } from '../../../src/middleware/require-permission.ts';

/** The DPoP proof check (RFC 9449 sections 4.3 and 7.1) and requirePermission's use of it, without a Gatehouse. */

type Keys = { privateKey: CryptoKey; publicJwk: JWK; jkt: string };
async function keys(alg = 'ES256'): Promise<Keys> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(pair.publicKey);
  return { privateKey: pair.privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

const accessToken = 'bound-access-token';
const url = 'https://api.example.com/items/1';

async function proof(
  key: Keys,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  alg = 'ES256',
): Promise<string> {
  return new SignJWT({
    htm: 'DELETE',
    htu: url,
    ath: accessTokenHash(accessToken),
    jti: crypto.randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    ...claims,
  })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...header })
    .sign(key.privateKey);
}

let key: Keys;
let expected: DPoPExpectation;
const check = (value: string | string[] | undefined, overrides: Partial<DPoPExpectation> = {}) =>
  checkDPoPProof(value, { ...expected, ...overrides }, { replayCache: createMemoryReplayCache() });

beforeAll(async () => {
  key = await keys();
  expected = { method: 'DELETE', url, accessToken, jkt: key.jkt };
});

describe('checkDPoPProof', () => {
  it('accepts a proof for this request, this token and the bound key', async () => {
    expect(await check(await proof(key))).toEqual({ valid: true, jkt: key.jkt });
  });

  it('ignores the query and fragment of the request URL and of htu, and normalises scheme and host case', async () => {
    const result = await check(await proof(key, { htu: 'HTTPS://API.example.com/items/1?x=1' }), {
      url: `${url}?page=2#top`,
    });
    expect(result.valid).toBe(true);
  });

  it('stops a thief using a stolen bound token with a proof of their own key (thumbprint mismatch)', async () => {
    const thief = await keys();
    expect(await check(await proof(thief))).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/key/),
    });
  });

  it('stops a proof signed by another key than the jwk it carries', async () => {
    const other = await keys();
    const forged = await new SignJWT({
      htm: 'DELETE',
      htu: url,
      ath: accessTokenHash(accessToken),
      jti: 'x',
      iat: Math.floor(Date.now() / 1000),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk })
      .sign(other.privateKey);
    expect(await check(forged)).toMatchObject({ valid: false, reason: expect.stringMatching(/signature/) });
  });

  it('stops a proof made for another method or another URL', async () => {
    expect(await check(await proof(key, { htm: 'GET' }))).toMatchObject({
      reason: expect.stringMatching(/htm/),
    });
    expect(await check(await proof(key, { htu: 'https://api.example.com/items/2' }))).toMatchObject({
      reason: expect.stringMatching(/htu/),
    });
    expect((await check(await proof(key, { htu: 'https://other.example.com/items/1' }))).valid).toBe(false);
    expect((await check(await proof(key, { htu: 'not a url' }))).valid).toBe(false);
  });

  it('stops a proof made for another access token, or without ath', async () => {
    expect(await check(await proof(key, { ath: accessTokenHash('another-token') }))).toMatchObject({
      reason: expect.stringMatching(/ath/),
    });
    expect((await check(await proof(key, { ath: undefined }))).valid).toBe(false);
  });

  it('stops a proof that is too old or issued in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await check(await proof(key, { iat: now - 120 }))).toMatchObject({
      reason: expect.stringMatching(/too old/),
    });
    expect(await check(await proof(key, { iat: now + 60 }))).toMatchObject({
      reason: expect.stringMatching(/future/),
    });
    expect((await check(await proof(key, { iat: now - 30 }))).valid).toBe(true);
    const strict = await checkDPoPProof(await proof(key, { iat: now - 30 }), expected, { maxAgeSeconds: 10 });
    expect(strict.valid).toBe(false);
  });

  it('stops a replayed proof (same jti) while it is inside its window', async () => {
    const replayCache = createMemoryReplayCache();
    const once = await proof(key);
    expect((await checkDPoPProof(once, expected, { replayCache })).valid).toBe(true);
    expect(await checkDPoPProof(once, expected, { replayCache })).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/already used/),
    });
  });

  it('refuses no proof, two proofs, and a value that is not one compact JWT', async () => {
    const one = await proof(key);
    expect((await check(undefined)).valid).toBe(false);
    expect((await check([])).valid).toBe(false);
    expect((await check([one, await proof(key)])).valid).toBe(false);
    expect((await check(`${one}, ${one}`)).valid).toBe(false);
    expect((await check('garbage')).valid).toBe(false);
  });

  it('refuses a proof without typ dpop+jwt, or without a jwk header', async () => {
    expect((await check(await proof(key, {}, { typ: 'JWT' }))).valid).toBe(false);
    expect((await check(await proof(key, {}, { jwk: undefined }))).valid).toBe(false);
  });

  it('refuses alg none and symmetric (HS256) proofs', async () => {
    const encode = (value: object) => base64url.encode(JSON.stringify(value));
    const claims = {
      htm: 'DELETE',
      htu: url,
      ath: accessTokenHash(accessToken),
      jti: 'n',
      iat: Math.floor(Date.now() / 1000),
    };
    const unsigned = `${encode({ alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk })}.${encode(claims)}.`;
    expect((await check(unsigned)).valid).toBe(false);
    const secret = new Uint8Array(32).fill(7);
    const hmacJwk = { kty: 'oct', k: base64url.encode(secret) };
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: hmacJwk })
      .sign(secret);
    expect((await check(hmac, { jkt: await calculateJwkThumbprint(hmacJwk) })).valid).toBe(false);
    // Even when a caller lists it, an HMAC is never accepted.
    const listed = await checkDPoPProof(
      hmac,
      { ...expected, jkt: await calculateJwkThumbprint(hmacJwk) },
      { algorithms: ['HS256', 'ES256'] },
    );
    expect(listed.valid).toBe(false);
  });

  it('refuses a jwk header holding private key members', async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(pair.privateKey);
    const leaky = await new SignJWT({
      htm: 'DELETE',
      htu: url,
      ath: accessTokenHash(accessToken),
      jti: 'p',
      iat: Math.floor(Date.now() / 1000),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: privateJwk })
      .sign(pair.privateKey);
    const publicPart = { kty: privateJwk.kty, crv: privateJwk.crv, x: privateJwk.x, y: privateJwk.y };
    expect(await check(leaky, { jkt: await calculateJwkThumbprint(publicPart) })).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/private/),
    });
  });

  it('accepts Ed25519 and RSA-PSS proofs', async () => {
    for (const alg of ['Ed25519', 'PS256']) {
      const other = await keys(alg);
      expect((await check(await proof(other, {}, {}, alg), { jkt: other.jkt })).valid).toBe(true);
    }
  });
});

describe('replay caches', () => {
  it('the memory cache refuses an id twice, forgets it after its TTL, and refuses new ids when full', async () => {
    const cache = createMemoryReplayCache({ maxEntries: 2 });
    expect(await cache.claim('a', 0.05)).toBe(true);
    expect(await cache.claim('a', 0.05)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await cache.claim('a', 60)).toBe(true);
    expect(await cache.claim('b', 60)).toBe(true);
    expect(await cache.claim('c', 60)).toBe(false);
  });

  it('the Redis cache sends SET NX PX under the prefix', async () => {
    const calls: unknown[][] = [];
    const taken = new Set<string>();
    const cache = createRedisReplayCache(
      {
        async set(...args: [string, string, 'PX', number, 'NX']) {
          calls.push(args);
          if (taken.has(args[0])) return null;
          taken.add(args[0]);
          return 'OK';
        },
      },
      'gh:',
    );
    expect(await cache.claim('id', 70)).toBe(true);
    expect(await cache.claim('id', 70)).toBe(false);
    expect(calls[0]).toEqual(['gh:dpop-jti:{id}', '1', 'PX', 70_000, 'NX']);
  });
});

describe('requirePermission with DPoP-bound tokens', () => {
  let server: Server;
  let origin: string;
  const baseUrl = 'https://api.example.com';
  const bound = (): VerifiedAccess => ({
    subject: 's',
    clientId: 'c',
    roles: [],
    permissions: ['items:delete'],
    confirmation: { jkt: key.jkt },
  });
  const verify = async (token: string): Promise<VerifiedAccess | undefined> =>
    token === accessToken
      ? bound()
      : token === 'plain-token'
        ? { subject: 's', clientId: 'c', roles: [], permissions: ['items:delete'] }
        : token === 'bound-reader'
          ? { ...bound(), permissions: ['items:read'] }
          : undefined;

  beforeAll(async () => {
    const app = new Koa();
    app.use(async (ctx, next) => {
      if (ctx.path === '/unconfigured/items/1') {
        return requirePermission('items:delete', { verify })(ctx, next);
      }
      await next();
    });
    // Two guards on one request: the second must not take the proof's first use for a replay.
    app.use(requirePermission('items:delete', { verify, dpop: { baseUrl } }));
    app.use(requirePermission([], { verify, dpop: { baseUrl } }));
    app.use((ctx) => {
      ctx.status = 204;
    });
    server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const call = (path: string, headers: Record<string, string>) =>
    fetch(`${origin}${path}`, { method: 'DELETE', headers });
  const challengeOf = (response: Response) => response.headers.get('www-authenticate') ?? '';

  it('stops a thief replaying a stolen DPoP-bound token as a plain Bearer token', async () => {
    const response = await call('/items/1', { authorization: `Bearer ${accessToken}` });
    expect(response.status).toBe(401);
    expect(challengeOf(response)).toMatch(/^DPoP .*error="invalid_token"/);
  });

  it('accepts the bound token with the DPoP scheme and a proof of its key, through two guards', async () => {
    const response = await call('/items/1', {
      authorization: `DPoP ${accessToken}`,
      dpop: await proof(key, { htu: `${baseUrl}/items/1` }),
    });
    expect(response.status).toBe(204);
  });

  it('answers invalid_dpop_proof with the accepted algs for a missing, replayed or wrong-host proof', async () => {
    const missing = await call('/items/1', { authorization: `DPoP ${accessToken}` });
    expect(missing.status).toBe(401);
    expect(challengeOf(missing)).toMatch(/^DPoP .*error="invalid_dpop_proof".*algs="ES256 /);

    const once = await proof(key, { htu: `${baseUrl}/items/1` });
    expect((await call('/items/1', { authorization: `DPoP ${accessToken}`, dpop: once })).status).toBe(204);
    const replayed = await call('/items/1', { authorization: `DPoP ${accessToken}`, dpop: once });
    expect(replayed.status).toBe(401);
    expect(challengeOf(replayed)).toContain('error="invalid_dpop_proof"');

    // The URL the API checks is its configured base URL, whatever the Host header says.
    const spoofed = await call('/items/1', {
      authorization: `DPoP ${accessToken}`,
      dpop: await proof(key, { htu: `${origin}/items/1` }),
    });
    expect(spoofed.status).toBe(401);
    expect(challengeOf(spoofed)).toContain('error="invalid_dpop_proof"');
  });

  it('refuses an unbound token presented with the DPoP scheme', async () => {
    const response = await call('/items/1', {
      authorization: 'DPoP plain-token',
      dpop: await proof(key, { htu: `${baseUrl}/items/1`, ath: accessTokenHash('plain-token') }),
    });
    expect(response.status).toBe(401);
    expect(challengeOf(response)).toContain('error="invalid_token"');
    expect((await call('/items/1', { authorization: 'Bearer plain-token' })).status).toBe(204);
  });

  it('answers 403 insufficient_scope, not 401, for a bound token with a valid proof but no permission', async () => {
    const response = await call('/items/1', {
      authorization: 'DPoP bound-reader',
      dpop: await proof(key, { htu: `${baseUrl}/items/1`, ath: accessTokenHash('bound-reader') }),
    });
    expect(response.status).toBe(403);
    expect(challengeOf(response)).toMatch(/^DPoP .*error="insufficient_scope"/);
  });

  it('offers both schemes when no token is sent', async () => {
    const response = await call('/items/1', {});
    expect(response.status).toBe(401);
    expect(challengeOf(response)).toMatch(/^Bearer realm="api", DPoP realm="api", algs="/);
    expect(challengeOf(response)).not.toContain('error=');
  });

  it('refuses bound tokens where no base URL was configured (the proof URL cannot be checked)', async () => {
    const response = await call('/unconfigured/items/1', {
      authorization: `DPoP ${accessToken}`,
      dpop: await proof(key, { htu: `${origin}/unconfigured/items/1` }),
    });
    expect(response.status).toBe(401);
  });
});
