import type { Queryable } from '../db/pg-pool.ts';

export interface GroupRow {
  name: string;
  description: string | null;
  roles: string[];
  permissions: string[];
  /** The group's own parents (not their ancestors). */
  parents: string[];
  member_count: number;
  created_at: Date;
}

const groupColumns = `
  SELECT g.name, g.description, g.created_at,
         ARRAY(SELECT role_name FROM group_roles WHERE group_name = g.name ORDER BY 1) AS roles,
         ARRAY(SELECT permission FROM group_permissions WHERE group_name = g.name ORDER BY 1) AS permissions,
         ARRAY(SELECT parent_name FROM group_parents WHERE group_name = g.name ORDER BY 1) AS parents,
         (SELECT count(*)::int FROM group_members WHERE group_name = g.name) AS member_count
  FROM groups g`;

/** Groups: their roles, permissions, parent groups and members (migration 013). */
export function createGroupQueries(db: Queryable) {
  return {
    async insert(group: { name: string; description: string | null }, tx: Queryable = db): Promise<void> {
      await tx.query('INSERT INTO groups (name, description) VALUES ($1, $2)', [
        group.name,
        group.description,
      ]);
    },

    async find(name: string, tx: Queryable = db): Promise<GroupRow | undefined> {
      const { rows } = await tx.query<GroupRow>(`${groupColumns} WHERE g.name = $1`, [name]);
      return rows[0];
    },

    async list(): Promise<GroupRow[]> {
      const { rows } = await db.query<GroupRow>(`${groupColumns} ORDER BY g.name`);
      return rows;
    },

    /** Which of these names are groups. */
    async existing(names: readonly string[], tx: Queryable = db): Promise<string[]> {
      const { rows } = await tx.query<{ name: string }>('SELECT name FROM groups WHERE name = ANY($1)', [
        names,
      ]);
      return rows.map((row) => row.name);
    },

    async delete(name: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM groups WHERE name = $1', [name]);
      return (rowCount ?? 0) > 0;
    },

    async addRoles(name: string, roles: readonly string[], tx: Queryable = db): Promise<void> {
      if (roles.length === 0) return;
      await tx.query(
        'INSERT INTO group_roles (group_name, role_name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING',
        [name, roles],
      );
    },

    async removeRoles(name: string, roles: readonly string[], tx: Queryable = db): Promise<number> {
      if (roles.length === 0) return 0;
      const { rowCount } = await tx.query(
        'DELETE FROM group_roles WHERE group_name = $1 AND role_name = ANY($2::text[])',
        [name, roles],
      );
      return rowCount ?? 0;
    },

    async addPermissions(name: string, permissions: readonly string[], tx: Queryable = db): Promise<void> {
      if (permissions.length === 0) return;
      await tx.query(
        `INSERT INTO group_permissions (group_name, permission) SELECT $1, unnest($2::text[])
         ON CONFLICT DO NOTHING`,
        [name, permissions],
      );
    },

    async removePermissions(
      name: string,
      permissions: readonly string[],
      tx: Queryable = db,
    ): Promise<number> {
      if (permissions.length === 0) return 0;
      const { rowCount } = await tx.query(
        'DELETE FROM group_permissions WHERE group_name = $1 AND permission = ANY($2::text[])',
        [name, permissions],
      );
      return rowCount ?? 0;
    },

    /**
     * Takes the lock under which parent links are checked for cycles and written: two concurrent links (A under B,
     * B under A) cannot both pass the check. Inside a transaction only; parent links change rarely.
     */
    async lockParents(tx: Queryable): Promise<void> {
      await tx.query('LOCK TABLE group_parents IN SHARE ROW EXCLUSIVE MODE');
    },

    /** Whether making `parent` a parent of `name` closes a cycle: `name` is `parent` or one of its ancestors. */
    async wouldCycle(name: string, parent: string, tx: Queryable = db): Promise<boolean> {
      const { rows } = await tx.query<{ cycle: boolean }>(
        `WITH RECURSIVE up(name) AS (
           SELECT $2::text
           UNION
           SELECT gp.parent_name FROM group_parents gp JOIN up ON gp.group_name = up.name
         )
         SELECT EXISTS (SELECT 1 FROM up WHERE name = $1) AS cycle`,
        [name, parent],
      );
      return rows[0]!.cycle;
    },

    async addParents(name: string, parents: readonly string[], tx: Queryable = db): Promise<void> {
      if (parents.length === 0) return;
      await tx.query(
        `INSERT INTO group_parents (group_name, parent_name) SELECT $1, unnest($2::text[])
         ON CONFLICT DO NOTHING`,
        [name, parents],
      );
    },

    async removeParents(name: string, parents: readonly string[], tx: Queryable = db): Promise<number> {
      if (parents.length === 0) return 0;
      const { rowCount } = await tx.query(
        'DELETE FROM group_parents WHERE group_name = $1 AND parent_name = ANY($2::text[])',
        [name, parents],
      );
      return rowCount ?? 0;
    },

    /** False when the account already was a member. */
    async addMember(name: string, accountId: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'INSERT INTO group_members (group_name, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [name, accountId],
      );
      return (rowCount ?? 0) > 0;
    },

    async removeMember(name: string, accountId: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'DELETE FROM group_members WHERE group_name = $1 AND account_id = $2',
        [name, accountId],
      );
      return (rowCount ?? 0) > 0;
    },

    /** The direct members of a group, by email. */
    async membersOf(name: string): Promise<{ id: string; email: string }[]> {
      const { rows } = await db.query<{ id: string; email: string }>(
        `SELECT a.id, a.email FROM group_members gm JOIN accounts a ON a.id = gm.account_id
         WHERE gm.group_name = $1 ORDER BY lower(a.email)`,
        [name],
      );
      return rows;
    },

    /** The groups an account is a member of itself (not their ancestors), sorted. */
    async groupsOfAccount(accountId: string): Promise<string[]> {
      const { rows } = await db.query<{ group_name: string }>(
        'SELECT group_name FROM group_members WHERE account_id = $1 ORDER BY group_name',
        [accountId],
      );
      return rows.map((row) => row.group_name);
    },
  };
}

export type GroupQueries = ReturnType<typeof createGroupQueries>;
