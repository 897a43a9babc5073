import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import {
  accessTokenHash,
  checkDPoPProof,
  createMemoryReplayCache,
  createRedisReplayCache,
  type DPoPExpectation,
} from '../../../packages/guard/src/dpop.ts';

/** The DPoP proof check (RFC 9449 sections 4.3 and 7.1) as ported into @gatehouse/guard. */

type Keys = { privateKey: CryptoKey; publicJwk: JWK; jkt: string };
async function keys(alg = 'ES256'): Promise<Keys> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(pair.publicKey);
  return { privateKey: pair.privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

const accessToken = 'bound-access-token';
const url = 'https://api.example.com/items/1';
let key: Keys;
let expected: DPoPExpectation;

const proof = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, signer = key) =>
  new SignJWT({
    htm: 'DELETE',
    htu: url,
    ath: accessTokenHash(accessToken),
    jti: crypto.randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: signer.publicJwk, ...header })
    .sign(signer.privateKey);

beforeAll(async () => {
  key = await keys();
  expected = { method: 'DELETE', url: `${url}?x=1`, accessToken, jkt: key.jkt };
});

const check = async (value: string | string[]) =>
  checkDPoPProof(value, expected, { replayCache: createMemoryReplayCache() });

it('accepts a valid proof (query ignored in htu) and names its key', async () => {
  expect(await check(await proof())).toEqual({ valid: true, jkt: key.jkt });
  expect(await check(await proof({ htu: `${url}?other=2` }))).toEqual({ valid: true, jkt: key.jkt });
});

it('refuses each broken claim or header', async () => {
  const now = Math.floor(Date.now() / 1000);
  const cases: [Promise<string>, string][] = [
    [proof({}, { typ: 'JWT' }), 'the DPoP proof must have typ dpop+jwt'],
    [
      proof({}, { jwk: { ...key.publicJwk, d: 'secret' } }),
      'the DPoP proof jwk must not hold private key members',
    ],
    [proof({ iat: now - 120 }), 'the DPoP proof is too old'],
    [proof({ iat: now + 60 }), 'the DPoP proof was issued in the future'],
    [proof({ ath: accessTokenHash('other') }), 'the DPoP proof ath does not match the access token'],
    [proof({ ath: undefined }), 'the DPoP proof signature or claims are invalid'],
    [proof({ htu: 'https://api.example.com/items/2' }), 'the DPoP proof htu does not match the request URL'],
    [proof({ jti: 'x'.repeat(300) }), 'the DPoP proof jti is invalid'],
  ];
  for (const [made, reason] of cases) expect(await check(await made)).toEqual({ valid: false, reason });
  expect(await check('not a jwt')).toEqual({
    valid: false,
    reason: 'the DPoP proof is not a single compact JWT',
  });
  expect(await check([])).toEqual({ valid: false, reason: 'a DPoP proof is required' });
});

it('never accepts none or HMAC, even when configured', async () => {
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk })).toString('base64url')}.${Buffer.from('{}').toString('base64url')}.x`;
  expect(
    await checkDPoPProof(unsigned, expected, {
      algorithms: ['none', 'HS256'],
      replayCache: createMemoryReplayCache(),
    }),
  ).toEqual({ valid: false, reason: 'the DPoP proof algorithm is not accepted' });
});

it('refuses a replayed proof, per key, within its window', async () => {
  const replayCache = createMemoryReplayCache();
  const made = await proof();
  expect((await checkDPoPProof(made, expected, { replayCache })).valid).toBe(true);
  expect(await checkDPoPProof(made, expected, { replayCache })).toEqual({
    valid: false,
    reason: 'the DPoP proof was already used',
  });
});

describe('replay caches', () => {
  it('the memory cache forgets ids after their window and refuses new ones when full of live ids', async () => {
    let now = 1_000_000;
    const cache = createMemoryReplayCache({ maxEntries: 2, now: () => now });
    expect(await cache.claim('a', 10)).toBe(true);
    expect(await cache.claim('a', 10)).toBe(false);
    expect(await cache.claim('b', 10)).toBe(true);
    expect(await cache.claim('c', 10)).toBe(false); // full of live ids: refuse rather than forget one
    now += 11_000;
    expect(await cache.claim('c', 10)).toBe(true);
    expect(await cache.claim('a', 10)).toBe(true);
  });

  it('the Redis cache uses SET NX PX with a hash-tagged key', async () => {
    const calls: unknown[][] = [];
    const replies = ['OK', null];
    const cache = createRedisReplayCache(
      { set: async (...args) => (calls.push(args), replies.shift() ?? null) },
      'api:',
    );
    expect(await cache.claim('id', 70)).toBe(true);
    expect(await cache.claim('id', 70)).toBe(false);
    expect(calls[0]).toEqual(['api:dpop-jti:{id}', '1', 'PX', 70_000, 'NX']);
  });
});
