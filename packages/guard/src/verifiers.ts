import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { IssuerUnavailableError, type AccessTokenVerifier, type GuardAuth } from './types.ts';

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
const scopes = (value: unknown): string[] =>
  typeof value === 'string' ? value.split(' ').filter(Boolean) : strings(value);
const trimSlash = (url: string) => url.replace(/\/+$/, '');

/**
 * The confirmation (RFC 7800 `cnf`) of a token as the guard can check it: none (a plain Bearer token), a DPoP key
 * thumbprint (`{ jkt }`, RFC 9449), or `'unverifiable'` for any other binding (an mTLS certificate thumbprint, a
 * malformed `cnf`), whose token must then be refused rather than taken for a Bearer token.
 */
export function confirmationOf(cnf: unknown): GuardAuth['confirmation'] | 'unverifiable' {
  if (cnf === undefined || cnf === null) return undefined;
  if (typeof cnf !== 'object' || Array.isArray(cnf)) return 'unverifiable';
  const { jkt } = cnf as { jkt?: unknown };
  if (Object.keys(cnf).length !== 1 || typeof jkt !== 'string' || jkt.length === 0) return 'unverifiable';
  return { jkt };
}

/** What a token's claims (or an introspection answer) grant, or undefined when they cannot be used. */
function authFrom(claims: Record<string, unknown>): GuardAuth | undefined {
  const confirmation = confirmationOf(claims.cnf);
  if (confirmation === 'unverifiable') return undefined;
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : undefined;
  const subject = typeof claims.sub === 'string' ? claims.sub : clientId;
  if (subject === undefined) return undefined;
  return {
    subject,
    clientId: clientId ?? '',
    roles: strings(claims.roles),
    permissions: strings(claims.permissions),
    scope: scopes(claims.scope),
    claims,
    ...(confirmation ? { confirmation } : {}),
  };
}

async function fetchJson(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  what: string,
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (error) {
    throw new IssuerUnavailableError(`${what} at ${url} cannot be reached`, { cause: error });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new IssuerUnavailableError(`${what} at ${url} answered ${response.status}`);
  }
  try {
    const body = (await response.json()) as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new TypeError('not an object');
    return body as Record<string, unknown>;
  } catch (error) {
    throw new IssuerUnavailableError(`${what} at ${url} did not answer a JSON object`, { cause: error });
  }
}

/** Issuer metadata, fetched once from discovery (again after a failure). */
export interface IssuerMetadata {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
}

/**
 * OpenID Connect discovery (`<issuer>/.well-known/openid-configuration`): the answer is kept for the life of the
 * process once it succeeds; a failure is not kept (the next request tries again) and surfaces as
 * {@link IssuerUnavailableError}. The metadata must name the same issuer.
 */
export function createDiscovery(issuer: string, timeoutMs = 5000): () => Promise<IssuerMetadata> {
  let pending: Promise<IssuerMetadata> | undefined;
  return () => {
    pending ??= fetchJson(
      `${trimSlash(issuer)}/.well-known/openid-configuration`,
      { headers: { accept: 'application/json' } },
      timeoutMs,
      'discovery',
    )
      .then((metadata) => {
        if (metadata.issuer !== issuer)
          throw new IssuerUnavailableError(
            `discovery names the issuer ${String(metadata.issuer)}, not ${issuer}`,
          );
        return metadata as unknown as IssuerMetadata;
      })
      .catch((error: unknown) => {
        pending = undefined;
        throw error;
      });
    return pending;
  };
}

export interface JwtVerifierOptions {
  /** The issuer, exactly as in its tokens' `iss` (e.g. `https://id.example.com`). */
  issuer: string;
  /** This API's identifier, as registered in Gatehouse (the tokens' `aud`). */
  audience: string;
  /** Where the keys are; default: `jwks_uri` from the issuer's discovery document. */
  jwksUri?: string;
  /** Tolerated clock difference for `exp`, `nbf` and `iat`, in seconds (default 5). */
  clockToleranceSeconds?: number;
  /** Accepted token signing algorithms (default: any asymmetric algorithm the JWKS keys allow). */
  algorithms?: string[];
  /** How long fetched keys are used before they are fetched again, in ms (default 10 minutes). */
  jwksCacheMaxAgeMs?: number;
  /** After a fetch, how long a token with an unknown `kid` is refused without fetching again, in ms (default 30 s). */
  jwksCooldownMs?: number;
  /** Timeout of each call to the issuer (discovery, JWKS), in ms (default 5000). */
  timeoutMs?: number;
  /**
   * How long a token already verified is taken again without checking its signature, in seconds (default 60; 0:
   * verify every time). Its `exp` and `nbf` are checked at every use all the same. Keyed by SHA-256 of the token.
   */
  verifiedCacheSeconds?: number;
  /** How many verified tokens are remembered (default 10,000; the oldest go first). */
  verifiedCacheMaxEntries?: number;
}

