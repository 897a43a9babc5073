import type { Queryable } from '../db/pg-pool.ts';

export interface PolicyVersionRow {
  version: number;
  text: string;
  schema: string | null;
  created_at: Date;
  created_by: string;
  restored_from: number | null;
}

const columns =
  'version::int AS version, text, schema, created_at, created_by, restored_from::int AS restored_from';

/** The versions of the Cedar policy set (migration 014): the active one is the highest. */
export function createPolicyQueries(db: Queryable) {
  return {
    /** The active version, or undefined when no policy set was ever stored. */
    async active(): Promise<PolicyVersionRow | undefined> {
      const { rows } = await db.query<PolicyVersionRow>(
        `SELECT ${columns} FROM authz_policy_versions ORDER BY version DESC LIMIT 1`,
      );
      return rows[0];
    },

    async find(version: number): Promise<PolicyVersionRow | undefined> {
      const { rows } = await db.query<PolicyVersionRow>(
        `SELECT ${columns} FROM authz_policy_versions WHERE version = $1`,
        [version],
      );
      return rows[0];
    },

    /** Every version, newest first, without their text (it can be long). */
    async history(limit: number): Promise<Omit<PolicyVersionRow, 'text' | 'schema'>[]> {
      const { rows } = await db.query<Omit<PolicyVersionRow, 'text' | 'schema'>>(
        `SELECT version::int AS version, created_at, created_by, restored_from::int AS restored_from
         FROM authz_policy_versions ORDER BY version DESC LIMIT $1`,
        [limit],
      );
      return rows;
    },

    /**
     * Adds a version, which becomes the active one, in one statement: the set is replaced atomically. Numbered
     * one past the highest under a lock on the table (inside `tx`, a transaction), so concurrent writers queue
     * instead of colliding. Returns the new version.
     */
    async insert(
      entry: { text: string; schema: string | null; createdBy: string; restoredFrom: number | null },
      tx: Queryable,
    ): Promise<number> {
      await tx.query('LOCK TABLE authz_policy_versions IN SHARE ROW EXCLUSIVE MODE');
      const { rows } = await tx.query<{ version: number }>(
        `INSERT INTO authz_policy_versions (version, text, schema, created_by, restored_from)
         SELECT COALESCE(max(version), 0) + 1, $1, $2, $3, $4 FROM authz_policy_versions
         RETURNING version::int AS version`,
        [entry.text, entry.schema, entry.createdBy, entry.restoredFrom],
      );
      return rows[0]!.version;
    },
  };
}

export type PolicyQueries = ReturnType<typeof createPolicyQueries>;
