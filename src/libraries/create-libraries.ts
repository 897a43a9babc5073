import type { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { GatehouseConfig } from '../config/load-config.ts';
import type { Pool } from '../db/pg-pool.ts';
import { createQueries, type Queries } from '../queries/create-queries.ts';
import type { HotState } from '../storage/hot-state.ts';
import { createModelAdapters } from '../storage/model-adapters.ts';
import { createAccountLibrary } from './accounts.ts';
import { createAuditLog } from './audit.ts';
import { createAuthzLibraries } from './authz/create-authz.ts';
import { createClientLibrary } from './clients.ts';
import { noConfigCache, type ConfigCache } from '../db/config-cache.ts';
import { createCsrfTokens } from './csrf.ts';
import { createDataKeys } from './data-keys.ts';
import { createKnownDevices } from './known-devices.ts';
import { createLifecycle, queuedSignOut } from './lifecycle.ts';
import { createFederation } from './federation.ts';
import { createIdentityProviderLibrary } from './identity-providers.ts';
import { createMfaLibrary } from './mfa.ts';
import { createPasskeyLibrary } from './passkeys.ts';
import { createPageRenderer } from './page-renderer.ts';
import { createPasswordPolicy, loadCommonPasswords } from './password-policy.ts';
import { createPasswordHasher } from './passwords.ts';
import { createRbacLibrary } from './rbac.ts';
import { createRequestInfoScope } from '../storage/request-info.ts';
import { createSecretBox, deriveKey } from './secret-box.ts';
import { createSessionLedger } from './session-ledger.ts';
import { createSessionManagement } from './session-management.ts';
import { createSigningKeyLibrary, type SigningAlgorithm } from './signing-keys.ts';
import { createSignInThrottles } from './throttles.ts';
import { createUpstreamSignIn } from './upstream-sign-in.ts';
import { createOutgoingGuard } from './outgoing-guard.ts';
import { createDevMailbox, createMailer, devMailboxWanted, type DevMailbox } from './mailer.ts';
import { createInvitationLibrary } from './invitations.ts';
import { createAttemptThrottle } from './attempt-throttle.ts';
import { createRequestThrottles } from './request-throttles.ts';
import { createSignUpLibrary } from './sign-up.ts';
import { createEmailChangeLibrary } from './email-change.ts';
import { createEmailCodeLibrary } from './email-codes.ts';
import { createEmailVerificationLibrary, sendingVerificationOnCreate } from './email-verification.ts';
import {
  clearPasswordLocks,
  createPasswordResetLibrary,
  createResetLinkSender,
  createPasswordResetThrottles,
} from './password-reset.ts';

/**
 * Something built after the libraries that call it: the provider needs the libraries, and some of them need the
 * provider back (to validate client metadata, end sessions). It is set once it exists, and only read when those
 * libraries are used; a read before that is a wiring mistake, and says so.
 */
export interface LateRef<T> {
  get(): T;
  set(value: T): void;
}

export function createLateRef<T>(what: string): LateRef<T> {
  let value: { current: T } | undefined;
  return {
    get() {
      if (!value) throw new Error(`${what} is used before it is built`);
      return value.current;
    },
    set(current) {
      value = { current };
    },
  };
}

/**
 * The business libraries over one pool, shared by the server and the CLI. The server passes queries over its
 * config cache, for its hot reads; the CLI reads straight through.
 */
export function createLibraries(
  config: GatehouseConfig,
  pool: Pool,
  secret: string,
  options: {
    /** Built over `cache` (by default, over no cache). */
    queries?: Queries;
    cache?: ConfigCache;
    onAudit?: (type: string) => void;
    /** The provider whose client schema validates client metadata: the server's, or one the CLI builds alike. */
    provider?: () => Provider | Promise<Provider>;
    /** Where requests to other servers that the private-address guard refuses are logged. */
    log?: Pick<Logger, 'warn'>;
    /** Where mail goes without an SMTP server (a development server only; see devMailboxWanted). */
    devMailbox?: DevMailbox | undefined;
  } = {},
) {
  const cache = options.cache ?? noConfigCache;
  const queries = options.queries ?? createQueries(pool, cache);
  const provider =
    options.provider ??
    (() => {
      throw new Error('no provider was given to validate client metadata with');
    });
  const secretBox = createSecretBox(secret, config.previousSecrets);
  const dataKeys = createDataKeys({ queries: queries.dataKeys, secretBox });
  const passwords = createPasswordHasher(config.argon2);
  const policy = createPasswordPolicy(config.passwords, loadCommonPasswords());
  const accounts = createAccountLibrary({
    queries: queries.accounts,
    passwords,
    policy,
  });
  const keys = createSigningKeyLibrary({
    pool,
    queries: queries.signingKeys,
    secretBox,
    algorithms: config.keys.algorithms as SigningAlgorithm[],
    publishBeforeUseSeconds: config.keys.publishBeforeUseSeconds,
    longestSignedLifetimeSeconds: Math.max(
      config.ttl.accessToken,
      config.ttl.clientCredentials,
      config.ttl.idToken,
    ),
  });
  const rbac = createRbacLibrary({
    pool,
    roles: queries.roles,
    apis: queries.apiResources,
    groups: queries.groups,
    search: () => authz.search,
  });
  // Recovery codes made before migration 012 were hashed under a key derived from the root secret of the day.
  const legacyRecoveryCodeKeys = [secret, ...config.previousSecrets].map((root) =>
    deriveKey(root, 'recovery codes v1'),
  );
  const mfa = createMfaLibrary({
    pool,
    queries: queries.mfa,
    secretBox,
    recoveryCodeKeys: async () => [await dataKeys.get('recovery codes'), ...legacyRecoveryCodeKeys],
    issuerName: new URL(config.issuer).host,
    passkeyCount: queries.passkeys.countFor,
    removePasskeys: queries.passkeys.deleteAllFor,
  });
  const audit = createAuditLog(queries.audit, options.onAudit);
  // The policy decision point: policies, resources, decisions (issue 14).
  const authz = createAuthzLibraries({ pool, queries, audit });
  const sessionLedger = createSessionLedger(queries.sessions);
  // Same rule as oidc-provider's own requests (src/oidc/outgoing-fetch.ts): in production no special-use addresses
  // but those of outgoing.allowHosts.
  const outgoing = createOutgoingGuard({
    enforce: config.production,
    allowHosts: config.outgoing.allowHosts,
    log: options.log,
  });
  const upstream = createUpstreamSignIn({ timeoutMs: 10_000, outgoing });
  const identityProviders = createIdentityProviderLibrary({
    queries: queries.federation,
    secretBox,
    issuer: config.issuer,
    production: config.production,
    discover: (issuer) => upstream.discover(issuer),
  });
  const clients = createClientLibrary({
    pool,
    queries: queries.clients,
    cache,
    secretBox,
    production: config.production,
    // Validated by the running provider's own client schema, asked for at each call: the server's is built after
    // the libraries, the CLI's only when a command registers a client.
    validateMetadata: async (metadata) => {
      await (await provider()).Client.validate(metadata as Parameters<Provider['Client']['validate']>[0]);
    },
  });
  // Mail (issue 16): off without smtp.url; address verification links, mailed after an administrator creates an
  // account when mail is on.
  const mailer = createMailer(
    { ...config.smtp, issuer: config.issuer, production: config.production },
    options.log,
    { devMailbox: options.devMailbox },
  );
  const emailVerification = createEmailVerificationLibrary({
    tokens: queries.emailTokens,
    accounts: queries.accounts,
    mailer,
    audit,
    issuer: config.issuer,
    tokenSeconds: config.emailVerification.tokenSeconds,
  });
  // Changing the address on /account (issue 16): a link to the new address, valid as long as a verification link.
  const emailChange = createEmailChangeLibrary({
    tokens: queries.emailTokens,
    accounts: queries.accounts,
    mailer,
    audit,
    issuer: config.issuer,
    tokenSeconds: config.emailVerification.tokenSeconds,
  });
  // Reset links mailed by an operator (`gatehouse user send-reset`), the same the login page's step sends.
  const passwordResetLinks = createResetLinkSender({
    tokens: queries.emailTokens,
    accounts: queries.accounts,
    mailer,
    audit,
    issuer: config.issuer,
    tokenSeconds: config.passwordReset.tokenSeconds,
  });
  // Invitations (issue 16): an account without a password and a link that sets one.
  const invitations = createInvitationLibrary({
    tokens: queries.emailTokens,
    accounts: queries.accounts,
    passwords,
    policy,
    mailer,
    audit,
    issuer: config.issuer,
    tokenSeconds: config.invitations.tokenSeconds,
  });
  // Disable, enable, delete, set a password, rotate a secret (issue 17). Here, for a process without the hot store
  // (the CLI): sign-outs revoke durable tokens at once and queue the rest; the server builds its own below.
  const lifecycle = createLifecycle({
    accounts,
    clients,
    audit,
    hasSecondFactor: (accountId) => mfa.hasSecondFactor(accountId),
    ...queuedLifecycleSignOut(),
    revokeClientTokens: (clientId) => queries.oidcModels.deleteOfClient(clientId),
  });
  function queuedLifecycleSignOut() {
    const signOut = queuedSignOut({
      oidcModels: queries.oidcModels,
      request: sessionLedger.request,
      waitFor: sessionLedger.waitFor,
      // A deletion takes its queued sign-out with it (ON DELETE CASCADE): a running server has about a second
      // to carry it out first (it polls the queue every second).
      waitMs: 5000,
    });
    return { signOutEverywhere: signOut, signOutBeforeDelete: signOut.beforeDelete };
  }
  return {
    cache,
    secretBox,
    passwords,
    policy,
    mailer,
    emailVerification,
    emailChange,
    passwordResetLinks,
    invitations,
    accounts: sendingVerificationOnCreate(
      accounts,
      emailVerification,
      options.log ?? { warn: () => undefined },
    ),
    keys,
    rbac,
    mfa,
    audit,
    authz,
    sessionLedger,
    upstream,
    identityProviders,
    clients,
    lifecycle,
  };
}

export type Libraries = ReturnType<typeof createLibraries>;

/**
 * The libraries only a serving process has, on top of the shared ones: over its hot state (sign-in state,
 * throttles, oidc-provider's short-lived models), its cookies and its provider.
 */
export function createServerLibraries(
  config: GatehouseConfig,
  deps: {
    pool: Pool;
    queries: Queries;
    cache: ConfigCache;
    hotState: HotState;
    log: Logger;
    secret: string;
    onAudit: (type: string) => void;
    /** The running provider; called only once the server runs, never while building. */
    provider: () => Provider;
    /** The refresh token the current provider request rotates (`rotatedRefreshTokenOfRequest`). */
    rotatedRefreshToken: () => string | undefined;
  },
) {
  const { pool, queries, hotState, log, secret, provider } = deps;
  // Without an SMTP server, a development server keeps its mail for GET /dev/mailbox (never in production).
  const devMailbox = devMailboxWanted(config) ? createDevMailbox() : undefined;
  const libraries = createLibraries(config, pool, secret, {
    queries,
    cache: deps.cache,
    onAudit: deps.onAudit,
    provider,
    log,
    devMailbox,
  });
  const { accounts, rbac, audit, clients } = libraries;
  const federation = createFederation({
    pool,
    queries: queries.federation,
    accountQueries: queries.accounts,
    accounts,
    rbac,
    audit,
    store: hotState.keyValue,
    sessionTtlSeconds: config.ttl.session,
    log,
  });
  const throttles = createSignInThrottles(config, hotState);
  // Cookies are signed with the current secret's key and still verify under a previous one during a rotation.
  const cookieKeys = (purpose: string) =>
    [secret, ...config.previousSecrets].map((root) => deriveKey(root, purpose).toString('base64url'));
  const csrf = createCsrfTokens(deriveKey(secret, 'csrf tokens v1'));
  const knownDevices = createKnownDevices(
    [secret, ...config.previousSecrets].map((root) => deriveKey(root, 'known devices v1')),
  );
  const requestInfo = createRequestInfoScope();
  const adapterFor = createModelAdapters({
    hotState,
    oidcModels: queries.oidcModels,
    sessions: queries.sessions,
    requestInfo,
    reuseGraceSeconds: config.refreshToken.reuseGraceSeconds,
    rotatedRefreshToken: deps.rotatedRefreshToken,
    findClient: (id) => clients.findProviderMetadata(id),
  });
  const passkeys = createPasskeyLibrary({
    pool,
    queries: queries.passkeys,
    store: hotState.keyValue,
    issuer: config.issuer,
    rpName: 'Gatehouse',
  });
  const sessions = createSessionManagement({
    queries: queries.sessions,
    ledger: libraries.sessionLedger,
    adapterFor,
    provider,
    audit,
    log,
  });
  // "Forgot password?" (issue 16): on when mail is.
  const passwordReset = createPasswordResetLibrary({
    tokens: queries.emailTokens,
    accounts: queries.accounts,
    passwords: libraries.passwords,
    policy: libraries.policy,
    hasSecondFactor: (accountId) => libraries.mfa.isEnrolled(accountId),
    mailer: libraries.mailer,
    audit,
    issuer: config.issuer,
    tokenSeconds: config.passwordReset.tokenSeconds,
    signOutEverywhere: (accountId) =>
      sessions.signOutEverywhere(accountId, 'password-reset', { reason: 'password reset' }),
    clearLocks: (account) => clearPasswordLocks(throttles, account),
    log,
  });
  // Self-service sign-up (issue 16): on when configured and mail can be sent.
  const signUp = createSignUpLibrary({
    enabled: config.signUp.enabled,
    signUps: queries.signUps,
    accounts: queries.accounts,
    passwords: libraries.passwords,
    policy: libraries.policy,
    mailer: libraries.mailer,
    audit,
    issuer: config.issuer,
    tokenSeconds: config.signUp.tokenSeconds,
    log,
  });
  // Where the throttles of the mail flows count (Redis, shared by every process; memory for a first run).
  const throttleStore = { redis: hotState.redis, prefix: config.redisKeyPrefix };
  // The server signs out through its own hot store, at once.
  const lifecycle = createLifecycle({
    accounts: libraries.accounts,
    clients,
    audit,
    hasSecondFactor: (accountId) => libraries.mfa.hasSecondFactor(accountId),
    signOutEverywhere: (accountId, actor) => sessions.signOutEverywhere(accountId, actor),
    revokeClientTokens: (clientId) => queries.oidcModels.deleteOfClient(clientId),
  });
  return {
    ...libraries,
    devMailbox,
    lifecycle,
    passwordReset,
    passwordResetThrottles: createPasswordResetThrottles(config, hotState),
    signUp,
    emailChangeThrottle: createAttemptThrottle('email-change', config.throttle.emailChange, throttleStore),
    emailCodes: createEmailCodeLibrary({
      enabled: config.emailCode.enabled,
      clients: config.emailCode.clients,
      store: hotState.keyValue,
      accounts: queries.accounts,
      mailer: libraries.mailer,
      issuer: config.issuer,
      codeSeconds: config.emailCode.codeSeconds,
      log,
    }),
    emailCodeThrottles: {
      ...createRequestThrottles('email-code', config.throttle.emailCode, throttleStore),
      guesses: createAttemptThrottle('email-code-guess', config.throttle.emailCode.guesses, throttleStore),
    },
    signUpThrottles: createRequestThrottles('sign-up', config.throttle.signUp, throttleStore),
    federation,
    throttles,
    knownDevices,
    pages: createPageRenderer(),
    cookieKeys,
    csrf,
    requestInfo,
    adapterFor,
    sessions,
    passkeys,
  };
}

export type ServerLibraries = ReturnType<typeof createServerLibraries>;
