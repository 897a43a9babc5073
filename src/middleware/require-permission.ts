import type { Middleware } from 'koa';
import { createGuard } from '../../packages/guard/src/koa.ts';
import type { DPoPProofOptions } from './dpop-proof.ts';

/** What an API learns from a valid access token. */
export interface VerifiedAccess {
  /** The account (user tokens) or the client (client_credentials tokens) the token speaks for. */
  subject: string;
  clientId: string;
  roles: string[];
  permissions: string[];
  /**
   * The key the token is bound to (RFC 9449 `cnf.jkt`, the JWK SHA-256 thumbprint), when it is DPoP-bound: such a
   * token counts only with the DPoP scheme and a proof signed by that key.
   */
  confirmation?: { jkt: string };
}

/**
 * Checks an access token: returns what it grants, or undefined when it is not a valid token for this API (bad
 * signature, wrong audience, expired, revoked, bound in a way this API cannot check...). Throws only when it cannot
 * tell (the issuer is unreachable), which is then a 503, never a 401. A verifier must return `confirmation` for a
 * DPoP-bound token, or `requirePermission` would accept it as a plain Bearer token.
 */
export type AccessTokenVerifier = (token: string) => Promise<VerifiedAccess | undefined>;

/** DPoP (RFC 9449) settings of {@link requirePermission}. */
export interface RequirePermissionDPoPOptions extends DPoPProofOptions {
  /**
   * The public base URL of this app (e.g. `https://api.example.com`): a proof's `htu` must be this plus the request
   * path. Never taken from the request's Host header. Without it, DPoP-bound tokens are refused.
   */
  baseUrl?: string;
}

declare module 'koa' {
  interface DefaultState {
    access?: VerifiedAccess;
  }
}

/**
 * The 401/403 rule (RFC 6750 section 3, RFC 9449 section 7) for Gatehouse's own APIs (admin, AuthZEN) with the
 * verifier of their choice: the Koa adapter of `@gatehouse/guard` (`packages/guard`), so Gatehouse enforces its
 * APIs with the code API owners install. What the token grants is in `ctx.state.access`.
 *
 * - no token: 401 with a bare `WWW-Authenticate: Bearer realm=...` challenge;
 * - a malformed, badly signed, foreign, expired or revoked token: 401 with `error="invalid_token"`;
 * - a DPoP-bound token presented as Bearer, or with a missing, wrong or replayed proof: 401;
 * - a valid token without every required permission: 403 with `error="insufficient_scope"`;
 * - the verifier cannot tell (its store is down): 503, never a 401.
 */
export function requirePermission(
  required: string | readonly string[],
  options: RequirePermissionOptions,
): Middleware {
  let guard = guards.get(options);
  if (!guard) {
    guard = guardFor(options);
    guards.set(options, guard);
  }
  const check = guard.requirePermission(required);
  return (ctx, next) =>
    check(ctx, async () => {
      const { subject, clientId, roles, permissions, confirmation } = ctx.state.auth as VerifiedAccess;
      ctx.state.access = { subject, clientId, roles, permissions, ...(confirmation ? { confirmation } : {}) };
      await next();
    });
}

export interface RequirePermissionOptions {
  verify: AccessTokenVerifier;
  realm?: string;
  dpop?: RequirePermissionDPoPOptions;
}

// One guard per options object: guards stacked on a route (a router-wide one and a route's) then share what they
// checked of a request, so a DPoP proof's first use is not taken for a replay by the second.
const guards = new WeakMap<RequirePermissionOptions, ReturnType<typeof createGuard>>();

function guardFor(options: RequirePermissionOptions) {
  const { baseUrl, ...proofOptions } = options.dpop ?? {};
  return createGuard({
    // A verifier of our own is given: the package's own verifiers, which would use these two, are not built.
    issuer: 'urn:gatehouse:own-verifier',
    audience: 'urn:gatehouse:own-verifier',
    realm: options.realm ?? 'api',
    verify: async (token) => {
      const access = await options.verify(token);
      return access && { ...access, scope: [], claims: {} };
    },
    ...(baseUrl ? { dpop: { ...proofOptions, baseUrl } } : {}),
  });
}
