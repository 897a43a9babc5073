import { createHash } from 'node:crypto';
import { EmbeddedJWK, calculateJwkThumbprint, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';

/**
 * Remembers the `jti` of every DPoP proof accepted within its window, so that a proof is accepted once
 * (RFC 9449 section 11.1). `claim` answers true the first time an id is claimed within `ttlSeconds`, false after.
 * It may throw when its store is unreachable: the request is then answered 503, never allowed.
 */
export interface DPoPReplayCache {
  claim(id: string, ttlSeconds: number): Promise<boolean>;
}

/** Asymmetric JWS algorithms accepted for DPoP proofs by default (never `none`, never an HMAC). */
export const defaultDPoPAlgorithms: readonly string[] = [
  'ES256',
  'ES384',
  'ES512',
  'Ed25519',
  'EdDSA',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
];

/** How proofs are judged: accepted algorithms, the `iat` window, and where accepted proof ids are remembered. */
export interface DPoPProofOptions {
  /** JWS algorithms accepted (default {@link defaultDPoPAlgorithms}); symmetric ones and `none` are never accepted. */
  algorithms?: readonly string[];
  /** How old a proof's `iat` may be, in seconds (default 60). */
  maxAgeSeconds?: number;
  /** How far in the future a proof's `iat` may be, for clock skew, in seconds (default 5). */
  clockSkewSeconds?: number;
  /** Where accepted proof ids are remembered (default: one bounded in-memory cache per process). */
  replayCache?: DPoPReplayCache;
}

/** What a proof must match: the request it came with, the access token it accompanies, the key the token is bound to. */
export interface DPoPExpectation {
  /** The request method (`htm`). */
  method: string;
  /** The request URL as the client addressed it; query and fragment are ignored (`htu`). */
  url: string;
  /** The access token presented with the proof (`ath`). */
  accessToken: string;
  /** The JWK SHA-256 thumbprint the token is bound to (`cnf.jkt`). */
  jkt: string;
}

export type DPoPProofResult = { valid: true; jkt: string } | { valid: false; reason: string };

const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const symmetricOrNone = /^(none|HS\d+)$/i;
// RFC 7518 section 6: members that make a JWK a private (or secret) key.
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const maxProofLength = 8192;
const maxJtiLength = 256;

/** Scheme, host, port and path of a URL, normalised (RFC 9449 section 4.3, item 9), or undefined if it is no URL. */
function withoutQuery(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return undefined;
  }
}

/** base64url(SHA-256(access token)): the `ath` a proof must carry for the token it accompanies. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

/**
 * A bounded in-memory replay cache for one process. When it is full of ids still inside their window it refuses
 * new ones (so a flood cannot push out an id and let its proof be replayed): size `maxEntries` for the proofs one
 * process accepts within the proof window. Behind several processes, use a shared cache
 * ({@link createRedisReplayCache}).
 */
export function createMemoryReplayCache(
  options: { maxEntries?: number; now?: () => number } = {},
): DPoPReplayCache {
  const maxEntries = options.maxEntries ?? 100_000;
  const clock = options.now ?? Date.now;
  // Insertion order is (nearly) expiry order: ids are claimed for the same window.
  const seen = new Map<string, number>();
  const sweep = (now: number) => {
    for (const [id, expiresAt] of seen) {
      if (expiresAt > now) break;
      seen.delete(id);
    }
  };
  return {
    async claim(id, ttlSeconds) {
      const now = clock();
      const expiresAt = seen.get(id);
      if (expiresAt !== undefined && expiresAt > now) return false;
      seen.delete(id);
      if (seen.size >= maxEntries) sweep(now);
      if (seen.size >= maxEntries) return false;
      seen.set(id, now + ttlSeconds * 1000);
      return true;
    },
  };
}

/** The part of an ioredis (or node-redis v4+ with a small wrapper) client a Redis replay cache needs. */
export interface RedisSetNx {
  set(key: string, value: string, unit: 'PX', milliseconds: number, mode: 'NX'): Promise<string | null>;
}

/**
 * A replay cache in Redis (`SET key 1 PX ttl NX`), shared by every process on that Redis, so a proof accepted by one
 * is refused by all. Keys are `<prefix>dpop-jti:{<id>}` (a hash tag, for Redis Cluster).
 */
