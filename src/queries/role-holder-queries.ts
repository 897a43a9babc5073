import type { Queryable } from '../db/pg-pool.ts';

/** Who holds a role: questions about a role's members rather than one account's roles. */
export function createRoleHolderQueries(db: Queryable) {
  return {
    /**
     * Whether any account holds the role: directly, or as a member of a group holding it or of one of that
     * group's descendants (members of a group are members of its parents).
     */
    async anyAccountHolds(roleName: string): Promise<boolean> {
      const { rows } = await db.query<{ held: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM account_roles WHERE role_name = $1)
             OR EXISTS (
               WITH RECURSIVE holding(name) AS (
                 SELECT group_name FROM group_roles WHERE role_name = $1
                 UNION
                 SELECT gp.group_name FROM group_parents gp JOIN holding h ON gp.parent_name = h.name
               )
               SELECT 1 FROM group_members gm JOIN holding h ON gm.group_name = h.name
             ) AS held`,
        [roleName],
      );
      return rows[0]!.held;
    },
  };
}

export type RoleHolderQueries = ReturnType<typeof createRoleHolderQueries>;
