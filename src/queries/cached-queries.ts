import { invalidating, type ConfigCache } from '../db/config-cache.ts';
import type { AccountQueries } from './account-queries.ts';
import type { ApiResourceQueries } from './api-resource-queries.ts';
import type { AuthzDirectoryQueries, GroupNode } from './authz-directory-queries.ts';
import type { ClientQueries } from './client-queries.ts';
import type { FederationQueries } from './federation-queries.ts';
import type { GroupQueries } from './group-queries.ts';
import type { MfaQueries } from './mfa-queries.ts';
import type { PolicyQueries, PolicyVersionRow } from './policy-queries.ts';
import type { ResourceQueries, ResourceRow } from './resource-queries.ts';
import type { RoleQueries } from './role-queries.ts';

// The reads below are the ones on hot paths (token, introspection and userinfo requests). Every write of the same
// queries forgets its area in this process; the version triggers (migration 007) tell the other processes.

/** Client reads are cached above, as the metadata oidc-provider reads (see ClientLibrary.findProviderMetadata). */
export function cacheClientQueries(queries: ClientQueries, cache: ConfigCache): ClientQueries {
  const write = invalidating(cache, 'clients');
  return {
    ...queries,
    insert: write(queries.insert),
    upsert: write(queries.upsert),
    update: write(queries.update),
    setApis: write(queries.setApis),
    setSealedSecret: write(queries.setSealedSecret),
    // A client's roles are also what the rbac area caches (its grants).
    addRoles: invalidating(cache, 'clients', 'rbac')(queries.addRoles),
    delete: write(queries.delete),
  };
}

export function cacheRoleQueries(queries: RoleQueries, cache: ConfigCache): RoleQueries {
  const write = invalidating(cache, 'rbac');
  return {
    ...queries,
    rolesOfAccount: (id) =>
      cache.getShared('rbac', `roles:${id}`, () => queries.rolesOfAccount(id)) as Promise<string[]>,
    grantsOfAccount: (id) =>
      cache.getShared('rbac', `account:${id}`, () => queries.grantsOfAccount(id)) as ReturnType<
        RoleQueries['grantsOfAccount']
      >,
    grantsOfClient: (id) =>
      cache.getShared('rbac', `client:${id}`, () => queries.grantsOfClient(id)) as ReturnType<
        RoleQueries['grantsOfClient']
      >,
    insert: write(queries.insert),
    addPermissions: write(queries.addPermissions),
    removePermission: write(queries.removePermission),
    delete: write(queries.delete),
    assignToAccount: write(queries.assignToAccount),
    syncRolesFromIdp: write(queries.syncRolesFromIdp),
    removeFromAccount: write(queries.removeFromAccount),
    assignToClient: write(queries.assignToClient),
    grantToAccount: write(queries.grantToAccount),
    revokeFromAccount: write(queries.revokeFromAccount),
  };
}

/**
 * Groups are not cached themselves, but their roles, permissions, parents and members are part of every account's
 * grants, which the rbac area caches: each write forgets it (and the triggers of migration 013 bump its version).
 */
export function cacheGroupQueries(queries: GroupQueries, cache: ConfigCache): GroupQueries {
  const write = invalidating(cache, 'rbac');
  return {
    ...queries,
    insert: write(queries.insert),
    delete: write(queries.delete),
    addRoles: write(queries.addRoles),
    removeRoles: write(queries.removeRoles),
    addPermissions: write(queries.addPermissions),
    removePermissions: write(queries.removePermissions),
    addParents: write(queries.addParents),
    removeParents: write(queries.removeParents),
    addMember: write(queries.addMember),
    removeMember: write(queries.removeMember),
  };
}

