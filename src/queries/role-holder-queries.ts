import type { Queryable } from '../db/pg-pool.ts';

/** Who holds a role: questions about a role's members rather than one account's roles. */
export function createRoleHolderQueries(db: Queryable) {
  return {
    /** Whether any account holds the role (directly: roles reach accounts no other way). */
    async anyAccountHolds(roleName: string): Promise<boolean> {
      const { rows } = await db.query<{ held: boolean }>(
        'SELECT EXISTS (SELECT 1 FROM account_roles WHERE role_name = $1) AS held',
        [roleName],
      );
      return rows[0]!.held;
    },
  };
}

export type RoleHolderQueries = ReturnType<typeof createRoleHolderQueries>;
