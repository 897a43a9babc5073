import type { Queryable } from '../db/pg-pool.ts';

export interface RoleRow {
  name: string;
  description: string | null;
  builtin: boolean;
  mfa_required: boolean;
  permissions: string[];
}

export interface HolderGrants {
  roles: string[];
  /** Each permission with the roles that give it. */
  permissions: { permission: string; roles: string[] }[];
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
  async function grantsOf(
    holderTable: 'account_roles' | 'client_roles',
    holderColumn: string,
    holderId: string,
  ): Promise<HolderGrants> {
    const { rows } = await db.query<{ role_name: string; permission: string | null }>(
      `SELECT h.role_name, rp.permission FROM ${holderTable} h
       LEFT JOIN role_permissions rp ON rp.role_name = h.role_name
       WHERE h.${holderColumn} = $1 ORDER BY h.role_name, rp.permission`,
      [holderId],
    );
    const roles = [...new Set(rows.map((row) => row.role_name))];
    const byPermission = new Map<string, string[]>();
    for (const row of rows) {
      if (row.permission)
        byPermission.set(row.permission, [...(byPermission.get(row.permission) ?? []), row.role_name]);
    }
    return {
      roles,
      permissions: [...byPermission].map(([permission, roleNames]) => ({ permission, roles: roleNames })),
    };
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

    grantsOfAccount: (accountId: string) => grantsOf('account_roles', 'account_id', accountId),
    grantsOfClient: (clientId: string) => grantsOf('client_roles', 'client_id', clientId),
  };
}

export type RoleQueries = ReturnType<typeof createRoleQueries>;