const asymmetric = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/**
 * Verifies JWT access tokens (RFC 9068) locally against the issuer's JWKS: the keys come from discovery's
 * `jwks_uri`, are cached, fetched again when a token names an unknown `kid` (at most once per cooldown), and the
 * token must have `typ: at+jwt`, this issuer, this audience, and be within `exp`/`nbf`. A revoked token stays valid
 * until it expires: keep access token lifetimes short, or use {@link createIntrospectionVerifier}. Throws
 * {@link IssuerUnavailableError} when the keys cannot be fetched.
 */
export function createJwtVerifier(options: JwtVerifierOptions): AccessTokenVerifier {
  const timeoutMs = options.timeoutMs ?? 5000;
  const discover = createDiscovery(options.issuer, timeoutMs);
  const jwksOptions = {
    timeoutDuration: timeoutMs,
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
  };
  let jwks: JWTVerifyGetKey | undefined = options.jwksUri
    ? createRemoteJWKSet(new URL(options.jwksUri), jwksOptions)
    : undefined;
  const keys: JWTVerifyGetKey = async (header, token) => {
    if (!jwks) {
      const { jwks_uri } = await discover();
      if (typeof jwks_uri !== 'string') throw new IssuerUnavailableError('discovery names no jwks_uri');
      jwks ??= createRemoteJWKSet(new URL(jwks_uri), jwksOptions);
    }
    try {
      return await jwks(header, token);
    } catch (error) {
      // No key (or several) for the token's kid after a refresh, or a key the token cannot use: the token's fault.
      if (
        error instanceof errors.JWKSNoMatchingKey ||
        error instanceof errors.JWKSMultipleMatchingKeys ||
        error instanceof errors.JOSENotSupported
      )
        throw error;
      // A JWKS that cannot be fetched, answers non-200 or is not a key set: not the token's fault.
      throw new IssuerUnavailableError('the issuer JWKS cannot be fetched', { cause: error });
    }
  };
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    typ: 'at+jwt',
    algorithms: options.algorithms ?? asymmetric,
    clockTolerance: options.clockToleranceSeconds ?? 5,
    requiredClaims: ['exp'],
  };
  const tolerance = verifyOptions.clockTolerance;
  const cacheMs = (options.verifiedCacheSeconds ?? 60) * 1000;
  const maxEntries = options.verifiedCacheMaxEntries ?? 10_000;
  const verified = new Map<
    string,
    { auth: GuardAuth; until: number; exp: number; nbf: number | undefined }
  >();
  return async (token) => {
    const key = cacheMs > 0 ? createHash('sha256').update(token).digest('base64url') : '';
    if (cacheMs > 0) {
      const hit = verified.get(key);
      if (hit) {
        const now = Date.now();
        const seconds = now / 1000;
        if (
          hit.until > now &&
          hit.exp + tolerance > seconds &&
          (hit.nbf === undefined || hit.nbf - tolerance <= seconds)
        )
          return hit.auth;
        verified.delete(key); // and verify it fully again (which refuses it when it expired)
      }
    }
    try {
      const { payload } = await jwtVerify(token, keys, verifyOptions);
      const auth = authFrom(payload);
      if (auth && cacheMs > 0) {
        while (verified.size >= maxEntries) verified.delete(verified.keys().next().value!);
        verified.set(key, {
          auth,
          until: Date.now() + cacheMs,
          exp: payload.exp!,
          nbf: typeof payload.nbf === 'number' ? payload.nbf : undefined,
        });
      }
      return auth;
    } catch (error) {
      if (error instanceof IssuerUnavailableError) throw error;
      return undefined;
    }
  };
}

