import type { GatehouseConfig } from '../config/load-config.ts';
import type { Pool } from '../db/pg-pool.ts';
import { createApiResourceQueries } from '../queries/api-resource-queries.ts';
import { createAccountQueries } from '../queries/account-queries.ts';
import { createAuditQueries } from '../queries/audit-queries.ts';
import { createMfaQueries } from '../queries/mfa-queries.ts';
import { createRoleQueries } from '../queries/role-queries.ts';
import { createFederationQueries } from '../queries/federation-queries.ts';
import { createSessionQueries } from '../queries/session-queries.ts';
import { createSigningKeyQueries } from '../queries/signing-key-queries.ts';
import { createAccountLibrary } from './accounts.ts';
import { createAuditLog } from './audit.ts';
import { createMfaLibrary } from './mfa.ts';
import { createPasswordPolicy, loadCommonPasswords } from './password-policy.ts';
import { createPasswordHasher } from './passwords.ts';
import { createRbacLibrary } from './rbac.ts';
import { createSecretBox, deriveKey } from './secret-box.ts';
import { createSessionLedger } from './session-ledger.ts';
import { createIdentityProviderLibrary } from './identity-providers.ts';
import { createUpstreamSignIn } from './upstream-sign-in.ts';
import { noConfigCache, type ConfigCache } from './config-cache.ts';
import {
  cacheAccountQueries,
  cacheApiResourceQueries,
  cacheFederationQueries,
  cacheMfaQueries,
  cacheRoleQueries,
} from '../queries/cached-queries.ts';
import { createSigningKeyLibrary, type SigningAlgorithm } from './signing-keys.ts';

/**
 * The business libraries over one pool, shared by the server and the CLI. The server passes a config cache for
 * its hot reads; the CLI reads straight through.
 */
export function createLibraries(
  config: GatehouseConfig,
  pool: Pool,
  secret: string,
  options: { onAudit?: (type: string) => void; cache?: ConfigCache } = {},
) {
  const cache = options.cache ?? noConfigCache;
  const secretBox = createSecretBox(secret, config.previousSecrets);
  const passwords = createPasswordHasher(config.argon2);
  const policy = createPasswordPolicy(config.passwords, loadCommonPasswords());
  const accounts = createAccountLibrary({
    queries: cacheAccountQueries(createAccountQueries(pool), cache),
    passwords,
    policy,
  });
  const keys = createSigningKeyLibrary({
    pool,
    queries: createSigningKeyQueries(pool),
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
    roles: cacheRoleQueries(createRoleQueries(pool), cache),
    apis: cacheApiResourceQueries(createApiResourceQueries(pool), cache),
  });
  const mfa = createMfaLibrary({
    pool,
    queries: cacheMfaQueries(createMfaQueries(pool), cache),
    secretBox,
    recoveryCodeKey: deriveKey(secret, 'recovery codes v1'),
    issuerName: new URL(config.issuer).host,
  });
  const audit = createAuditLog(createAuditQueries(pool), options.onAudit);
  const sessionLedger = createSessionLedger(createSessionQueries(pool));
  const upstream = createUpstreamSignIn({ timeoutMs: 10_000 });
  const identityProviders = createIdentityProviderLibrary({
    queries: cacheFederationQueries(createFederationQueries(pool), cache),
    secretBox,
    issuer: config.issuer,
    production: config.production,
    discover: (issuer) => upstream.discover(issuer),
  });
  return {
    cache,
    secretBox,
    passwords,
    accounts,
    keys,
    rbac,
    mfa,
    audit,
    sessionLedger,
    upstream,
    identityProviders,
  };
}

export type Libraries = ReturnType<typeof createLibraries>;
