import type { Queryable } from '../db/pg-pool.ts';

export interface GroupNode {
  name: string;
  /** The roles the group holds itself. */
  roles: string[];
  /** Its own parent groups. */
  parents: string[];
}

/** The directory as the policy decision point reads it, beyond what the account and role queries give. */
export function createAuthzDirectoryQueries(db: Queryable) {
  return {
    /** Every group with its own roles and parents: `group::"<name>"` entities (config-cached as a whole). */
    async groupGraph(): Promise<GroupNode[]> {
      const { rows } = await db.query<GroupNode>(
        `SELECT g.name,
                ARRAY(SELECT role_name FROM group_roles WHERE group_name = g.name ORDER BY 1) AS roles,
                ARRAY(SELECT parent_name FROM group_parents WHERE group_name = g.name ORDER BY 1) AS parents
         FROM groups g ORDER BY g.name`,
      );
      return rows;
    },

    /** Whether a client is registered (`client::"<id>"` has attributes only then). */
    async clientExists(clientId: string): Promise<boolean> {
      const { rows } = await db.query('SELECT 1 FROM clients WHERE id = $1', [clientId]);
      return rows.length > 0;
    },
  };
}

export type AuthzDirectoryQueries = ReturnType<typeof createAuthzDirectoryQueries>;
