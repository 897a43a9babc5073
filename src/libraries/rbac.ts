import { withTransaction, type Pool } from '../db/pg-pool.ts';
import { conflict, invalidRequest, notFound } from '../errors/app-error.ts';
import type { ApiResourceQueries, ApiResourceRow } from '../queries/api-resource-queries.ts';
import type { GroupQueries } from '../queries/group-queries.ts';
import type { HolderGrants, RoleQueries, RoleRow } from '../queries/role-queries.ts';
import {
  checkSearchClaims,
  computeSearchClaims,
  type SearchClaim,
  type ResourceSearch,
} from './authz/search-claims.ts';
import { createGroupLibrary } from './groups.ts';

export interface Role {
  name: string;
  description: string | null;
  builtin: boolean;
  /** Holders of this role must pass a second factor at sign-in. */
  mfaRequired: boolean;
  permissions: string[];
}

export interface ApiResource {
  identifier: string;
  name: string | null;
  format: 'jwt' | 'opaque';
  accessTokenTtl: number | null;
  builtin: boolean;
  permissions: string[];
  /** Permission → what it lets an application do, in words (shown on the consent page). */
  descriptions: Record<string, string>;
  /** Claims its user access tokens carry from a resource search at issuance (`--search-claim`). */
  searchClaims: SearchClaim[];
}

/** What a subject (account or client) may do: its roles and the permissions they give, in one API's terms. */
export interface EffectiveAccess {
  roles: string[];
  permissions: string[];
}

export interface Explanation {
  granted: boolean;
  /** Roles that give the permission (empty when not granted). */
  via: string[];
  /** Groups that give the permission themselves (not through a role; empty when none). */
  viaGroups: string[];
  /** Whether the account holds the permission directly (`user grant`). */
  direct: boolean;
  reason: string;
}

/** How an account holds a permission, in words: "role editor (through group writers), group staff, a direct grant". */
function describeSources(grants: HolderGrants, grant: HolderGrants['permissions'][number]): string {
  const roleWords = grant.roles.map((role) => {
    const source = grants.roleSources.find((entry) => entry.role === role);
    const through = source && !source.direct && source.groups.length > 0;
    return `role ${role}${through ? ` (through group${source.groups.length > 1 ? 's' : ''} ${source.groups.join(', ')})` : ''}`;
  });
  return [
    ...roleWords,
    ...grant.groups.map((group) => `group ${group}`),
    ...(grant.direct ? ['a direct grant'] : []),
  ].join(', ');
}

/** The 404 for a role name that is not a role (the admin API and the CLI answer with it). */
export const noSuchRole = (name: string) => notFound(`no role named ${name}`);

const roleNamePattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const permissionPattern = /^[\x21-\x7e]{1,128}$/;

function checkRoleName(name: string): void {
  if (!roleNamePattern.test(name)) {
    throw invalidRequest(
      `"${name}" is not a valid role name (1-64 of A-Z a-z 0-9 . _ : -, starting alphanumeric)`,
      'role',
    );
  }
}

export function checkPermissions(permissions: readonly string[]): void {
  for (const permission of permissions) {
    if (!permissionPattern.test(permission)) {
      throw invalidRequest(
        `"${permission}" is not a valid permission (1-128 printable characters, no spaces)`,
        'permission',
      );
    }
  }
}

function checkDescriptions(descriptions: Readonly<Record<string, string>>): void {
  for (const [permission, description] of Object.entries(descriptions)) {
    if (description.trim().length === 0 || description.length > 200 || /\p{Cc}/u.test(description))
      throw invalidRequest(
        `the description of ${permission} must be 1-200 characters on one line`,
        'description',
      );
  }
}

function checkApiIdentifier(identifier: string): void {
  let url: URL;
  try {
    url = new URL(identifier);
  } catch {
    throw invalidRequest(
      `the API identifier "${identifier}" must be an absolute URI (RFC 8707)`,
      'identifier',
    );
  }
  if (url.hash || identifier.includes('#'))
    throw invalidRequest('an API identifier must not have a fragment (RFC 8707)', 'identifier');
}

