import type { Middleware } from 'koa';

/** What an API learns from a valid access token. */
export interface VerifiedAccess {
  /** The account (user tokens) or the client (client_credentials tokens) the token speaks for. */
  subject: string;
  clientId: string;
  roles: string[];
  permissions: string[];
}

/**
 * Checks an access token: returns what it grants, or undefined when it is not a valid token for this API (bad
 * signature, wrong audience, expired, revoked...). Throws only when it cannot tell (the issuer is unreachable),
 * which is then a 503, never a 401.
 */
export type AccessTokenVerifier = (token: string) => Promise<VerifiedAccess | undefined>;

declare module 'koa' {
  interface DefaultState {
    access?: VerifiedAccess;
  }
}

// RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const bearerPattern = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

function challenge(realm: string, error?: string, description?: string): string {
  const parts = [`realm="${realm}"`];
  if (error) parts.push(`error="${error}"`);
  if (description) parts.push(`error_description="${description.replaceAll('"', "'")}"`);
  return `Bearer ${parts.join(', ')}`;
}

/**
 * The 401/403 rule (RFC 6750 section 3) in one middleware, for Gatehouse's admin API and for relying parties
 * protecting their own Koa APIs:
 *
 * - no token: 401 with a bare `WWW-Authenticate: Bearer realm=...` challenge;
 * - a malformed, badly signed, foreign, expired or revoked token: 401 with `error="invalid_token"`;
 * - a valid token without every required permission: 403 with `error="insufficient_scope"`.
 *
 * @example
 * router.delete('/users/:id', requirePermission('users:delete', { verify: createJwtVerifier({ issuer, audience }) }), handler);
 */
export function requirePermission(
  required: string | readonly string[],
  options: { verify: AccessTokenVerifier; realm?: string },
): Middleware {
  const permissions = typeof required === 'string' ? [required] : [...required];
  const realm = options.realm ?? 'api';

  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const refuse = (status: 401 | 403, error: string | undefined, description: string) => {
      ctx.status = status;
      ctx.set('WWW-Authenticate', challenge(realm, error, error ? description : undefined));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: error ?? 'unauthorized', error_description: description };
    };

    if (!header || !/^bearer(\s|$)/i.test(header))
      return refuse(401, undefined, 'an access token is required');
    const match = bearerPattern.exec(header);
    if (!match) return refuse(401, 'invalid_token', 'the access token is malformed');
    const access = await options.verify(match[1]!);
    if (!access) return refuse(401, 'invalid_token', 'the access token is invalid, expired or revoked');
    const missing = permissions.filter((permission) => !access.permissions.includes(permission));
    if (missing.length > 0)
      return refuse(403, 'insufficient_scope', `requires permission ${missing.join(' ')}`);
    ctx.state.access = access;
    await next();
  };
}
