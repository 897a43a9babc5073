import type Koa from 'koa';
import type { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import { startBackgroundJobs } from './background-jobs.ts';
import type { GatehouseConfig } from './config/load-config.ts';
import type { Pool } from './db/pg-pool.ts';
import { ensureAccountClient, ensureBuiltins } from './ensure-builtins.ts';
import { createHttpApp } from './http-app.ts';
import type { AccountLibrary } from './libraries/accounts.ts';
import type { AuditLog } from './libraries/audit.ts';
import type { AuthzLibraries } from './libraries/authz/create-authz.ts';
import type { ClientLibrary } from './libraries/clients.ts';
import { createConfigCache, type ConfigCache } from './db/config-cache.ts';
import { listenForConfigChanges, type ConfigListener } from './db/config-listener.ts';
import { createLateRef, createServerLibraries, type ServerLibraries } from './libraries/create-libraries.ts';
import type { IdentityProviderLibrary } from './libraries/identity-providers.ts';
import { createMetrics, type Metrics } from './libraries/metrics.ts';
import type { MfaLibrary } from './libraries/mfa.ts';
import { createOperatorRequestProcessor } from './libraries/operator-requests.ts';
import type { RbacLibrary } from './libraries/rbac.ts';
import type { SessionManagement } from './libraries/session-management.ts';
import type { SigningKeyLibrary } from './libraries/signing-keys.ts';
import type { SignInThrottles } from './libraries/throttles.ts';
import { acrValues } from './oidc/acr.ts';
import { createProvider } from './oidc/create-provider.ts';
import { createFindAccount } from './oidc/find-account.ts';
import { createInteractionPolicy } from './oidc/interaction-policy.ts';
import { logProviderErrors } from './oidc/provider-error-log.ts';
import { createProviderHost, type ProviderHost } from './oidc/provider-host.ts';
import { createTokenInspector, type TokenInspector } from './oidc/token-inspector.ts';
import { createConfigVersionQueries } from './queries/config-version-queries.ts';
import { createQueries, type Queries } from './queries/create-queries.ts';
import { createRouters } from './routes/create-routers.ts';
import type { HotState } from './storage/hot-state.ts';
import { rotatedRefreshTokenOfRequest } from './oidc/provider-internals.ts';

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
  /** The policy decision point: policies, resources, decisions and searches. */
  authz: AuthzLibraries;
  close(): Promise<void>;
}

/**
 * Builds Gatehouse: the oidc-provider instance configured for Gatehouse's storage, accounts and pages, and the
 * Koa application around it. `src/main.ts` and the tests both call this; nothing here reads the environment.
 */
export async function createGatehouse(config: GatehouseConfig, deps: GatehouseDeps): Promise<Gatehouse> {
  const { pool, hotState, log, secret } = deps;
  const metrics = createMetrics();
  const cache = createServerCache(config, pool, log);
  const queries = createQueries(pool, cache, { prepared: config.databaseUrl !== null });
  // The provider needs the libraries, and some libraries call the provider back: they reach it through this.
  const host = createLateRef<ProviderHost>('the provider host');
  const libraries = createServerLibraries(config, {
    pool,
    queries,
    cache,
    hotState,
    log,
    secret,
    onAudit: (type) => metrics.auditEvent(type),
    provider: () => host.get().current(),
    rotatedRefreshToken: rotatedRefreshTokenOfRequest,
  });
  await ensureBuiltins(config, libraries);
  const inspector = createTokenInspector({
    provider: () => host.get().current(),
    publicKeys: () => host.get().keySet().publicKeys,
    issuer: config.issuer,
  });
  const providerHost = await startProvider(config, libraries, { inspector, metrics, log });
  host.set(providerHost);
  await ensureAccountClient(config, libraries);
  const app = createHttpApp({
    config,
    log,
    requestInfo: libraries.requestInfo,
    pages: libraries.pages,
    metrics,
    cookieKeys: libraries.cookieKeys('app cookie keys v1'),
    ...createRouters(config, libraries, {
      pool,
      hotState,
      providerHost,
      inspector,
      internalOrigin: deps.internalOrigin,
    }),
    providerHost,
  });
  const jobs = startMaintenanceJobs(queries, libraries, log);
  const listener = await listenForConfigChangesOf(pool, cache, log);

  const { accounts, clients, keys, rbac, mfa, sessions, audit, throttles, identityProviders, authz } =
    libraries;
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
    authz,
    async close() {
      jobs.stop();
      providerHost.close();
      cache.close();
      await listener.close();
    },
  };
}

/** The cache of hot configuration reads; writes from other processes reach it through the version table. */
function createServerCache(config: GatehouseConfig, pool: Pool, log: Logger): ConfigCache {
  const configVersions = createConfigVersionQueries(pool);
  return createConfigCache({
    readVersions: () => configVersions.read(),
    pollMs: config.configCache.pollMs,
    maxAgeMs: config.configCache.maxAgeMs,
    log,
  });
}

/**
 * Writes from other processes reach the cache within milliseconds by LISTEN/NOTIFY, on a connection of its own
 * (the version poll stays as the fallback, and is all there is over embedded PGlite). Started last, once nothing
 * can fail, so it never outlives a failed start; awaited, so the first request is served listening (a failed
 * attempt retries in the background).
 */
async function listenForConfigChangesOf(
  pool: Pool,
  cache: ConfigCache,
  log: Logger,
): Promise<ConfigListener> {
  const listener = listenForConfigChanges({ connection: pool.options, cache, log });
  await listener.started;
  return listener;
}

/** The oidc-provider instance over Gatehouse's storage and libraries, rebuilt by its host when the keys change. */
function startProvider(
  config: GatehouseConfig,
  libraries: ServerLibraries,
  deps: { inspector: TokenInspector; metrics: Metrics; log: Logger },
): Promise<ProviderHost> {
  const { keys, accounts, rbac, mfa, audit, federation, throttles, pages, adapterFor } = libraries;
  const { inspector, metrics, log } = deps;
  const cookieKeys = libraries.cookieKeys('provider cookie keys v1');
  return createProviderHost({
    keys,
    refreshSeconds: config.keys.refreshSeconds,
    log,
    build: (keySet) =>
      logProviderErrors(
        createProvider({
          config,
          keySet,
          cookieKeys,
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
        log,
      ),
  });
}

/** Deletes expired rows hourly and carries out operators' requests (from the CLI) every second. */
function startMaintenanceJobs(queries: Queries, libraries: ServerLibraries, log: Logger) {
  const { sessions, accounts, throttles, audit } = libraries;
  return startBackgroundJobs(
    [
      {
        name: 'expired rows',
        everyMs: 3600_000,
        run: () => Promise.all([queries.oidcModels.deleteExpired(), queries.sessions.deleteExpired()]),
      },
      {
        name: 'operator requests',
        everyMs: 1000,
        run: createOperatorRequestProcessor({
          queries: queries.sessions,
          sessions,
          accounts,
          throttles,
          audit,
        }),
      },
    ],
    log,
  );
}
