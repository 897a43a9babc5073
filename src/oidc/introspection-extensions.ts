import type { Provider } from 'oidc-provider';
import type { RbacLibrary } from '../libraries/rbac.ts';
import { guardStorage } from '../storage/guarded-adapter.ts';
import { providerRouteMatcher, type ProviderMiddleware } from './provider-paths.ts';
import type { TokenInspector } from './token-inspector.ts';

type IntrospectionBody = Record<string, unknown> & {
  active?: boolean;
  sub?: string;
  client_id?: string;
  aud?: unknown;
};

/**
 * Two additions to oidc-provider's introspection endpoint (RFC 7662), both after its own client authentication:
 *
 * 1. Gatehouse answers for its own JWT access tokens, which oidc-provider refuses (`unsupported_token_type`):
 *    signature, expiry and a live grant are checked, so a JWT of a revoked grant is inactive. A DPoP-bound JWT
 *    is answered with its `cnf.jkt` and `token_type: DPoP`, as oidc-provider answers for bound opaque tokens.
 * 2. Every active answer carries the subject's `roles` and `permissions` as they are now (for a registered API,
 *    only the permissions it declares, narrowed by the token's scope: `rbac.tokenAccess`), whatever the token said
 *    when it was issued.
 */
export function introspectionExtensions(
  provider: Provider,
  deps: { inspector: TokenInspector; rbac: RbacLibrary },
): ProviderMiddleware {
  const atIntrospection = providerRouteMatcher(['/token/introspection']);
  const extend: ProviderMiddleware = async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'introspection') return;
    const body = ctx.body as IntrospectionBody | undefined;
    const caller = ctx.oidc.client;

    if (
      ctx.status === 400 &&
      (body as { error?: string } | undefined)?.error === 'unsupported_token_type' &&
      caller
    ) {
      const token = await guardStorage(() => deps.inspector.inspect(String(ctx.oidc.params?.token ?? '')));
      ctx.status = 200;
      // Same policy as for opaque tokens: public clients only learn about their own tokens.
      if (!token || (caller.clientAuthMethod === 'none' && token.clientId !== caller.clientId)) {
        ctx.body = { active: false };
        return;
      }
      ctx.body = {
        active: true,
        ...(token.accountId ? { sub: token.accountId } : {}),
        client_id: token.clientId,
        scope: token.scope,
        exp: token.exp,
        iat: token.iat,
        iss: provider.issuer,
        aud: token.audience.length === 1 ? token.audience[0] : token.audience,
        jti: token.jti,
        // As oidc-provider answers for its opaque tokens (RFC 9449 section 6.2): the key a bound token needs.
        ...(token.confirmation ? { cnf: { jkt: token.confirmation.jkt } } : {}),
        token_type: token.confirmation ? 'DPoP' : 'Bearer',
      };
    }

    const answer = ctx.body as IntrospectionBody | undefined;
    if (answer?.active !== true) return;
    await guardStorage(async () => {
      const audiences = Array.isArray(answer.aud)
        ? answer.aud.map(String)
        : typeof answer.aud === 'string'
          ? [answer.aud]
          : [];
      const api = audiences.length === 1 ? await deps.rbac.findApi(audiences[0]!) : undefined;
      const access = await deps.rbac.tokenAccess(
        {
          accountId: answer.sub,
          clientId: String(answer.client_id),
          scope: typeof answer['scope'] === 'string' ? answer['scope'] : undefined,
        },
        api,
      );
      answer.roles = access.roles;
      answer.permissions = access.permissions;
    });
  };
  return (ctx, next) => (atIntrospection(ctx.path) ? extend(ctx, next) : next());
}
