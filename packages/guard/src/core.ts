import { createAuthzenClient, defaultSubject, type AuthzenEntity, type AuthzenOptions } from './authzen.ts';
import { checkDPoPProof, defaultDPoPAlgorithms, type DPoPProofOptions } from './dpop.ts';
import type { AccessTokenVerifier, GuardAuth } from './types.ts';
import {
  createIntrospectionVerifier,
  createJwtVerifier,
  type IntrospectionVerifierOptions,
  type JwtVerifierOptions,
} from './verifiers.ts';

/**
 * The DPoP proof each request had accepted, whichever guard accepted it: a proof's `jti` is claimed once per process
 * (the default replay cache is the process's), so a second guard on the same request, even another guard instance,
 * must not take its first use for a replay.
 */
const acceptedProofs = new WeakMap<object, string>();

/** DPoP (RFC 9449) settings of a guard. */
export interface GuardDPoPOptions extends DPoPProofOptions {
  /**
   * The public base URL of this API (e.g. `https://api.example.com`): a proof's `htu` must be this plus the request
   * path. Never taken from the request's Host header.
   */
  baseUrl: string;
}

export interface GuardOptions {
  /** The issuer (Gatehouse's `ISSUER`), exactly as in its tokens' `iss`. */
  issuer: string;
  /** This API's identifier, as registered in Gatehouse (`gatehouse api create --identifier ...`). */
  audience: string;
  /**
   * How tokens are checked: `'jwt'` (default: locally, against the issuer's JWKS), `{ introspection: {...} }` (ask
   * the issuer about each token: opaque tokens, or revocation that must count at once), or your own function.
   */
  verify?:
    | 'jwt'
    | { jwt: Omit<JwtVerifierOptions, 'issuer' | 'audience'> }
    | { introspection: Omit<IntrospectionVerifierOptions, 'issuer' | 'audience'> }
    | AccessTokenVerifier;
  /** The realm named in `WWW-Authenticate` challenges (default `api`). */
  realm?: string;
  /**
   * Accept DPoP-bound tokens (RFC 9449). Without it, a bound token (`cnf.jkt`) is always refused (a plain Bearer
   * token works as before).
   */
  dpop?: GuardDPoPOptions;
  /** Seconds a client should wait before trying again after a 503 (`Retry-After`, default 5). */
  retryAfterSeconds?: number;
  /** Called when the issuer cannot be reached (the request is answered 503), e.g. to log it. */
  onIssuerUnavailable?: (error: Error) => void;
  /**
   * Policy decisions (`authorize(action, resourceOf)`): how the guard asks Gatehouse's AuthZEN API, as its own client
   * holding `authz:evaluate`. Required for `authorize`.
   */
  authz?: AuthzenOptions;
}

/** The resource of an `authorize` check, or a function of the verified token giving it (called once it is valid). */
export type ResourceOf = AuthzenEntity | ((auth: GuardAuth) => AuthzenEntity | Promise<AuthzenEntity>);
/** The AuthZEN `context` of an `authorize` check, or a function of the verified token giving it. */
export type ContextOf =
  | Record<string, unknown>
  | ((auth: GuardAuth) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>);

/** What a route demands of a valid token. */
export type Requirement =
  | { kind: 'authenticated' }
  | { kind: 'permissions'; all: readonly string[] }
  | { kind: 'anyPermission'; any: readonly string[] }
  | { kind: 'scope'; all: readonly string[] }
  | { kind: 'authorize'; action: string; resource: ResourceOf; context?: ContextOf };

/** The framework-free view of a request the core needs. */
export interface GuardRequest {
  method: string;
  /** The path the client addressed (not rewritten by routers), with or without query. */
  path: string;
  /** Every `Authorization` header value (normally one). */
  authorization: readonly string[];
  /** Every `DPoP` header value. */
  dpop: readonly string[];
  /** An object that lives as long as the request (the Node request), so stacked guards check a proof only once. */
  key?: object;
}

export interface GuardRefusal {
  allow: false;
  status: 400 | 401 | 403 | 503;
  headers: Record<string, string | string[]>;
  body: { error: string; error_description: string };
}

export type GuardDecision = { allow: true; auth: GuardAuth } | GuardRefusal;

export interface Guard {
  /** Decides one request: allow (with what the token grants) or the refusal to send as is. */
  check(request: GuardRequest, requirement: Requirement): Promise<GuardDecision>;
  readonly options: Readonly<GuardOptions>;
}

