import type { GatehouseConfig } from '../config/load-config.ts';
import type { Pool } from '../db/pg-pool.ts';
import type { HttpAppParts } from '../http-app.ts';
import type { ServerLibraries } from '../libraries/create-libraries.ts';
import { createMemoryReplayCache, createRedisReplayCache } from '../middleware/dpop-proof.ts';
import { acrValues } from '../oidc/acr.ts';
import { createInProcessVerifier } from '../oidc/admin-token-verifier.ts';
import type { ProviderHost } from '../oidc/provider-host.ts';
import type { TokenInspector } from '../oidc/token-inspector.ts';
import type { HotState } from '../storage/hot-state.ts';
import { createAccountClient } from './account/account-client.ts';
import { createAccountRouter } from './account/account-router.ts';
import { createAdminRouter } from './admin-api/admin-router.ts';
import { createAuthzenRouter } from './authzen/authzen-router.ts';
import { buildConsoleRouter } from './console/build-console-router.ts';
import { createFederationRouter } from './federation-router.ts';
import { createHealthRouter } from './health.ts';
import { createInteractionRouter } from './interaction/interaction-router.ts';
import { createDevMailboxRouter } from './dev-mailbox.ts';
import { createEmailLinkRouter } from './password-reset/email-link-router.ts';

/** The audience of access tokens for Gatehouse's own admin API. */
export const adminAudienceOf = (config: GatehouseConfig) => `${config.issuer}/admin`;
/** The audience of access tokens for Gatehouse's AuthZEN API (the policy decision point). */
export const authzAudienceOf = (config: GatehouseConfig) => `${config.issuer}/authz`;

interface RouterDeps {
  pool: Pool;
  hotState: HotState;
  providerHost: ProviderHost;
  inspector: TokenInspector;
  /** Where this process answers on loopback, for the account page's back-channel calls. */
  internalOrigin: () => string;
}

/** Gatehouse's own routes, grouped as the HTTP app mounts them. */
export function createRouters(
  config: GatehouseConfig,
  libraries: ServerLibraries,
  deps: RouterDeps,
): Pick<HttpAppParts, 'formRouters' | 'routers'> {
  const { pool, hotState, providerHost } = deps;
  const {
    accounts,
    rbac,
    mfa,
    audit,
    throttles,
    knownDevices,
    identityProviders,
    federation,
    upstream,
    pages,
    csrf,
    passkeys,
  } = libraries;
  const interactionRouter = createInteractionRouter(
    {
      provider: () => providerHost.current(),
      accounts,
      passkeys,
      pages,
      csrf,
      mfa,
      audit,
      store: hotState.keyValue,
      throttles,
      knownDevices,
      issuer: config.issuer,
      acr: acrValues,
      interactionTtlSeconds: config.ttl.interaction,
      apis: rbac,
      federation: { federation, identityProviders, upstream, issuer: config.issuer },
    },
    {
      passwordReset: libraries.passwordReset,
      throttles: libraries.passwordResetThrottles,
      tokenSeconds: config.passwordReset.tokenSeconds,
    },
    {
      signUp: libraries.signUp,
      throttles: libraries.signUpThrottles,
      tokenSeconds: config.signUp.tokenSeconds,
      minLength: config.passwords.minLength,
    },
    config.emailCode.enabled && libraries.mailer.enabled
      ? {
          codes: libraries.emailCodes,
          requests: libraries.emailCodeThrottles,
          guesses: libraries.emailCodeThrottles.guesses,
        }
      : undefined,
  );
  // The pages of the links Gatehouse mails (password reset, address verification, invitations, sign-up).
  const emailLinkRouter = createEmailLinkRouter({
    pages,
    csrf,
    passwordReset: libraries.passwordReset,
    emailVerification: libraries.emailVerification,
    invitations: libraries.invitations,
    signUp: libraries.signUp,
    emailChange: libraries.emailChange,
    issuer: config.issuer,
    passwordRules: config.passwords,
  });
  const accountRouter = buildAccountRouter(config, libraries, deps);
  const adminRouter = buildAdminRouter(config, libraries, deps);
  const authzenRouter = buildAuthzenRouter(config, libraries, deps);
  const federationRouter = createFederationRouter({
    issuer: config.issuer,
    identityProviders,
    upstream,
    store: hotState.keyValue,
    pages,
    audit,
  });
  const healthRouter = createHealthRouter([
    { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) },
    { name: hotState.kind === 'redis' ? 'redis' : 'memory', check: () => hotState.ping() },
  ]);
  return {
    formRouters: [
      interactionRouter,
      accountRouter,
      emailLinkRouter,
      buildConsoleRouter(config, libraries, deps),
    ],
    routers: [
      healthRouter,
      federationRouter,
      adminRouter,
      authzenRouter,
      // Only a development server without smtp.url has a mailbox: elsewhere /dev/mailbox is a 404.
      ...(libraries.devMailbox
        ? [createDevMailboxRouter({ mailbox: libraries.devMailbox, pages, issuer: config.issuer })]
        : []),
    ],
  };
}

