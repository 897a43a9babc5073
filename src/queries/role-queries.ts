import type { Queryable } from '../db/pg-pool.ts';

export interface RoleRow {
  name: string;
  description: string | null;
  builtin: boolean;
  mfa_required: boolean;
  permissions: string[];
}

export interface HolderGrants {
  /** Every role held: directly, or through a group (an account's). */
  roles: string[];
  /** Every group the account is in, directly or as a member of a descendant group (sorted; none for a client). */
  groups: string[];
  /** Each role with how it is held: directly, and through which groups. */
  roleSources: { role: string; direct: boolean; groups: string[] }[];
  /** Each permission with what gives it: the roles holding it, the groups holding it, a direct grant. */
  permissions: { permission: string; roles: string[]; groups: string[]; direct: boolean }[];
}

interface GrantRow {
  source: 'role' | 'group' | 'direct';
  /** The role or group name (null for a direct grant). */
  name: string | null;
  /** For a role held through a group, that group (null when held directly). */
  via_group: string | null;
  permission: string | null;
}

/**
 * Every group an account is in, its own and their ancestors (UNION: a cycle, which the library refuses anyway,
 * cannot make it loop). `$1` is the account id.
 */
export const accountGroupsCte = `member_of(name) AS (
    SELECT group_name FROM group_members WHERE account_id = $1
    UNION
    SELECT gp.parent_name FROM group_parents gp JOIN member_of m ON gp.group_name = m.name
  )`;

/** Folds the rows of the grants query (role rows first, then group rows, then direct grants) into HolderGrants. */
function foldGrants(rows: readonly GrantRow[]): HolderGrants {
  const roleSources = new Map<string, { direct: boolean; groups: Set<string> }>();
  const groups = new Set<string>();
  const permissions = new Map<string, { roles: Set<string>; groups: Set<string>; direct: boolean }>();
  const permissionOf = (permission: string) => {
    let entry = permissions.get(permission);
    if (!entry) permissions.set(permission, (entry = { roles: new Set(), groups: new Set(), direct: false }));
    return entry;
  };
  for (const row of rows) {
    if (row.source === 'role' && row.name !== null) {
      const source = roleSources.get(row.name) ?? { direct: false, groups: new Set<string>() };
      if (row.via_group === null) source.direct = true;
      else source.groups.add(row.via_group);
      roleSources.set(row.name, source);
      if (row.permission) permissionOf(row.permission).roles.add(row.name);
    } else if (row.source === 'group' && row.name !== null) {
      groups.add(row.name);
      if (row.permission) permissionOf(row.permission).groups.add(row.name);
    } else if (row.source === 'direct' && row.permission) {
      permissionOf(row.permission).direct = true;
    }
  }
  const sorted = (values: Iterable<string>) => [...values].sort();
  return {
    roles: sorted(roleSources.keys()),
    groups: sorted(groups),
    roleSources: sorted(roleSources.keys()).map((role) => ({
      role,
      direct: roleSources.get(role)!.direct,
      groups: sorted(roleSources.get(role)!.groups),
    })),
    permissions: [...permissions].map(([permission, entry]) => ({
      permission,
      roles: sorted(entry.roles),
      groups: sorted(entry.groups),
      direct: entry.direct,
    })),
  };
}

const roleWithPermissions = `
  SELECT r.name, r.description, r.builtin, r.mfa_required,
         COALESCE(array_agg(rp.permission ORDER BY rp.permission) FILTER (WHERE rp.permission IS NOT NULL), '{}') AS permissions
  FROM roles r LEFT JOIN role_permissions rp ON rp.role_name = r.name`;

/**
 * Which of these role names are not roles, in the order given. The account and client queries check with it before
 * they write a new account's or client's roles, so the error can name the first unknown one.
 */
export async function findUnknownRoles(db: Queryable, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const known = new Set(await existingRoles(db, names));
  return names.filter((name) => !known.has(name));
}

async function existingRoles(db: Queryable, names: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM roles WHERE name = ANY($1)', [names]);
  return rows.map((row) => row.name);
}