type Scheme = 'Bearer' | 'DPoP';

// RFC 6750 section 2.1 / RFC 9449 section 7.1: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const authorizationPattern = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i;
const schemePattern = /^(bearer|dpop)(\s|$)/i;
const quotable = (value: string) => value.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');

/** One `WWW-Authenticate` challenge (RFC 6750 section 3, RFC 9449 section 7.1). */
export function formatChallenge(
  scheme: Scheme,
  realm: string,
  params: { error?: string; description?: string; scope?: string; algs?: readonly string[] } = {},
): string {
  const parts = [`realm="${quotable(realm)}"`];
  if (params.error) parts.push(`error="${params.error}"`);
  if (params.description) parts.push(`error_description="${quotable(params.description)}"`);
  if (params.scope) parts.push(`scope="${quotable(params.scope)}"`);
  if (params.algs) parts.push(`algs="${params.algs.join(' ')}"`);
  return `${scheme} ${parts.join(', ')}`;
}

export type ExtractedToken =
  | { kind: 'none' }
  | { kind: 'malformed'; scheme: Scheme }
  | { kind: 'multiple' }
  | { kind: 'token'; scheme: Scheme; token: string };

/** Reads the access token of a request from its `Authorization` header (RFC 6750 section 2.1, RFC 9449 section 7.1). */
export function extractToken(authorization: readonly string[]): ExtractedToken {
  const headers = authorization.filter((value) => value !== '');
  if (headers.length === 0) return { kind: 'none' };
  if (headers.length > 1) return { kind: 'multiple' };
  const header = headers[0]!;
  // Another scheme (Basic...) is no access token: answered like no token, with the challenges.
  if (!schemePattern.test(header)) return { kind: 'none' };
  const scheme: Scheme = /^dpop/i.test(header) ? 'DPoP' : 'Bearer';
  const match = authorizationPattern.exec(header);
  if (!match) return { kind: 'malformed', scheme };
  return { kind: 'token', scheme, token: match[2]! };
}

