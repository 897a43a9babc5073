import type { Queryable } from '../db/pg-pool.ts';
import { createAccountQueries } from './account-queries.ts';
import { createApiResourceQueries } from './api-resource-queries.ts';
import { createAuditQueries } from './audit-queries.ts';
import { createAuthzDirectoryQueries } from './authz-directory-queries.ts';
import {
  cacheAccountQueries,
  cacheApiResourceQueries,
  cacheAuthzDirectoryQueries,
  cacheClientQueries,
  cacheFederationQueries,
  cacheGroupQueries,
  cacheMfaQueries,
  cachePolicyQueries,
  cacheResourceQueries,
  cacheRoleQueries,
} from './cached-queries.ts';
import { createClientQueries } from './client-queries.ts';
import { createFederationQueries } from './federation-queries.ts';
import { createGroupQueries } from './group-queries.ts';
import { createMfaQueries } from './mfa-queries.ts';
import { createDataKeyQueries } from './data-key-queries.ts';
import { createEmailTokenQueries } from './email-token-queries.ts';
import { createOidcModelQueries } from './oidc-model-queries.ts';
import { createPolicyQueries } from './policy-queries.ts';
import { createResourceQueries } from './resource-queries.ts';
import { createPasskeyQueries } from './passkey-queries.ts';
import { createRoleHolderQueries } from './role-holder-queries.ts';
import { createRoleQueries } from './role-queries.ts';
import { createSealedValueQueries } from './sealed-value-queries.ts';
import { createSignUpQueries } from './sign-up-queries.ts';
import { createSessionQueries } from './session-queries.ts';
import { createSigningKeyQueries } from './signing-key-queries.ts';

/** The config cache the cached queries are wrapped around. */
type ConfigCache = Parameters<typeof cacheClientQueries>[1];

/**
 * Every query object over one pool, each built once, so that all the libraries reading an area share one cached
 * wrapper. The server passes its config cache; the CLI reads straight through (`noConfigCache`). The config
 * version queries are not here: the server's cache is built on them, before this.
 */
export function createQueries(db: Queryable, cache: ConfigCache, options: { prepared?: boolean } = {}) {
  return {
    accounts: cacheAccountQueries(createAccountQueries(db), cache),
    apiResources: cacheApiResourceQueries(createApiResourceQueries(db), cache),
    audit: createAuditQueries(db),
    authzDirectory: cacheAuthzDirectoryQueries(createAuthzDirectoryQueries(db), cache),
    clients: cacheClientQueries(createClientQueries(db), cache),
    dataKeys: createDataKeyQueries(db),
    emailTokens: createEmailTokenQueries(db),
    federation: cacheFederationQueries(createFederationQueries(db), cache),
    groups: cacheGroupQueries(createGroupQueries(db), cache),
    mfa: cacheMfaQueries(createMfaQueries(db), cache),
    oidcModels: createOidcModelQueries(db, options),
    policies: cachePolicyQueries(createPolicyQueries(db), cache),
    resources: cacheResourceQueries(createResourceQueries(db), cache),
    passkeys: createPasskeyQueries(db),
    roleHolders: createRoleHolderQueries(db),
    roles: cacheRoleQueries(createRoleQueries(db), cache),
    sealedValues: createSealedValueQueries(db),
    signUps: createSignUpQueries(db),
    sessions: createSessionQueries(db),
    signingKeys: createSigningKeyQueries(db),
  };
}

export type Queries = ReturnType<typeof createQueries>;