export function createRedisReplayCache(redis: RedisSetNx, prefix = ''): DPoPReplayCache {
  return {
    async claim(id, ttlSeconds) {
      const reply = await redis.set(
        `${prefix}dpop-jti:{${id}}`,
        '1',
        'PX',
        Math.max(1, Math.ceil(ttlSeconds * 1000)),
        'NX',
      );
      return reply === 'OK';
    },
  };
}

let processReplayCache: DPoPReplayCache | undefined;
/** The in-memory replay cache shared by every check of this process that was given none. */
function defaultReplayCache(): DPoPReplayCache {
  processReplayCache ??= createMemoryReplayCache();
  return processReplayCache;
}

/**
 * Checks a DPoP proof (RFC 9449 sections 4.3 and 7.1) for a request presenting a DPoP-bound access token: exactly
 * one proof, a `dpop+jwt` JWS with an accepted asymmetric algorithm, signed by the public key in its `jwk` header,
 * with `htm` and `htu` of this request, a recent `iat`, `ath` of this access token, a `jti` never accepted before
 * within the window, and a key whose thumbprint is the one the token is bound to. A failure is returned, not thrown;
 * only an unreachable replay cache throws.
 *
 * @param proofs the DPoP header values of the request (Node's `req.headersDistinct.dpop`), or one string
 */
export async function checkDPoPProof(
  proofs: string | readonly string[] | undefined,
  expected: DPoPExpectation,
  options: DPoPProofOptions = {},
): Promise<DPoPProofResult> {
  const refuse = (reason: string): DPoPProofResult => ({ valid: false, reason });
  const algorithms = (options.algorithms ?? defaultDPoPAlgorithms).filter(
    (alg) => !symmetricOrNone.test(alg),
  );
  const maxAge = options.maxAgeSeconds ?? 60;
  const skew = options.clockSkewSeconds ?? 5;

  const list = typeof proofs === 'string' ? [proofs] : (proofs ?? []);
  if (list.length === 0) return refuse('a DPoP proof is required');
  if (list.length > 1) return refuse('exactly one DPoP proof is allowed');
  const proof = list[0]!.trim();
  if (proof.length > maxProofLength || !compactJws.test(proof))
    return refuse('the DPoP proof is not a single compact JWT');

  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    return refuse('the DPoP proof header is malformed');
  }
  if (header.typ !== 'dpop+jwt') return refuse('the DPoP proof must have typ dpop+jwt');
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg))
    return refuse('the DPoP proof algorithm is not accepted');
  const jwk = header.jwk as JWK | undefined;
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk))
    return refuse('the DPoP proof must carry its public key in the jwk header');
  if (privateMembers.some((member) => member in jwk))
    return refuse('the DPoP proof jwk must not hold private key members');

  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...algorithms],
      requiredClaims: ['jti', 'htm', 'htu', 'iat', 'ath'],
    }));
  } catch {
    return refuse('the DPoP proof signature or claims are invalid');
  }

  const { jti, htm, htu, iat, ath } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > maxJtiLength)
    return refuse('the DPoP proof jti is invalid');
  if (htm !== expected.method) return refuse('the DPoP proof htm does not match the request method');
  const expectedUrl = withoutQuery(expected.url);
  if (typeof htu !== 'string' || expectedUrl === undefined || withoutQuery(htu) !== expectedUrl)
    return refuse('the DPoP proof htu does not match the request URL');
  const now = Math.floor(Date.now() / 1000);
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return refuse('the DPoP proof iat is invalid');
  if (iat > now + skew) return refuse('the DPoP proof was issued in the future');
  if (iat < now - maxAge) return refuse('the DPoP proof is too old');
  if (typeof ath !== 'string' || ath !== accessTokenHash(expected.accessToken))
    return refuse('the DPoP proof ath does not match the access token');
  const thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
  if (thumbprint !== expected.jkt) return refuse('the DPoP proof key is not the key the token is bound to');

  // Last, so that only proofs otherwise valid take room in the cache. The id is per key, hashed to a fixed length.
  const id = createHash('sha256').update(`${thumbprint}.${jti}`).digest('base64url');
  const replayCache = options.replayCache ?? defaultReplayCache();
  if (!(await replayCache.claim(id, maxAge + 2 * skew))) return refuse('the DPoP proof was already used');
  return { valid: true, jkt: thumbprint };
}