function buildAccountRouter(config: GatehouseConfig, libraries: ServerLibraries, deps: RouterDeps) {
  const { hotState, providerHost } = deps;
  const { accounts, mfa, audit, sessions, throttles, federation, identityProviders, pages, csrf } = libraries;
  return createAccountRouter({
    issuer: config.issuer,
    client: createAccountClient({ issuer: config.issuer, internalOrigin: deps.internalOrigin }),
    store: hotState.keyValue,
    pages,
    csrf,
    sessionTtlSeconds: config.ttl.session,
    mfa,
    audit,
    sessions,
    clientName: async (clientId) => {
      const client = await providerHost
        .current()
        .Client.find(clientId)
        .catch(() => undefined);
      return client?.clientName ?? clientId;
    },
    // Read with oidc-provider's own cookie jar and keys: a jar holding other keys too would re-sign the cookie
    // with its first key, one oidc-provider cannot verify, and the browser would lose its session.
    providerSessionId: (ctx) =>
      providerHost
        .current()
        .createContext(ctx.req, ctx.res)
        .cookies.get(providerHost.current().cookieName('session'), { signed: true }),
    accounts,
    passwordThrottle: throttles.passwordPerAccount,
    passwordMinLength: config.passwords.minLength,
    federation,
    identityProviders,
    passkeys: libraries.passkeys,
    emailChange: {
      emailChange: libraries.emailChange,
      throttle: libraries.emailChangeThrottle,
      tokenSeconds: config.emailVerification.tokenSeconds,
    },
  });
}

/** DPoP proof ids in Redis (SET NX PX under the key prefix), so a proof is accepted once by all processes. */
function dpopReplayCacheOf(config: GatehouseConfig, deps: RouterDeps) {
  return deps.hotState.redis
    ? createRedisReplayCache(deps.hotState.redis, config.redisKeyPrefix)
    : createMemoryReplayCache();
}

function buildAuthzenRouter(config: GatehouseConfig, libraries: ServerLibraries, deps: RouterDeps) {
  const { clients, rbac, authz } = libraries;
  return createAuthzenRouter({
    issuer: config.issuer,
    decisions: authz.decisions,
    search: authz.search,
    verify: createInProcessVerifier({
      inspector: deps.inspector,
      rbac,
      audience: authzAudienceOf(config),
      clientAllowed: (clientId, api) => clients.allowsApi(clientId, api),
    }),
    dpopReplayCache: dpopReplayCacheOf(config, deps),
    bodyLimitBytes: config.http.bodyLimitBytes,
  });
}

function buildAdminRouter(config: GatehouseConfig, libraries: ServerLibraries, deps: RouterDeps) {
  const { accounts, clients, rbac, mfa, sessions, audit, throttles, identityProviders } = libraries;
  return createAdminRouter({
    issuer: config.issuer,
    accounts,
    clients,
    rbac,
    mfa,
    sessions,
    audit,
    throttles,
    identityProviders,
    authz: libraries.authz,
    lifecycle: libraries.lifecycle,
    ...(libraries.invitations.enabled ? { invitations: libraries.invitations } : {}),
    verify: createInProcessVerifier({
      inspector: deps.inspector,
      rbac,
      audience: adminAudienceOf(config),
      clientAllowed: (clientId, api) => clients.allowsApi(clientId, api),
    }),
    dpopReplayCache: dpopReplayCacheOf(config, deps),
    bodyLimitBytes: config.http.bodyLimitBytes,
  });
}
