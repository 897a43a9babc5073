import type {
  Adapter,
  Configuration,
  FindAccount,
  interactionPolicy,
  KoaContextWithOIDC,
} from 'oidc-provider';
import type { Logger } from 'pino';
import type { GatehouseConfig } from '../config/load-config.ts';
import type { PageRenderer } from '../libraries/page-renderer.ts';
import type { RbacLibrary } from '../libraries/rbac.ts';
import type { KeySet } from '../libraries/signing-keys.ts';
import { providerCookieNames } from '../vocabulary/cookie-names.ts';
import { interactionUrl } from '../vocabulary/interaction-paths.ts';
import { acrValues } from './acr.ts';
import { createDeviceFlowPages, userCodeMask } from './device-flow-pages.ts';
import { createOutgoingFetch } from './outgoing-fetch.ts';
import { createExtraTokenClaims, createResourceIndicators } from './resource-servers.ts';
import { bitsOfOpaqueRandomness } from '../storage/model-names.ts';

export interface ProviderConfigurationDeps {
  config: GatehouseConfig;
  keySet: KeySet;
  cookieKeys: string[];
  adapterFor: (model: string) => Adapter;
  findAccount: FindAccount;
  pages: PageRenderer;
  rbac: RbacLibrary;
  interactionPolicy?: interactionPolicy.Prompt[];
  log: Logger;
}

/** The claims each scope releases (OpenID Connect Core 1.0 section 5.4, plus Gatehouse's `roles`). */
export const scopeClaims = {
  // How the user signed in (RFC 8176 `amr`, and `acr`) travels with every ID token.
  openid: ['sub', 'acr', 'amr', 'auth_time', 'idp'],
  email: ['email', 'email_verified'],
  profile: ['name', 'updated_at'],
  roles: ['roles'],
} as const;

function clientNameOf(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc?.client;
  return client ? (client.clientName ?? client.clientId) : undefined;
}

/**
 * Everything Gatehouse tells oidc-provider. The protocol stays oidc-provider's; this decides storage, accounts,
 * lifetimes, enabled features and the look of the pages it renders itself.
 */
export function buildProviderConfiguration(deps: ProviderConfigurationDeps): Configuration {
  const { config, pages } = deps;
  const secure = config.issuer.startsWith('https:');
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure };

  return {
    adapter: deps.adapterFor,
    clients: [],
    findAccount: deps.findAccount,
    jwks: { keys: deps.keySet.keys as NonNullable<Configuration['jwks']>['keys'] },
    claims: { ...scopeClaims, sid: null },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'roles'],
    // Scope-requested claims go in the ID token too, as Keycloak and most relying parties expect.
    conformIdTokenClaims: false,
    cookies: {
      keys: deps.cookieKeys,
      names: { ...providerCookieNames },
      long: cookieOptions,
      short: cookieOptions,
    },
    extraClientMetadata: {
      properties: [
        'first_party',
        'mfa_required',
        'frontchannel_logout_uri',
        'frontchannel_logout_session_required',
        'allowed_apis',
      ],
    },
    enabledJWA: {
      idTokenSigningAlgValues: [...config.keys.algorithms],
      userinfoSigningAlgValues: [...config.keys.algorithms],
      introspectionSigningAlgValues: [...config.keys.algorithms],
      authorizationSigningAlgValues: [...config.keys.algorithms],
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Any confidential client (an API with its own credentials) may introspect; a public client only the
        // tokens issued to it (it cannot prove who it is). Keycloak draws the same line.
        allowedPolicy: async (_ctx, caller, token) =>
          caller.clientAuthMethod !== 'none' || token.clientId === caller.clientId,
      },
      revocation: {
        enabled: true,
        // RFC 7009 section 2.1: a client revokes only the tokens issued to it.
        allowedPolicy: async (_ctx, caller, token) => token.clientId === caller.clientId,
      },
      userinfo: { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true },
      backchannelLogout: { enabled: true },
      deviceFlow: { enabled: true, charset: 'base-20', mask: userCodeMask, ...createDeviceFlowPages(pages) },
      resourceIndicators: createResourceIndicators({
        rbac: deps.rbac,
        accessTokenAlg: config.keys.accessTokenAlg,
      }),
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = pages.render('logout', { title: 'Sign out', form, clientName: clientNameOf(ctx) });
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = pages.render('logged-out', { title: 'Signed out', clientName: clientNameOf(ctx) });
        },
      },
    },
    interactions: {
      url: (_ctx, interaction) => interactionUrl(interaction),
      ...(deps.interactionPolicy ? { policy: deps.interactionPolicy } : {}),
    },
    acrValues: Object.values(acrValues),
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = pages.render('error', {
        title: 'Sign-in failed',
        message: 'The application sent a request Gatehouse cannot accept.',
        error: out.error,
        description: out.error_description,
      });
    },
    // Authorization code only (OAuth 2.0 Security BCP, RFC 9700 section 2.1.2: no implicit flow).
    responseTypes: ['code'],
    rotateRefreshToken: true,
    // Every client allowed the refresh_token grant gets a refresh token. Without `offline_access` it ends with the
    // browser session (oidc-provider's default expiresWithSession); with it (and prompt=consent, OIDC Core 11) it
    // outlives sign-out and a Redis restart, as offline access should.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    extraTokenClaims: createExtraTokenClaims(deps.rbac),
    formats: { bitsOfOpaqueRandomness },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
      ClientCredentials: (_ctx, token) =>
        token.resourceServer?.accessTokenTTL ?? config.ttl.clientCredentials,
      AuthorizationCode: config.ttl.authorizationCode,
      IdToken: config.ttl.idToken,
      Interaction: config.ttl.interaction,
      // Idle timeout, capped by the absolute lifetime counted from sign-in: every save (each request through the
      // session) moves the end forward, never past loginTs + ttl.session.
      Session: (_ctx, session) => {
        const signedIn = session.loginTs ?? Math.floor(Date.now() / 1000);
        const absoluteLeft = signedIn + config.ttl.session - Math.floor(Date.now() / 1000);
        return Math.max(1, Math.min(config.ttl.sessionIdle, absoluteLeft));
      },
      Grant: config.ttl.grant,
      DeviceCode: config.ttl.deviceCode,
      // The refresh token chain has an absolute lifetime: a rotated token inherits what is left of its parent's.
      RefreshToken: (ctx) => ctx?.oidc?.entities.RotatedRefreshToken?.remainingTTL ?? config.ttl.refreshToken,
    },
    fetch: createOutgoingFetch({
      allowSpecialUseAddresses: !config.production,
      allowHosts: config.outgoing.allowHosts,
      backchannelRetryDelaysMs: config.outgoing.backchannelRetryDelaysSeconds.map(
        (seconds) => seconds * 1000,
      ),
      log: deps.log,
    }),
  };
}