/** Scheme, host and path of the URL a proof must name: the configured base URL plus the request path. */
export function requestUrl(baseUrl: string, path: string): string {
  const bare = path.split(/[?#]/, 1)[0] ?? '';
  return `${baseUrl.replace(/\/+$/, '')}${bare.startsWith('/') ? bare : `/${bare}`}`;
}

/** The permission `P` (every one of them, for a list). */
export const permission = (required: string | readonly string[]): Requirement => ({
  kind: 'permissions',
  all: typeof required === 'string' ? [required] : [...required],
});
/** At least one of the permissions. */
export const anyPermission = (any: readonly string[]): Requirement => ({
  kind: 'anyPermission',
  any: [...any],
});
/** The scope `S` (every one of them, for a list). */
export const scope = (required: string | readonly string[]): Requirement => ({
  kind: 'scope',
  all: typeof required === 'string' ? [required] : [...required],
});
/** Any valid token. */
export const authenticated: Requirement = { kind: 'authenticated' };
/**
 * A permit from Gatehouse's policies (AuthZEN): may the token's subject do `action` on the resource? Needs the
 * guard's `authz` option. A deny is a plain 403 `forbidden`; no decision to be had a 503.
 */
export const authorization = (action: string, resource: ResourceOf, context?: ContextOf): Requirement => ({
  kind: 'authorize',
  action,
  resource,
  ...(context !== undefined ? { context } : {}),
});

function unmet(
  requirement: Requirement,
  auth: GuardAuth,
): { description: string; scope: string } | undefined {
  switch (requirement.kind) {
    case 'authenticated':
    case 'authorize':
      return undefined;
    case 'permissions': {
      const missing = requirement.all.filter((p) => !auth.permissions.includes(p));
      return missing.length > 0
        ? { description: `requires permission ${missing.join(' ')}`, scope: requirement.all.join(' ') }
        : undefined;
    }
    case 'anyPermission':
      return requirement.any.some((p) => auth.permissions.includes(p))
        ? undefined
        : {
            description: `requires one of the permissions ${requirement.any.join(' ')}`,
            scope: requirement.any.join(' '),
          };
    case 'scope': {
      const missing = requirement.all.filter((s) => !auth.scope.includes(s));
      return missing.length > 0
        ? { description: `requires scope ${missing.join(' ')}`, scope: requirement.all.join(' ') }
        : undefined;
    }
  }
}

function resolveVerifier(options: GuardOptions): AccessTokenVerifier {
  const { verify = 'jwt', issuer, audience } = options;
  if (typeof verify === 'function') return verify;
  if (verify === 'jwt') return createJwtVerifier({ issuer, audience });
  if ('jwt' in verify) return createJwtVerifier({ ...verify.jwt, issuer, audience });
  return createIntrospectionVerifier({ ...verify.introspection, issuer, audience });
}

/**
 * One guard: a token verifier plus the 401/403/503 rule (RFC 6750 section 3, RFC 9449 section 7):
 *
 * - no token: 401 with a bare `WWW-Authenticate: Bearer realm="..."` (and a `DPoP` challenge when DPoP is on);
 * - a malformed, badly signed, foreign, expired or revoked token: 401 `error="invalid_token"`;
 * - a DPoP-bound token presented as `Bearer` (or unbound as `DPoP`): 401 `error="invalid_token"`; a missing or
 *   invalid proof: 401 `DPoP error="invalid_dpop_proof"`;
 * - a valid token without the permission or scope: 403 `error="insufficient_scope"`;
 * - `authorize`: a policy deny is a plain 403 `forbidden` (no challenge);
 * - the issuer (discovery, JWKS, introspection, AuthZEN) or the replay cache unreachable: 503, never an allow, never
 *   a 401.
 *
 * Every refusal has a JSON body `{error, error_description}` and `Cache-Control: no-store`.
 */
export function createGuard(options: GuardOptions): Guard {
  if (!options.issuer) throw new TypeError('@gatehouse/guard: issuer is required');
  if (!options.audience) throw new TypeError('@gatehouse/guard: audience is required');
  if (options.dpop) new URL(options.dpop.baseUrl); // fails early on a bad base URL
  const verify = resolveVerifier(options);
  const realm = options.realm ?? 'api';
  const dpop = options.dpop;
  const algs = dpop?.algorithms ?? defaultDPoPAlgorithms;
  const retryAfter = String(options.retryAfterSeconds ?? 5);
  const authz = options.authz ? createAuthzenClient(options.issuer, options.authz) : undefined;
  const subjectOf = options.authz?.subject ?? defaultSubject;
  // Per request (stacked guards): the token verified, and the proof accepted for it.
  const verified = new WeakMap<object, { token: string; auth: GuardAuth; proof?: string }>();

  const refuse = (
    status: 400 | 401 | 403,
    scheme: Scheme,
    error: string | undefined,
    description: string,
    extra: { scope?: string; withDPoPChallenge?: boolean } = {},
  ): GuardRefusal => {
    const challenges = [
      formatChallenge(scheme, realm, {
        ...(error ? { error, description } : {}),
        ...(extra.scope ? { scope: extra.scope } : {}),
        ...(scheme === 'DPoP' ? { algs } : {}),
      }),
    ];
    if (extra.withDPoPChallenge && dpop) challenges.push(formatChallenge('DPoP', realm, { algs }));
    return {
      allow: false,
      status,
      headers: {
        'WWW-Authenticate': challenges.length === 1 ? challenges[0]! : challenges,
        'Cache-Control': 'no-store',
      },
      body: { error: error ?? 'unauthorized', error_description: description },
    };
  };
  const unavailable = (error: unknown): GuardRefusal => {
    const reason = error instanceof Error ? error : new Error(String(error));
    options.onIssuerUnavailable?.(reason);
    return {
      allow: false,
      status: 503,
      headers: { 'Cache-Control': 'no-store', 'Retry-After': retryAfter },
      body: {
        error: 'temporarily_unavailable',
        error_description: 'the access token cannot be checked now: the token issuer cannot be reached',
      },
    };
  };

  const authenticate = async (request: GuardRequest): Promise<GuardDecision> => {
    const extracted = extractToken(request.authorization);
    if (extracted.kind === 'none')
      return refuse(401, 'Bearer', undefined, 'an access token is required', { withDPoPChallenge: true });
    if (extracted.kind === 'multiple')
      return refuse(400, 'Bearer', 'invalid_request', 'exactly one Authorization header is allowed');
    if (extracted.kind === 'malformed')
      return refuse(401, extracted.scheme, 'invalid_token', 'the access token is malformed');
    const { scheme, token } = extracted;

    const memo = request.key ? verified.get(request.key) : undefined;
    let auth = memo?.token === token ? memo.auth : undefined;
    if (!auth) {
      try {
        auth = await verify(token);
      } catch (error) {
        // The issuer cannot be reached (or a custom verifier cannot tell): fail closed, but never with a 401.
        return unavailable(error);
      }
      if (!auth)
        return refuse(401, scheme, 'invalid_token', 'the access token is invalid, expired or revoked');
    }

    const jkt = auth.confirmation?.jkt;
    if (jkt === undefined && scheme === 'DPoP')
      return refuse(
        401,
        'Bearer',
        'invalid_token',
        'the access token is not DPoP-bound: use the Bearer scheme',
      );
    let proof: string | undefined;
    if (jkt !== undefined) {
      if (scheme === 'Bearer')
        return refuse(
          401,
          dpop ? 'DPoP' : 'Bearer',
          'invalid_token',
          'the access token is DPoP-bound: present it with the DPoP scheme and a DPoP proof',
        );
      if (!dpop)
        return refuse(401, 'Bearer', 'invalid_token', 'this API does not accept DPoP-bound access tokens');
      proof = request.dpop.length === 1 ? `${jkt} ${request.dpop[0]}` : undefined;
      const acceptedHere =
        proof !== undefined &&
        ((memo?.token === token && memo.proof === proof) ||
          (request.key !== undefined && acceptedProofs.get(request.key) === proof));
      if (!acceptedHere) {
        let result;
        try {
          result = await checkDPoPProof(
            request.dpop,
            {
              method: request.method.toUpperCase(),
              url: requestUrl(dpop.baseUrl, request.path),
              accessToken: token,
              jkt,
            },
            dpop,
          );
        } catch (error) {
          return unavailable(error); // the replay cache cannot be reached
        }
        if (!result.valid) return refuse(401, 'DPoP', 'invalid_dpop_proof', result.reason);
        if (request.key && proof !== undefined) acceptedProofs.set(request.key, proof);
      }
    }
    if (request.key) verified.set(request.key, { token, auth, ...(proof ? { proof } : {}) });
    return { allow: true, auth };
  };

  const decide = async (
    requirement: Extract<Requirement, { kind: 'authorize' }>,
    auth: GuardAuth,
  ): Promise<GuardRefusal | undefined> => {
    if (!authz) throw new TypeError('@gatehouse/guard: authorize() needs the authz option of the guard');
    const resource =
      typeof requirement.resource === 'function' ? await requirement.resource(auth) : requirement.resource;
    // A resource without a type or id is the route's mistake (an exception), not a question for the PDP: in a batch
    // it would make the whole request invalid.
    if (!resource || typeof resource.type !== 'string' || !resource.type || typeof resource.id !== 'string')
      throw new TypeError(
        `@gatehouse/guard: authorize('${requirement.action}'): the resource needs a type and an id`,
      );
    const context =
      typeof requirement.context === 'function' ? await requirement.context(auth) : requirement.context;
    let permitted: boolean;
    try {
      permitted = await authz.evaluate({
        subject: subjectOf(auth),
        action: { name: requirement.action },
        resource,
        ...(context !== undefined ? { context } : {}),
      });
    } catch (error) {
      const reason = error instanceof Error ? error : new Error(String(error));
      options.onIssuerUnavailable?.(reason);
      return {
        allow: false,
        status: 503,
        headers: { 'Cache-Control': 'no-store', 'Retry-After': retryAfter },
        body: {
          error: 'temporarily_unavailable',
          error_description:
            'the request cannot be authorized now: the policy decision point cannot be reached',
        },
      };
    }
    if (permitted) return undefined;
    return {
      allow: false,
      status: 403,
      headers: { 'Cache-Control': 'no-store' },
      body: {
        error: 'forbidden',
        error_description: `the policy does not permit ${requirement.action} here`,
      },
    };
  };

  return {
    options,
    async check(request, requirement) {
      const decision = await authenticate(request);
      if (!decision.allow) return decision;
      if (requirement.kind === 'authorize') return (await decide(requirement, decision.auth)) ?? decision;
      const missing = unmet(requirement, decision.auth);
      if (missing) {
        const scheme: Scheme = decision.auth.confirmation ? 'DPoP' : 'Bearer';
        return refuse(403, scheme, 'insufficient_scope', missing.description, { scope: missing.scope });
      }
      return decision;
    },
  };
}
