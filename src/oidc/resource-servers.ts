import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { ApiResource, RbacLibrary } from '../libraries/rbac.ts';
import { guardStorage } from './guarded-adapter.ts';

type ResourceIndicators = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>;

/** The private claim carrying a user access token's grant, so a JWT can be checked against revocation. */
export const grantIdClaim = 'grant_id';

/**
 * APIs as oidc-provider's resource servers (RFC 8707): a `resource` naming a registered API gets an access token
 * for it, a JWT (RFC 9068) unless the API asked for opaque tokens. Unknown resources are `invalid_target`.
 */
export function createResourceIndicators(deps: {
  rbac: RbacLibrary;
  accessTokenAlg: 'RS256' | 'ES256' | 'EdDSA';
}): ResourceIndicators {
  return {
    enabled: true,
    async defaultResource(_ctx, _client, oneOf) {
      return oneOf;
    },
    async useGrantedResource() {
      return false;
    },
    async getResourceServerInfo(_ctx, resourceIndicator) {
      const api = await guardStorage(() => deps.rbac.findApi(resourceIndicator));
      if (!api) throw new errors.InvalidTarget(`${resourceIndicator} is not a registered API`);
      return {
        // An API's permissions are also scopes a client may ask for, to get a narrower token.
        scope: api.permissions.join(' '),
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
 * What a JWT access token says about its subject, fixed at issuance: the roles, and the permissions the API
 * declares. Opaque tokens carry nothing here; introspection answers for them with what is true at that moment.
 */
export function createExtraTokenClaims(rbac: RbacLibrary): NonNullable<Configuration['extraTokenClaims']> {
  return async (_ctx: KoaContextWithOIDC, token) => {
    const identifier = apiOf(token);
    if (!identifier) return undefined;
    return guardStorage(async () => {
      const api = (await rbac.findApi(identifier)) as ApiResource;
      const subject =
        token.kind === 'ClientCredentials' ? { clientId: token.clientId! } : { accountId: token.accountId! };
      const access = await rbac.effectiveAccess(subject, api);
      return {
        roles: access.roles,
        permissions: access.permissions,
        ...(token.kind === 'AccessToken' && token.grantId ? { [grantIdClaim]: token.grantId } : {}),
      };
    });
  };
}
