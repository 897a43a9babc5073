import { errors, type Adapter, type Configuration } from 'oidc-provider';
import { scopeClaims } from '../../src/oidc/provider-configuration.ts';
import type { BareProviderSettings } from './bare-provider-settings.ts';

/**
 * oidc-provider configured as Gatehouse configures it (src/oidc/provider-configuration.ts), minus what Gatehouse
 * adds around the protocol: the same algorithms, TTLs, features, scopes and claims, refresh-token rotation and
 * resource server; static clients equal to the ones the bench registers in Gatehouse, one fixed account, and no
 * roles or permissions in tokens or introspection. What remains different between the two is the wrapper's cost.
 */
export function buildBareConfiguration(
  settings: BareProviderSettings,
  adapter: (model: string) => Adapter,
): Configuration {
  const { api, serviceClient, webClient, account } = settings.fixtures;
  const { ttl, algorithms } = settings;
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure: false };
  return {
    adapter,
    clients: [
      {
        client_id: serviceClient.id,
        client_secret: serviceClient.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: serviceClient.scope,
      },
      {
        client_id: webClient.id,
        client_secret: webClient.secret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [webClient.redirectUri],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: webClient.scope,
      },
    ],
    async findAccount(_ctx, id) {
      if (id !== account.id) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          email: account.email,
          email_verified: true,
          name: account.name,
          updated_at: 0,
        }),
      };
    },
    jwks: { keys: settings.keys as NonNullable<Configuration['jwks']>['keys'] },
    claims: { ...scopeClaims, sid: null },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'roles'],
    conformIdTokenClaims: false,
    cookies: { keys: [settings.cookieKey], long: cookieOptions, short: cookieOptions },
    enabledJWA: {
      idTokenSigningAlgValues: [...algorithms],
      userinfoSigningAlgValues: [...algorithms],
      introspectionSigningAlgValues: [...algorithms],
      authorizationSigningAlgValues: [...algorithms],
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, caller, token) =>
          caller.clientAuthMethod !== 'none' || token.clientId === caller.clientId,
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, caller, token) => token.clientId === caller.clientId,
      },
      userinfo: { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => false,
        async getResourceServerInfo(_ctx, resourceIndicator) {
          if (resourceIndicator !== api.identifier) {
            throw new errors.InvalidTarget(`${resourceIndicator} is not a registered API`);
          }
          return {
            scope: api.permission,
            audience: api.identifier,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: settings.accessTokenAlg } },
          };
        },
      },
      rpInitiatedLogout: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    responseTypes: ['code'],
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ttl.accessToken,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ttl.clientCredentials,
      AuthorizationCode: ttl.authorizationCode,
      IdToken: ttl.idToken,
      Interaction: ttl.interaction,
      Session: ttl.session,
      Grant: ttl.grant,
      RefreshToken: (ctx) => ctx?.oidc?.entities.RotatedRefreshToken?.remainingTTL ?? ttl.refreshToken,
    },
  };
}