/** Roles, their permissions, and who holds them (accounts and clients). */
export function createRoleQueries(db: Queryable) {
  /**
   * An account's grants in one statement (it runs at every token issuance and introspection, cached per
   * process): its roles, held directly or through its groups and their ancestors (a recursive CTE), the
   * permissions of those roles, of those groups, and its direct grants.
   */
  async function grantsOfAccount(accountId: string): Promise<HolderGrants> {
    const { rows } = await db.query<GrantRow>(
      `WITH RECURSIVE ${accountGroupsCte},
       held(role_name, via_group) AS (
         SELECT role_name, NULL::text FROM account_roles WHERE account_id = $1
         UNION ALL
         SELECT gr.role_name, gr.group_name FROM group_roles gr JOIN member_of m ON gr.group_name = m.name
       )
       SELECT * FROM (
         SELECT 1 AS part, 'role' AS source, h.role_name AS name, h.via_group, rp.permission
         FROM held h LEFT JOIN role_permissions rp ON rp.role_name = h.role_name
         UNION ALL
         SELECT 2, 'group', m.name, NULL, gp.permission
         FROM member_of m LEFT JOIN group_permissions gp ON gp.group_name = m.name
         UNION ALL
         SELECT 3, 'direct', NULL, NULL, ap.permission FROM account_permissions ap WHERE ap.account_id = $1
       ) AS grants
       ORDER BY part, name, permission`,
      [accountId],
    );
    return foldGrants(rows);
  }

  async function grantsOfClient(clientId: string): Promise<HolderGrants> {
    const { rows } = await db.query<GrantRow>(
      `SELECT 'role' AS source, h.role_name AS name, NULL AS via_group, rp.permission FROM client_roles h
       LEFT JOIN role_permissions rp ON rp.role_name = h.role_name
       WHERE h.client_id = $1 ORDER BY h.role_name, rp.permission`,
      [clientId],
    );
    return foldGrants(rows);
  }

  return {
    async insert(role: { name: string; description: string | null }, tx: Queryable = db): Promise<void> {
      await tx.query('INSERT INTO roles (name, description) VALUES ($1, $2)', [role.name, role.description]);
    },

    async addPermissions(
      roleName: string,
      permissions: readonly string[],
      tx: Queryable = db,
    ): Promise<void> {
      if (permissions.length === 0) return;
      await tx.query(
        `INSERT INTO role_permissions (role_name, permission) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
        [roleName, permissions],
      );
    },

    async removePermission(roleName: string, permission: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'DELETE FROM role_permissions WHERE role_name = $1 AND permission = $2',
        [roleName, permission],
      );
      return (rowCount ?? 0) > 0;
    },

    async find(name: string): Promise<RoleRow | undefined> {
      const { rows } = await db.query<RoleRow>(`${roleWithPermissions} WHERE r.name = $1 GROUP BY r.name`, [
        name,
      ]);
      return rows[0];
    },

    async list(): Promise<RoleRow[]> {
      const { rows } = await db.query<RoleRow>(`${roleWithPermissions} GROUP BY r.name ORDER BY r.name`);
      return rows;
    },

    existing: (names: readonly string[]) => existingRoles(db, names),

    async delete(name: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM roles WHERE name = $1 AND NOT builtin', [name]);
      return (rowCount ?? 0) > 0;
    },

    /**
     * An operator's assignment. A role an upstream's rule gave becomes the operator's (`granted_by_idp` NULL), so
     * the rule no longer takes it away.
     */
    async assignToAccount(accountId: string, roleName: string, tx: Queryable = db): Promise<boolean> {
      const { rowCount } = await tx.query(
        `INSERT INTO account_roles (account_id, role_name) VALUES ($1, $2)
         ON CONFLICT (account_id, role_name) DO UPDATE SET granted_by_idp = NULL
         WHERE account_roles.granted_by_idp IS NOT NULL`,
        [accountId, roleName],
      );
      return (rowCount ?? 0) > 0;
    },

    /**
     * What an upstream's role rules say at a sign-in through it: the account gets the existing roles of `roles`
     * (marked as given by `idpId`) and loses those `idpId` gave that are no longer in it. Roles an operator
     * assigned, or another upstream gave, are left alone. One statement, so it is all or nothing.
     */
    async syncRolesFromIdp(
      accountId: string,
      idpId: string,
      roleNames: readonly string[],
    ): Promise<{ granted: string[]; removed: string[] }> {
      const { rows } = await db.query<{ change: 'granted' | 'removed'; role_name: string }>(
        `WITH granted AS (
           INSERT INTO account_roles (account_id, role_name, granted_by_idp)
           SELECT $1, r.name, $2 FROM roles r WHERE r.name = ANY($3::text[])
           ON CONFLICT (account_id, role_name) DO NOTHING
           RETURNING role_name
         ), removed AS (
           DELETE FROM account_roles
           WHERE account_id = $1 AND granted_by_idp = $2 AND NOT (role_name = ANY($3::text[]))
           RETURNING role_name
         )
         SELECT 'granted' AS change, role_name FROM granted
         UNION ALL SELECT 'removed' AS change, role_name FROM removed
         ORDER BY role_name`,
        [accountId, idpId, roleNames],
      );
      return {
        granted: rows.filter((row) => row.change === 'granted').map((row) => row.role_name),
        removed: rows.filter((row) => row.change === 'removed').map((row) => row.role_name),
      };
    },

    async removeFromAccount(accountId: string, roleName: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'DELETE FROM account_roles WHERE account_id = $1 AND role_name = $2',
        [accountId, roleName],
      );
      return (rowCount ?? 0) > 0;
    },

    async assignToClient(clientId: string, roleName: string, tx: Queryable = db): Promise<void> {
      await tx.query(
        'INSERT INTO client_roles (client_id, role_name) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [clientId, roleName],
      );
    },

    async rolesOfAccount(accountId: string): Promise<string[]> {
      const { rows } = await db.query<{ role_name: string }>(
        'SELECT role_name FROM account_roles WHERE account_id = $1 ORDER BY role_name',
        [accountId],
      );
      return rows.map((row) => row.role_name);
    },

    grantsOfAccount,
    grantsOfClient,

    /** A permission held directly (not through a role or group). False when the account already held it. */
    async grantToAccount(accountId: string, permission: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'INSERT INTO account_permissions (account_id, permission) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [accountId, permission],
      );
      return (rowCount ?? 0) > 0;
    },

    async revokeFromAccount(accountId: string, permission: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'DELETE FROM account_permissions WHERE account_id = $1 AND permission = $2',
        [accountId, permission],
      );
      return (rowCount ?? 0) > 0;
    },

    /** The permissions an account holds directly, sorted. */
    async directPermissionsOfAccount(accountId: string): Promise<string[]> {
      const { rows } = await db.query<{ permission: string }>(
        'SELECT permission FROM account_permissions WHERE account_id = $1 ORDER BY permission',
        [accountId],
      );
      return rows.map((row) => row.permission);
    },
  };
}

export type RoleQueries = ReturnType<typeof createRoleQueries>;
