import type { Queryable } from '../db/pg-pool.ts';

export function createConfigVersionQueries(db: Queryable) {
  return {
    async read(): Promise<Map<string, string>> {
      const { rows } = await db.query<{ name: string; version: string }>(
        'SELECT name, version FROM config_versions',
      );
      return new Map(rows.map((row) => [row.name, row.version]));
    },
  };
}
