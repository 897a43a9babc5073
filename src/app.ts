import type Koa from 'koa';
import type { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import { startBackgroundJobs } from './background-jobs.ts';
import { createHttpApp } from './http-app.ts';
import { createMetrics } from './libraries/metrics.ts';
import type { GatehouseConfig } from './config/load-config.ts';
import type { Pool } from './db/pg-pool.ts';
import { createClientLibrary, type ClientLibrary } from './libraries/clients.ts';
import type { AccountLibrary } from './libraries/accounts.ts';
import { createLibraries } from './libraries/create-libraries.ts';
import { createCsrfTokens } from './libraries/csrf.ts';
import type { MfaLibrary } from './libraries/mfa.ts';
import { createPageRenderer } from './libraries/page-renderer.ts';
import { createOperatorRequestProcessor } from './libraries/operator-requests.ts';
import { createRequestInfoScope } from './libraries/request-info.ts';
import { createSessionManagement, type SessionManagement } from './libraries/session-management.ts';
import type { RbacLibrary } from './libraries/rbac.ts';
import { deriveKey } from './libraries/secret-box.ts';
import type { SigningKeyLibrary } from './libraries/signing-keys.ts';
import { createSignInThrottles, type SignInThrottles } from './libraries/throttles.ts';
import type { AuditLog } from './libraries/audit.ts';
import type { IdentityProviderLibrary } from './libraries/identity-providers.ts';
import { acrValues } from './oidc/acr.ts';
import { createInteractionPolicy } from './oidc/interaction-policy.ts';
import { createProvider } from './oidc/create-provider.ts';
import { createFindAccount } from './oidc/find-account.ts';
import { createFederation } from './libraries/federation.ts';
import { createAccountQueries } from './queries/account-queries.ts';
import { createFederationQueries } from './queries/federation-queries.ts';
import { createFederationRouter } from './routes/federation-router.ts';
import { createInProcessVerifier } from './oidc/admin-token-verifier.ts';
import { createProviderHost } from './oidc/provider-host.ts';
import { createTokenInspector } from './oidc/token-inspector.ts';
import { createClientQueries } from './queries/client-queries.ts';
import { createConfigVersionQueries } from './queries/config-version-queries.ts';
import { cacheAccountQueries, cacheClientQueries, cacheFederationQueries } from './queries/cached-queries.ts';
import { createConfigCache } from './libraries/config-cache.ts';
import { createOidcModelQueries } from './queries/oidc-model-queries.ts';
import { createSessionQueries } from './queries/session-queries.ts';
import { accountClientId, createAccountClient } from './routes/account/account-client.ts';
import { createAccountRouter } from './routes/account/account-router.ts';
import { adminPermissions, createAdminRouter } from './routes/admin-api/admin-router.ts';
import { createHealthRouter } from './routes/health.ts';
import { createInteractionRouter } from './routes/interaction/interaction-router.ts';
import type { HotState } from './storage/hot-state.ts';
import { createModelAdapters } from './storage/model-adapters.ts';

export interface GatehouseDeps {
  pool: Pool;
  hotState: HotState;
  log: Logger;
  secret: string;
  /** Where this process answers on loopback, for the account page's back-channel calls. */
  internalOrigin: () => string;
}

export interface Gatehouse {
  app: Koa;
  readonly provider: Provider;
  accounts: AccountLibrary;
  clients: ClientLibrary;
  keys: SigningKeyLibrary;
  rbac: RbacLibrary;
  mfa: MfaLibrary;
  sessions: SessionManagement;
  audit: AuditLog;
  throttles: SignInThrottles;
  identityProviders: IdentityProviderLibrary;
  close(): Promise<void>;
}

/**
 * Builds Gatehouse: the oidc-provider instance configured for Gatehouse's storage, accounts and pages, and the
 * Koa application around it. `src/main.ts` and the tests both call this; nothing here reads the environment.
 */
export async function createGatehouse(config: GatehouseConfig, deps: GatehouseDeps): Promise<Gatehouse> {
  const { pool, hotState, log, secret } = deps;
  const metrics = createMetrics();
  const configVersions = createConfigVersionQueries(pool);
  const cache = createConfigCache({
    readVersions: () => configVersions.read(),
    pollMs: config.configCache.pollMs,
    maxAgeMs: config.configCache.maxAgeMs,
    log,
  });
  const { secretBox, accounts, keys, rbac, mfa, audit, sessionLedger, upstream, identityProviders } =
    createLibraries(config, pool, secret, { onAudit: (type) => metrics.auditEvent(type), cache });
  const federation = createFederation({
    pool,
    queries: cacheFederationQueries(createFederationQueries(pool), cache),
    accountQueries: cacheAccountQueries(createAccountQueries(pool), cache),
    accounts,
    rbac,
    audit,
    store: hotState.keyValue,
    sessionTtlSeconds: config.ttl.session,
    log,
  });
  const throttles = createSignInThrottles(config, hotState);
  await keys.ensureKeys();

  const pages = createPageRenderer();
  // Cookies are signed with the current secret's key and still verify under a previous one during a rotation.
  const cookieKeys = (purpose: string) =>
    [secret, ...config.previousSecrets].map((root) => deriveKey(root, purpose).toString('base64url'));
  const providerCookieKeys = cookieKeys('provider cookie keys v1');
  const csrf = createCsrfTokens(deriveKey(secret, 'csrf tokens v1'));
  const oidcModels = createOidcModelQueries(pool, { prepared: config.databaseUrl !== null });
  const clients = createClientLibrary({
    pool,
    queries: cacheClientQueries(createClientQueries(pool), cache),
    cache,
    secretBox,
    production: config.production,
    // Validated by the running provider's own client schema (the host is built below, before any call).
    validateMetadata: async (metadata) => {
      await providerHost.current().Client.validate(metadata as Parameters<Provider['Client']['validate']>[0]);
    },
  });

  const requestInfo = createRequestInfoScope();
  const sessionQueries = createSessionQueries(pool);
  const adapterFor = createModelAdapters({
    hotState,
    oidcModels,
    sessions: sessionQueries,
    requestInfo,
    reuseGraceSeconds: config.refreshToken.reuseGraceSeconds,
    findClient: (id) => clients.findProviderMetadata(id),
  });

  const adminAudience = `${config.issuer}/admin`;
  await rbac.ensureBuiltinApi(adminAudience, 'Gatehouse admin API', {
    [adminPermissions.read]: 'See the users, applications and settings of this Gatehouse',
    [adminPermissions.write]: 'Change the users, applications and settings of this Gatehouse',
  });
  const inspector = createTokenInspector({
    provider: () => providerHost.current(),
    publicKeys: () => providerHost.keySet().publicKeys,
    issuer: config.issuer,
  });

  const providerHost = await createProviderHost({
    keys,
    refreshSeconds: config.keys.refreshSeconds,
    log,
    build: (keySet) =>
      createProvider({
        config,
        keySet,
        cookieKeys: providerCookieKeys,
        adapterFor,
        findAccount: createFindAccount(
          accounts,
          (accountId) => rbac.rolesOfAccount(accountId),
          federation.idpOfLogin,
        ),
        pages,
        rbac,
        inspector,
        interactionPolicy: createInteractionPolicy({ mfa, mfaAcr: acrValues.mfa }),
        clientAuthThrottle: { perClient: throttles.clientPerClient, perIp: throttles.clientPerIp },
        metrics,
        audit,
        log,
      }),
  });

  const sessions = createSessionManagement({
    queries: sessionQueries,
    ledger: sessionLedger,
    adapterFor,
    provider: () => providerHost.current(),
    audit,
    log,
  });

  await clients.ensure({
    id: accountClientId,
    name: 'Gatehouse account',
    redirectUris: [`${config.issuer}/account/callback`],
    postLogoutRedirectUris: [`${config.issuer}/account/signed-out`],
    grantTypes: ['authorization_code'],
    scope: 'openid email profile roles',
    public: true,
    firstParty: true,
    clientUri: `${config.issuer}/account`,
  });

  const interactionRouter = createInteractionRouter({
    provider: () => providerHost.current(),
    accounts,
    pages,
    csrf,
    mfa,
    audit,
    store: hotState.keyValue,
    throttles,
    acr: acrValues,
    interactionTtlSeconds: config.ttl.interaction,
    apis: rbac,
    federation: { federation, identityProviders, upstream, issuer: config.issuer },
  });
  const accountRouter = createAccountRouter({
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
  });
  const adminRouter = createAdminRouter({
    issuer: config.issuer,
    accounts,
    clients,
    rbac,
    mfa,
    sessions,
    audit,
    throttles,
    identityProviders,
    verify: createInProcessVerifier({
      inspector,
      rbac,
      audience: adminAudience,
      clientAllowed: (clientId, api) => clients.allowsApi(clientId, api),
    }),
    bodyLimitBytes: config.http.bodyLimitBytes,
  });
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

  const app = createHttpApp({
    config,
    log,
    requestInfo,
    pages,
    metrics,
    cookieKeys: cookieKeys('app cookie keys v1'),
    formRouters: [interactionRouter, accountRouter],
    routers: [healthRouter, federationRouter, adminRouter],
    providerHost,
  });

  const jobs = startBackgroundJobs(
    [
      {
        name: 'expired rows',
        everyMs: 3600_000,
        run: () => Promise.all([oidcModels.deleteExpired(), sessionQueries.deleteExpired()]),
      },
      {
        name: 'operator requests',
        everyMs: 1000,
        run: createOperatorRequestProcessor({
          queries: sessionQueries,
          sessions,
          accounts,
          throttles,
          audit,
        }),
      },
    ],
    log,
  );

  return {
    app,
    get provider() {
      return providerHost.current();
    },
    accounts,
    clients,
    keys,
    rbac,
    mfa,
    sessions,
    audit,
    throttles,
    identityProviders,
    async close() {
      jobs.stop();
      providerHost.close();
      cache.close();
    },
  };
}