/** A small cache of introspection answers, keyed by SHA-256 of the token (the token itself is never kept). */
export interface IntrospectionCache {
  get(key: string): GuardAuth | null | undefined;
  set(key: string, value: GuardAuth | null, ttlMs: number): void;
}

/** A bounded in-memory {@link IntrospectionCache}: the oldest entries go first when full. */
export function createMemoryIntrospectionCache(
  options: { maxEntries?: number; now?: () => number } = {},
): IntrospectionCache {
  const maxEntries = options.maxEntries ?? 10_000;
  const clock = options.now ?? Date.now;
  const entries = new Map<string, { value: GuardAuth | null; expiresAt: number }>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= clock()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value, ttlMs) {
      if (ttlMs <= 0) return;
      entries.delete(key);
      while (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, { value, expiresAt: clock() + ttlMs });
    },
  };
}

export interface IntrospectionVerifierOptions {
  issuer: string;
  /** This API's identifier: the answer's `aud` must include it. */
  audience: string;
  /** The API's own client at the issuer (a confidential client), used to authenticate introspection calls. */
  clientId: string;
  clientSecret: string;
  /** Default: `introspection_endpoint` from the issuer's discovery document. */
  introspectionEndpoint?: string;
  /**
   * How long an answer is reused for the same token, in seconds (default 5; 0: ask every time). A token revoked at
   * the issuer keeps working here for at most this long. Never longer than the token's `exp`. Failures are never cached.
   */
  cacheSeconds?: number;
  /** Where answers are kept (default: a bounded in-memory cache of 10,000 entries). */
  cache?: IntrospectionCache;
  /** Tolerated clock difference for the answer's `exp`/`nbf`, in seconds (default 5). */
  clockToleranceSeconds?: number;
  /** Timeout of each call to the issuer, in ms (default 5000). */
  timeoutMs?: number;
}

/**
 * Asks the issuer about each token (RFC 7662 introspection), authenticating as a confidential client
 * (`client_secret_basic`). Works for opaque and JWT tokens and sees revocation (within `cacheSeconds`). The answer's
 * `cnf.jkt` marks a DPoP-bound token. Throws {@link IssuerUnavailableError} when the issuer cannot be asked.
 */
export function createIntrospectionVerifier(options: IntrospectionVerifierOptions): AccessTokenVerifier {
  const timeoutMs = options.timeoutMs ?? 5000;
  const discover = createDiscovery(options.issuer, timeoutMs);
  const cacheMs = (options.cacheSeconds ?? 5) * 1000;
  const cache = options.cache ?? createMemoryIntrospectionCache();
  const tolerance = options.clockToleranceSeconds ?? 5;
  const authorization = `Basic ${Buffer.from(
    `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
  ).toString('base64')}`;
  const endpoint = async () => {
    if (options.introspectionEndpoint) return options.introspectionEndpoint;
    const { introspection_endpoint } = await discover();
    if (typeof introspection_endpoint !== 'string')
      throw new IssuerUnavailableError('discovery names no introspection_endpoint');
    return introspection_endpoint;
  };
  return async (token) => {
    const key = cacheMs > 0 ? createHash('sha256').update(token).digest('base64url') : '';
    if (cacheMs > 0) {
      const cached = cache.get(key);
      if (cached !== undefined) return cached ?? undefined;
    }
    const answer = await fetchJson(
      await endpoint(),
      {
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      },
      timeoutMs,
      'introspection',
    );
    const now = Date.now() / 1000;
    let auth: GuardAuth | undefined;
    if (
      answer.active === true &&
      (answer.iss === undefined || answer.iss === options.issuer) &&
      (Array.isArray(answer.aud) ? answer.aud.map(String) : [String(answer.aud ?? '')]).includes(
        options.audience,
      ) &&
      !(typeof answer.exp === 'number' && answer.exp + tolerance <= now) &&
      !(typeof answer.nbf === 'number' && answer.nbf - tolerance > now) &&
      (answer.token_type === undefined || /^(access_token|bearer|dpop)$/i.test(String(answer.token_type)))
    )
      auth = authFrom(answer);
    if (cacheMs > 0) {
      const untilExp =
        auth && typeof answer.exp === 'number' ? Math.max(0, answer.exp * 1000 - Date.now()) : cacheMs;
      cache.set(key, auth ?? null, Math.min(cacheMs, untilExp));
    }
    return auth;
  };
}
