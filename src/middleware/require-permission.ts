import type { IncomingMessage } from 'node:http';
import type { Context, Middleware } from 'koa';
import { checkDPoPProof, defaultDPoPAlgorithms, type DPoPProofOptions } from './dpop-proof.ts';

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

// RFC 6750 section 2.1 / RFC 9449 section 7.1: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const authorizationPattern = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i;
const schemePattern = /^(bearer|dpop)(\s|$)/i;

// The proofs already accepted for a request, so that a second requirePermission on the same request (a router-wide
// guard plus a route's) does not take the proof's first use for a replay.
const acceptedProofs = new WeakMap<IncomingMessage, string>();

type Scheme = 'Bearer' | 'DPoP';

function challenge(
  scheme: Scheme,
  realm: string,
  error?: string,
  description?: string,
  algs?: readonly string[],
): string {
  const parts = [`realm="${realm}"`];
  if (error) parts.push(`error="${error}"`);
  if (description) parts.push(`error_description="${description.replaceAll('"', "'")}"`);
  if (algs) parts.push(`algs="${algs.join(' ')}"`);
  return `${scheme} ${parts.join(', ')}`;
}

/** The request URL as the client addressed it: the configured base URL and the path, without query. */
function requestUrl(ctx: Context, baseUrl: string): string {
  const path = ctx.originalUrl.split(/[?#]/, 1)[0] ?? '';
  return `${baseUrl.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}`;
}

/**
 * The 401/403 rule (RFC 6750 section 3, RFC 9449 section 7) in one middleware, for Gatehouse's admin API and for
 * relying parties protecting their own Koa APIs:
 *
 * - no token: 401 with bare `WWW-Authenticate: Bearer realm=...` and `DPoP realm=..., algs=...` challenges;
 * - a malformed, badly signed, foreign, expired or revoked token: 401 with `error="invalid_token"`;
 * - a DPoP-bound token (`cnf.jkt`) presented as `Bearer`, or an unbound one presented as `DPoP`: 401
 *   `error="invalid_token"`;
 * - a DPoP-bound token with the `DPoP` scheme but a missing or invalid proof (wrong key, method, URL, token hash,
 *   too old, replayed...): 401 `DPoP error="invalid_dpop_proof", algs="..."`;
 * - a valid token without every required permission: 403 with `error="insufficient_scope"`.
 *
 * @example
 * router.delete('/users/:id', requirePermission('users:delete', {
 *   verify: createJwtVerifier({ issuer, audience }),
 *   dpop: { baseUrl: 'https://api.example.com' },
 * }), handler);
 */
export function requirePermission(
  required: string | readonly string[],
  options: { verify: AccessTokenVerifier; realm?: string; dpop?: RequirePermissionDPoPOptions },
): Middleware {
  const permissions = typeof required === 'string' ? [required] : [...required];
  const realm = options.realm ?? 'api';
  const dpop = options.dpop ?? {};
  const algs = dpop.algorithms ?? defaultDPoPAlgorithms;

  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const refuse = (
      status: 401 | 403,
      scheme: Scheme,
      error: string | undefined,
      description: string,
      extra: string[] = [],
    ) => {
      ctx.status = status;
      const withAlgs = scheme === 'DPoP' ? algs : undefined;
      ctx.set('WWW-Authenticate', [
        challenge(scheme, realm, error, error ? description : undefined, withAlgs),
        ...extra,
      ]);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: error ?? 'unauthorized', error_description: description };
    };

    if (!header || !schemePattern.test(header))
      return refuse(401, 'Bearer', undefined, 'an access token is required', [
        challenge('DPoP', realm, undefined, undefined, algs),
      ]);
    const match = authorizationPattern.exec(header);
    const scheme: Scheme = /^dpop/i.test(header) ? 'DPoP' : 'Bearer';
    if (!match) return refuse(401, scheme, 'invalid_token', 'the access token is malformed');
    const token = match[2]!;
    const access = await options.verify(token);
    if (!access)
      return refuse(401, scheme, 'invalid_token', 'the access token is invalid, expired or revoked');

    const jkt = access.confirmation?.jkt;
    if (jkt === undefined && scheme === 'DPoP')
      return refuse(
        401,
        'Bearer',
        'invalid_token',
        'the access token is not DPoP-bound: use the Bearer scheme',
      );
    if (jkt !== undefined) {
      if (scheme === 'Bearer')
        return refuse(
          401,
          'DPoP',
          'invalid_token',
          'the access token is DPoP-bound: present it with the DPoP scheme and a DPoP proof',
        );
      if (!dpop.baseUrl)
        return refuse(401, 'DPoP', 'invalid_token', 'this API does not accept DPoP-bound access tokens');
      const proofs = ctx.req.headersDistinct?.['dpop'] ?? (ctx.get('dpop') ? [ctx.get('dpop')] : []);
      if (!(proofs.length === 1 && acceptedProofs.get(ctx.req) === `${jkt} ${proofs[0]}`)) {
        const result = await checkDPoPProof(
          proofs,
          { method: ctx.method, url: requestUrl(ctx, dpop.baseUrl), accessToken: token, jkt },
          dpop,
        );
        if (!result.valid) return refuse(401, 'DPoP', 'invalid_dpop_proof', result.reason);
        acceptedProofs.set(ctx.req, `${jkt} ${proofs[0]}`);
      }
    }

    const missing = permissions.filter((permission) => !access.permissions.includes(permission));
    if (missing.length > 0)
      return refuse(403, scheme, 'insufficient_scope', `requires permission ${missing.join(' ')}`);
    ctx.state.access = access;
    await next();
  };
}
