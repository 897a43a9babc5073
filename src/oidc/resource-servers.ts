import { errors, type Client, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { ApiResource, RbacLibrary } from '../libraries/rbac.ts';
import { guardStorage } from '../storage/guarded-adapter.ts';

type ResourceIndicators = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>;

/** The private claim carrying a user access token's grant, so a JWT can be checked against revocation. */
export const grantIdClaim = 'grant_id';

/** The APIs a client may get user access tokens for (`client create --api`), from its provider metadata. */
export function allowedApisOf(client: { metadata(): Record<string, unknown> } | undefined): string[] {
  const apis = client?.metadata()['allowed_apis'];
  return Array.isArray(apis) ? apis.map(String) : [];
}

/**
 * APIs as oidc-provider's resource servers (RFC 8707): a `resource` naming a registered API gets an access token
 * for it, a JWT (RFC 9068) unless the API asked for opaque tokens. Unknown resources are `invalid_target`.
 *
 * An API's permissions are the scopes a client asks for to get them. Which resources a client may ask for, and which
 * scopes it may get, depends on whose token it is:
 * - a user's token (code, device, refresh): only for the APIs the client is allowed (`--api`), else
 *   `invalid_target`, so that an app a user signs in to cannot act on an API it has no business with (the confused
 *   deputy: any app an administrator uses getting tokens for Gatehouse's admin API). Once the user is known, only the
 *   permissions they hold are offered, so consent asks for nothing they could not use;
 * - a client's own token (`client_credentials`): any registered API, carrying what the client's own roles give there.
 *   A `scope` that names none of the API's permissions is `invalid_scope` (rather than a token for everything).
 */
export function createResourceIndicators(deps: {
  rbac: RbacLibrary;
  accessTokenAlg: 'RS256' | 'ES256' | 'EdDSA';
}): ResourceIndicators {
  async function offeredScopes(ctx: KoaContextWithOIDC, client: Client | undefined, api: ApiResource) {
    if (ctx.oidc.route === 'token' && ctx.oidc.params?.['grant_type'] === 'client_credentials') {
      const asked = String(ctx.oidc.params['scope'] ?? '')
        .split(' ')
        .filter(Boolean);
      if (asked.length > 0 && !asked.some((scope) => api.permissions.includes(scope)))
        throw new errors.InvalidScope(
          `none of the requested scopes is a permission of ${api.identifier}`,
          asked.join(' '),
        );
      return api.permissions;
    }
    if (!allowedApisOf(client).includes(api.identifier))
      throw new errors.InvalidTarget(`this client is not allowed to request tokens for ${api.identifier}`);
    const accountId = ctx.oidc.session?.accountId;
    if (!accountId || !/(^|_)(authorization|resume)$/.test(ctx.oidc.route)) return api.permissions;
    return (await deps.rbac.effectiveAccess({ accountId }, api)).permissions;
  }

  return {
    enabled: true,
    async defaultResource(_ctx, _client, oneOf) {
      return oneOf;
    },
    async useGrantedResource() {
      return false;
    },
    async getResourceServerInfo(ctx, resourceIndicator, client) {
      const api = await guardStorage(() => deps.rbac.findApi(resourceIndicator));
      if (!api) throw new errors.InvalidTarget(`${resourceIndicator} is not a registered API`);
      const scopes = await guardStorage(() => offeredScopes(ctx, client, api));
      return {
        scope: scopes.join(' '),
        audience: api.identifier,
        accessTokenFormat: api.format,
        ...(api.accessTokenTtl ? { accessTokenTTL: api.accessTokenTtl } : {}),
        ...(api.format === 'jwt' ? { jwt: { sign: { alg: deps.accessTokenAlg } } } : {}),
      };
    },
  };
}

function apiOf(token: {
  resourceServer?: { audience?: string | undefined; accessTokenFormat?: string | undefined } | undefined;
}) {
  return token.resourceServer?.accessTokenFormat === 'jwt' ? token.resourceServer.audience : undefined;
}

/**
 * What an access token says about its subject, fixed at issuance:
 * - a JWT: the roles, and the permissions of the API that the subject holds and the token's scope names
 *   (`rbac.tokenAccess`, the rule introspection and Gatehouse's own APIs apply too);
 * - a user's token (JWT or opaque) for an API with search claims (`api create --search-claim`): each claim, from a
 *   bounded resource search at this issuance (refresh included). An opaque token keeps them in its stored `extra`,
 *   which introspection answers with. Opaque tokens carry nothing else here; introspection answers for them with
 *   the roles and permissions true at that moment.
 */
export function createExtraTokenClaims(rbac: RbacLibrary): NonNullable<Configuration['extraTokenClaims']> {
  return async (_ctx: KoaContextWithOIDC, token) => {
    const identifier = apiOf(token);
    const userToken = token.kind === 'AccessToken' && typeof token.accountId === 'string';
    if (!identifier) {
      const audience = token.resourceServer?.audience;
      if (!userToken || token.resourceServer?.accessTokenFormat !== 'opaque' || typeof audience !== 'string')
        return undefined;
      return guardStorage(async () => {
        const api = await rbac.findApi(audience);
        if (!api || api.searchClaims.length === 0) return undefined;
        return rbac.searchClaimsFor(token.accountId!, api);
      });
    }
    return guardStorage(async () => {
      const api = (await rbac.findApi(identifier)) as ApiResource;
      const access = await rbac.tokenAccess(
        {
          accountId: token.kind === 'ClientCredentials' ? undefined : token.accountId,
          clientId: token.clientId!,
          scope: token.scope,
        },
        api,
      );
      return {
        ...(userToken ? await rbac.searchClaimsFor(token.accountId!, api) : {}),
        roles: access.roles,
        permissions: access.permissions,
        ...(token.kind === 'AccessToken' && token.grantId ? { [grantIdClaim]: token.grantId } : {}),
      };
    });
  };
}