const toRole = (row: RoleRow): Role => ({
  name: row.name,
  description: row.description,
  builtin: row.builtin,
  mfaRequired: row.mfa_required,
  permissions: row.permissions,
});
const toApi = (row: ApiResourceRow): ApiResource => ({
  identifier: row.identifier,
  name: row.name,
  format: row.format,
  accessTokenTtl: row.access_token_ttl,
  builtin: row.builtin,
  // Rows come shared and frozen from the config cache: callers get arrays of their own.
  permissions: [...row.permissions],
  descriptions: { ...row.descriptions },
  searchClaims: (row.search_claims ?? []).map((claim) => ({ ...claim })),
});

/** Role-based access control: roles, their permissions, who holds them, and the APIs that check them. */
export function createRbacLibrary(deps: {
  pool: Pool;
  roles: RoleQueries;
  apis: ApiResourceQueries;
  groups: GroupQueries;
  /**
   * The resource search of the policy decision point, for the search claims of tokens. A function: the decision
   * point is built after this library (it reads the directory through it).
   */
  search?: () => ResourceSearch;
}) {
  const { pool, roles, apis } = deps;

  /**
   * The roles and permissions of an account or a client. With an API, only the permissions that API declares
   * (what its tokens may carry); without, all of them.
   */
  async function effectiveAccess(
    subject: { accountId: string } | { clientId: string },
    api?: ApiResource,
  ): Promise<EffectiveAccess> {
    const grants =
      'accountId' in subject
        ? await roles.grantsOfAccount(subject.accountId)
        : await roles.grantsOfClient(subject.clientId);
    const declared = api ? new Set(api.permissions) : undefined;
    const permissions = grants.permissions
      .map((grant) => grant.permission)
      .filter((permission) => !declared || declared.has(permission));
    return { roles: [...grants.roles], permissions };
  }

  async function requireRole(name: string): Promise<RoleRow> {
    const role = await roles.find(name);
    if (!role) throw noSuchRole(name);
    return role;
  }

  /** Throws naming the first role that does not exist, before anything is written. */
  async function assertExist(names: readonly string[]): Promise<void> {
    const found = new Set(await roles.existing(names));
    const missing = names.find((name) => !found.has(name));
    if (missing !== undefined) throw noSuchRole(missing);
  }

  /** Groups (nested; members inherit their roles and permissions): `rbac.groups`. */
  const groups = createGroupLibrary({
    pool,
    groups: deps.groups,
    requireRoles: assertExist,
    checkPermissions,
  });

  return {
    async createRole(
      name: string,
      options: { permissions?: readonly string[]; description?: string | undefined } = {},
    ): Promise<Role> {
      checkRoleName(name);
      const permissions = [...new Set(options.permissions ?? [])];
      checkPermissions(permissions);
      if (await roles.find(name)) throw conflict(`a role named ${name} already exists`);
      await withTransaction(pool, async (tx) => {
        await roles.insert({ name, description: options.description ?? null }, tx);
        await roles.addPermissions(name, permissions, tx);
      });
      return toRole(await requireRole(name));
    },

    async listRoles(): Promise<Role[]> {
      return (await roles.list()).map(toRole);
    },

    async getRole(name: string): Promise<Role> {
      return toRole(await requireRole(name));
    },

    async grantPermission(name: string, permission: string): Promise<Role> {
      checkPermissions([permission]);
      await requireRole(name);
      await roles.addPermissions(name, [permission]);
      return toRole(await requireRole(name));
    },

    async revokePermission(name: string, permission: string): Promise<Role> {
      await requireRole(name);
      if (!(await roles.removePermission(name, permission)))
        throw notFound(`role ${name} does not hold ${permission}`);
      return toRole(await requireRole(name));
    },

    async deleteRole(name: string): Promise<void> {
      const role = await requireRole(name);
      if (role.builtin) throw invalidRequest(`the built-in role ${name} cannot be deleted`, 'role');
      await roles.delete(name);
    },

    assertExist,

    groups,

    async assignToAccount(accountId: string, roleName: string): Promise<boolean> {
      await requireRole(roleName);
      return roles.assignToAccount(accountId, roleName);
    },

    /**
     * Applies what an upstream's role rules matched at a sign-in (see RoleQueries.syncRolesFromIdp). Returns what
     * changed, and the matched roles that no longer exist (a rule outliving its role), which nothing grants.
     */
    async syncRolesFromIdp(
      accountId: string,
      idpId: string,
      roleNames: readonly string[],
    ): Promise<{ granted: string[]; removed: string[]; missing: string[] }> {
      const wanted = [...new Set(roleNames)];
      const found = new Set(await roles.existing(wanted));
      const changes = await roles.syncRolesFromIdp(accountId, idpId, wanted);
      return { ...changes, missing: wanted.filter((name) => !found.has(name)) };
    },

    async removeFromAccount(accountId: string, roleName: string): Promise<void> {
      await requireRole(roleName);
      if (!(await roles.removeFromAccount(accountId, roleName)))
        throw notFound(`the account does not hold role ${roleName}`);
    },

    async assignToClient(clientId: string, roleName: string): Promise<void> {
      await requireRole(roleName);
      await roles.assignToClient(clientId, roleName);
    },

    /** Every role an account holds: its own and those of its groups (and their ancestors), sorted. */
    rolesOfAccount: async (accountId: string) => [...(await roles.grantsOfAccount(accountId)).roles],

    /** The roles assigned to the account itself (`user assign-role`), without those of its groups. */
    directRolesOfAccount: async (accountId: string) => [...(await roles.rolesOfAccount(accountId))],

    /** Gives an account a permission directly. False when it already held it so. */
    async grantToAccount(accountId: string, permission: string): Promise<boolean> {
      checkPermissions([permission]);
      return roles.grantToAccount(accountId, permission);
    },

    async revokeFromAccount(accountId: string, permission: string): Promise<void> {
      if (!(await roles.revokeFromAccount(accountId, permission)))
        throw notFound(`the account does not hold ${permission} directly`);
    },

    /** The permissions an account holds directly (not through roles or groups). */
    directPermissionsOfAccount: (accountId: string) => roles.directPermissionsOfAccount(accountId),

    effectiveAccess,

    /**
     * What an access token lets its subject do now (the one rule behind the `permissions` claim, introspection and
     * Gatehouse's own APIs): the permissions the subject holds, that the API declares, and that the token's scope
     * names. A user's token for an API carries only what its client asked for (and the user consented to), so an
     * empty scope gives none; a client's own token (`client_credentials`) is narrowed only when it was issued for a
     * scope.
     */
    async tokenAccess(
      token: { accountId?: string | undefined; clientId: string; scope?: string | undefined },
      api: ApiResource | undefined,
    ): Promise<EffectiveAccess> {
      const access = await effectiveAccess(
        token.accountId ? { accountId: token.accountId } : { clientId: token.clientId },
        api,
      );
      const scopes = new Set((token.scope ?? '').split(' ').filter(Boolean));
      // A token for no API (the OpenID userinfo token) has no permission scopes to narrow by: introspection
      // reports what its subject holds, and an API must check `aud` before trusting it.
      if (!api || (!token.accountId && scopes.size === 0)) return access;
      return { roles: access.roles, permissions: access.permissions.filter((p) => scopes.has(p)) };
    },

    /**
     * Whether an account holds a permission, through which roles (held directly or through groups), groups or
     * direct grant, or why not; with an API, also whether that API's
     * tokens can carry it, and with a client, whether that client's tokens will (it must be allowed the API and ask
     * for the permission in `scope`; a third-party client also needs the user's consent).
     */
    async explain(
      accountId: string,
      permission: string,
      api?: ApiResource,
      client?: { id: string; apis: readonly string[]; firstParty: boolean },
    ): Promise<Explanation> {
      const grants = await roles.grantsOfAccount(accountId);
      const grant = grants.permissions.find((entry) => entry.permission === permission);
      if (!grant) {
        const holds = [
          ...(grants.roles.length > 0 ? [`roles ${grants.roles.join(', ')}`] : []),
          ...(grants.groups.length > 0 ? [`groups ${grants.groups.join(', ')}`] : []),
        ];
        const reason =
          holds.length === 0
            ? 'the account holds no roles, is in no group and holds no permission directly'
            : `none of the account's ${holds.join(' and ')} holds ${permission}, nor does the account directly`;
        return { granted: false, via: [], viaGroups: [], direct: false, reason };
      }
      const via = [...grant.roles];
      const viaGroups = [...grant.groups];
      const sources = describeSources(grants, grant);
      const found = { via, viaGroups, direct: grant.direct };
      if (api && !api.permissions.includes(permission)) {
        return {
          granted: false,
          ...found,
          reason: `held through ${sources}, but the API ${api.identifier} does not declare ${permission}, so its tokens never carry it`,
        };
      }
      if (api && client && !client.apis.includes(api.identifier)) {
        return {
          granted: false,
          ...found,
          reason: `held through ${sources}, but the client ${client.id} is not allowed the API ${api.identifier} (gatehouse client update --id ${client.id} --api ${api.identifier}), so it gets no token for it`,
        };
      }
      const held = `granted through ${sources}`;
      if (!api) return { granted: true, ...found, reason: held };
      const asker = client ? `the client ${client.id}` : 'the client';
      const consent = client?.firstParty ? '' : ' and the user consents to it';
      return {
        granted: true,
        ...found,
        reason: `${held}; a token for ${api.identifier} carries it only when ${asker} asks for the scope ${permission}${consent}`,
      };
    },

    async createApi(input: {
      identifier: string;
      name?: string | undefined;
      permissions?: readonly string[];
      /** Permission → what it lets an application do, in words (at most 200 characters). */
      descriptions?: Readonly<Record<string, string>> | undefined;
      format?: 'jwt' | 'opaque';
      accessTokenTtl?: number | undefined;
      /** Claims filled by a resource search at issuance (already parsed from NAME=ACTION:TYPE, or as JSON). */
      searchClaims?: readonly unknown[] | undefined;
    }): Promise<ApiResource> {
      checkApiIdentifier(input.identifier);
      const searchClaims = checkSearchClaims(input.searchClaims ?? [], 'searchClaims');
      const descriptions = input.descriptions ?? {};
      const permissions = [...new Set([...(input.permissions ?? []), ...Object.keys(descriptions)])];
      checkPermissions(permissions);
      checkDescriptions(descriptions);
      if (await apis.find(input.identifier))
        throw conflict(`an API with identifier ${input.identifier} already exists`);
      await withTransaction(pool, async (tx) => {
        await apis.upsert(
          {
            identifier: input.identifier,
            name: input.name ?? null,
            format: input.format ?? 'jwt',
            accessTokenTtl: input.accessTokenTtl ?? null,
            builtin: false,
          },
          tx,
        );
        await apis.addPermissions(input.identifier, permissions, tx, descriptions);
        if (searchClaims.length > 0) await apis.setSearchClaims(input.identifier, searchClaims, tx);
      });
      return toApi((await apis.find(input.identifier))!);
    },

    /**
     * Changes a registered API: permissions declared or withdrawn, descriptions, name, token format and lifetime,
     * search claims (replaced when given). A built-in API (Gatehouse's own) cannot be changed: its permissions are
     * what Gatehouse checks.
     */
    async updateApi(
      identifier: string,
      patch: {
        name?: string | null | undefined;
        addPermissions?: readonly string[] | undefined;
        removePermissions?: readonly string[] | undefined;
        descriptions?: Readonly<Record<string, string>> | undefined;
        format?: 'jwt' | 'opaque' | undefined;
        accessTokenTtl?: number | null | undefined;
        searchClaims?: readonly unknown[] | undefined;
      },
    ): Promise<ApiResource> {
      const current = await apis.find(identifier);
      if (!current) throw notFound(`no API with identifier ${identifier}`);
      if (current.builtin)
        throw invalidRequest(
          `${identifier} is a built-in API of Gatehouse and cannot be changed`,
          'identifier',
        );
      const descriptions = patch.descriptions ?? {};
      const added = [...new Set([...(patch.addPermissions ?? []), ...Object.keys(descriptions)])];
      const removed = [...new Set(patch.removePermissions ?? [])];
      checkPermissions(added);
      checkDescriptions(descriptions);
      const both = added.find((permission) => removed.includes(permission));
      if (both !== undefined)
        throw invalidRequest(`the permission ${both} is both added and removed`, 'permission');
      const unknown = removed.find((permission) => !current.permissions.includes(permission));
      if (unknown !== undefined) throw notFound(`the API ${identifier} does not declare ${unknown}`);
      const searchClaims =
        patch.searchClaims === undefined ? undefined : checkSearchClaims(patch.searchClaims, 'searchClaims');
      if (
        patch.name !== undefined &&
        patch.name !== null &&
        (patch.name.length === 0 || patch.name.length > 200)
      )
        throw invalidRequest('the name must have 1-200 characters', 'name');
      if (
        patch.accessTokenTtl !== undefined &&
        patch.accessTokenTtl !== null &&
        (!Number.isInteger(patch.accessTokenTtl) || patch.accessTokenTtl < 1 || patch.accessTokenTtl > 86400)
      )
        throw invalidRequest('the access token lifetime must be 1-86400 seconds', 'accessTokenTtl');
      await withTransaction(pool, async (tx) => {
        await apis.update(
          identifier,
          {
            ...(patch.name !== undefined ? { name: patch.name } : {}),
            ...(patch.format !== undefined ? { format: patch.format } : {}),
            ...(patch.accessTokenTtl !== undefined ? { accessTokenTtl: patch.accessTokenTtl } : {}),
          },
          tx,
        );
        await apis.addPermissions(identifier, added, tx, descriptions);
        await apis.removePermissions(identifier, removed, tx);
        if (searchClaims !== undefined) await apis.setSearchClaims(identifier, searchClaims, tx);
      });
      return toApi((await apis.find(identifier))!);
    },

    /** Deletes a registered API (clients lose it from their allowed APIs); a built-in API cannot be deleted. */
    async deleteApi(identifier: string): Promise<void> {
      const current = await apis.find(identifier);
      if (!current) throw notFound(`no API with identifier ${identifier}`);
      if (current.builtin)
        throw invalidRequest(
          `${identifier} is a built-in API of Gatehouse and cannot be deleted`,
          'identifier',
        );
      if (!(await apis.delete(identifier))) throw notFound(`no API with identifier ${identifier}`);
    },

    /** Registers an API Gatehouse itself serves (its admin API) with the permissions it checks. */
    async ensureBuiltinApi(
      identifier: string,
      name: string,
      descriptions: Readonly<Record<string, string>>,
    ): Promise<void> {
      await withTransaction(pool, async (tx) => {
        await apis.upsert({ identifier, name, format: 'jwt', accessTokenTtl: null, builtin: true }, tx);
        await apis.addPermissions(identifier, Object.keys(descriptions), tx, descriptions);
      });
    },

    async findApi(identifier: string): Promise<ApiResource | undefined> {
      const row = await apis.find(identifier);
      return row ? toApi(row) : undefined;
    },

    async getApi(identifier: string): Promise<ApiResource> {
      const row = await apis.find(identifier);
      if (!row) throw notFound(`no API with identifier ${identifier}`);
      return toApi(row);
    },

    /**
     * The search claims of a user access token for `api` (`{}` when it declares none): one bounded resource search
     * per claim through the policy decision point of this runtime (see authz/search-claims.ts for the bounds).
     */
    async searchClaimsFor(accountId: string, api: ApiResource): Promise<Record<string, unknown>> {
      if (api.searchClaims.length === 0) return {};
      if (!deps.search) throw new Error('search claims need the policy decision point of this runtime');
      return computeSearchClaims(deps.search(), accountId, api.searchClaims);
    },

    async listApis(): Promise<ApiResource[]> {
      return (await apis.list()).map(toApi);
    },
  };
}

export type RbacLibrary = ReturnType<typeof createRbacLibrary>;
