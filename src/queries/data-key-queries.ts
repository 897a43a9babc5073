import type { Queryable } from '../db/pg-pool.ts';

/** Data keys sealed under the root secret (see migration 012). */
export function createDataKeyQueries(db: Queryable) {
  return {
    /** The sealed key of that name: the one stored, or `sealedIfNew` when there was none (the first writer wins). */
    async ensure(name: string, sealedIfNew: string): Promise<string> {
      const { rows } = await db.query<{ sealed_key: string }>(
        `WITH inserted AS (
           INSERT INTO data_keys (name, sealed_key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING sealed_key
         )
         SELECT sealed_key FROM inserted UNION ALL SELECT sealed_key FROM data_keys WHERE name = $1`,
        [name, sealedIfNew],
      );
      return rows[0]!.sealed_key;
    },
  };
}

export type DataKeyQueries = ReturnType<typeof createDataKeyQueries>;
