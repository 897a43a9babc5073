import { withTransaction, type Pool } from '../db/pg-pool.ts';
import { conflict, invalidRequest, notFound } from '../errors/app-error.ts';
import type { ApiResourceQueries, ApiResourceRow } from '../queries/api-resource-queries.ts';
import type { RoleQueries, RoleRow } from '../queries/role-queries.ts';

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
  reason: string;
}

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
});

/** Role-based access control: roles, their permissions, who holds them, and the APIs that check them. */
export function createRbacLibrary(deps: { pool: Pool; roles: RoleQueries; apis: ApiResourceQueries }) {
  const { pool, roles, apis } = deps;

  async function requireRole(name: string): Promise<RoleRow> {
    const role = await roles.find(name);
    if (!role) throw notFound(`no role named ${name}`);
    return role;
  }

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

    /** Throws naming the first role that does not exist, before anything is written. */
    async assertExist(names: readonly string[]): Promise<void> {
      const found = new Set(await roles.existing(names));
      const missing = names.find((name) => !found.has(name));
      if (missing !== undefined) throw notFound(`no role named ${missing}`);
    },

    async assignToAccount(accountId: string, roleName: string): Promise<boolean> {
      await requireRole(roleName);
      return roles.assignToAccount(accountId, roleName);
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

    rolesOfAccount: async (accountId: string) => [...(await roles.rolesOfAccount(accountId))],

    /**
     * The roles and permissions of an account or a client. With an API, only the permissions that API declares
     * (what its tokens may carry); without, all of them.
     */
    async effectiveAccess(
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
    },

    /** Whether an account holds a permission, through which roles, or why not. */
    async explain(accountId: string, permission: string, api?: ApiResource): Promise<Explanation> {
      const grants = await roles.grantsOfAccount(accountId);
      const via = grants.permissions.find((grant) => grant.permission === permission)?.roles ?? [];
      if (via.length === 0) {
        const reason =
          grants.roles.length === 0
            ? 'the account holds no roles'
            : `none of the account's roles (${grants.roles.join(', ')}) holds ${permission}`;
        return { granted: false, via: [], reason };
      }
      if (api && !api.permissions.includes(permission)) {
        return {
          granted: false,
          via,
          reason: `roles ${via.join(', ')} hold ${permission}, but the API ${api.identifier} does not declare it, so its tokens never carry it`,
        };
      }
      return {
        granted: true,
        via,
        reason: `granted through role${via.length > 1 ? 's' : ''} ${via.join(', ')}`,
      };
    },

    async createApi(input: {
      identifier: string;
      name?: string | undefined;
      permissions?: readonly string[];
      format?: 'jwt' | 'opaque';
      accessTokenTtl?: number | undefined;
    }): Promise<ApiResource> {
      checkApiIdentifier(input.identifier);
      const permissions = [...new Set(input.permissions ?? [])];
      checkPermissions(permissions);
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
        await apis.addPermissions(input.identifier, permissions, tx);
      });
      return toApi((await apis.find(input.identifier))!);
    },

    /** Registers an API Gatehouse itself serves (its admin API) with the permissions it checks. */
    async ensureBuiltinApi(identifier: string, name: string, permissions: readonly string[]): Promise<void> {
      await withTransaction(pool, async (tx) => {
        await apis.upsert({ identifier, name, format: 'jwt', accessTokenTtl: null, builtin: true }, tx);
        await apis.addPermissions(identifier, permissions, tx);
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

    async listApis(): Promise<ApiResource[]> {
      return (await apis.list()).map(toApi);
    },
  };
}

export type RbacLibrary = ReturnType<typeof createRbacLibrary>;
