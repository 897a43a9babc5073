import { invalidating, type ConfigCache } from '../db/config-cache.ts';
import type { AccountQueries } from './account-queries.ts';
import type { ApiResourceQueries } from './api-resource-queries.ts';
import type { ClientQueries } from './client-queries.ts';
import type { FederationQueries } from './federation-queries.ts';
import type { GroupQueries } from './group-queries.ts';
import type { MfaQueries } from './mfa-queries.ts';
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
    updateAttributes: write(queries.updateAttributes),
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