export function cacheApiResourceQueries(queries: ApiResourceQueries, cache: ConfigCache): ApiResourceQueries {
  const write = invalidating(cache, 'apis');
  return {
    ...queries,
    find: (identifier) => cache.getShared('apis', identifier, () => queries.find(identifier)),
    upsert: write(queries.upsert),
    addPermissions: write(queries.addPermissions),
    setSearchClaims: write(queries.setSearchClaims),
    update: write(queries.update),
    removePermissions: write(queries.removePermissions),
    delete: write(queries.delete),
  };
}

export function cacheAccountQueries(queries: AccountQueries, cache: ConfigCache): AccountQueries {
  const write = invalidating(cache, 'accounts');
  return {
    ...queries,
    findById: (id) => cache.get('accounts', id, () => queries.findById(id)),
    insert: write(queries.insert),
    // An account with its roles also writes what the rbac area caches.
    insertWithRoles: invalidating(cache, 'accounts', 'rbac')(queries.insertWithRoles),
    update: write(queries.update),
    updatePasswordHash: write(queries.updatePasswordHash),
    changeEmail: write(queries.changeEmail),
    updateAttributes: write(queries.updateAttributes),
    // An account's roles, groups and grants go with it: the rbac area caches them.
    delete: invalidating(cache, 'accounts', 'rbac')(queries.delete),
  };
}

export function cacheFederationQueries(queries: FederationQueries, cache: ConfigCache): FederationQueries {
  const write = invalidating(cache, 'idps');
  return {
    ...queries,
    listProviders: (enabledOnly) =>
      cache.get('idps', `list:${enabledOnly === true}`, () =>
        queries.listProviders(enabledOnly),
      ) as ReturnType<FederationQueries['listProviders']>,
    insertProvider: write(queries.insertProvider),
    updateProvider: write(queries.updateProvider),
    deleteProvider: write(queries.deleteProvider),
  };
}

/** MFA requirements live on roles and clients, so changing one forgets those areas. */
export function cacheMfaQueries(queries: MfaQueries, cache: ConfigCache): MfaQueries {
  return {
    ...queries,
    setRoleMfaRequired: invalidating(cache, 'rbac')(queries.setRoleMfaRequired),
    setClientMfaRequired: invalidating(cache, 'clients')(queries.setClientMfaRequired),
  };
}

/**
 * The active policy set is read at every decision: cached in the `policies` area (migration 014's trigger tells
 * every process when a version is added). "No policy set" is cached too, as `row: null`.
 */
export function cachePolicyQueries(queries: PolicyQueries, cache: ConfigCache): PolicyQueries {
  return {
    ...queries,
    active: async () => {
      const held = await cache.getShared('policies', 'active', async () => ({
        row: (await queries.active()) ?? null,
      }));
      return (held?.row ?? undefined) as PolicyVersionRow | undefined;
    },
    insert: invalidating(cache, 'policies')(queries.insert),
  };
}

/** A resource with its stored ancestors, as an evaluation loads it (an unknown one too: an empty list). */
export function cacheResourceQueries(queries: ResourceQueries, cache: ConfigCache): ResourceQueries {
  const write = invalidating(cache, 'resources');
  return {
    ...queries,
    findWithAncestors: (type, id) =>
      cache.getShared('resources', `${type}\u0000${id}`, () =>
        queries.findWithAncestors(type, id),
      ) as Promise<ResourceRow[]>,
    upsert: write(queries.upsert),
    delete: write(queries.delete),
    share: write(queries.share),
    unshare: write(queries.unshare),
  };
}

/** The group graph is part of the rbac area (migration 013's triggers); client existence of the clients area. */
export function cacheAuthzDirectoryQueries(
  queries: AuthzDirectoryQueries,
  cache: ConfigCache,
): AuthzDirectoryQueries {
  return {
    groupGraph: () =>
      cache.getShared('rbac', 'authz:groups', () => queries.groupGraph()) as Promise<GroupNode[]>,
    clientExists: async (clientId) =>
      (await cache.getShared('clients', `authz:exists:${clientId}`, () => queries.clientExists(clientId))) ===
      true,
  };
}
