import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { GatehouseConfig } from '../config/load-config.ts';
import { openEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts';
import { migrateDatabase } from './migrate.ts';
import { createPool, type Pool } from './pg-pool.ts';

export interface Database {
  pool: Pool;
  url: string;
  embedded: EmbeddedPostgres | undefined;
  close(): Promise<void>;
}

/**
 * Connects to DATABASE_URL, or to embedded PGlite when it is unset. Outside production pending migrations are
 * applied at once (a newcomer's first start); in production they must have been applied with `gatehouse migrate`.
 */
export async function openDatabase(
  config: GatehouseConfig,
  log: Logger,
  options: { migrate: boolean; poolSize?: number },
): Promise<Database> {
  const embedded = config.databaseUrl ? undefined : await openEmbeddedPostgres(config.dataDir);
  const url = config.databaseUrl ?? embedded!.url;
  // PGlite runs one session for every connection, so one connection is all it can use.
  const pool = createPool({ connectionString: url, max: embedded ? 1 : (options.poolSize ?? 10) }, (error) =>
    log.warn({ err: { message: error.message } }, 'postgres connection error'),
  );
  const close = async () => {
    await pool.end().catch(() => undefined);
    await embedded?.close();
  };
  try {
    if (options.migrate) {
      const applied = await migrateDatabase(url, log);
      if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
    } else {
      await assertMigrated(pool);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { pool, url, embedded, close };
}

async function assertMigrated(pool: Pool): Promise<void> {
  const dir = fileURLToPath(new URL('../../migrations/', import.meta.url));
  const expected = readdirSync(dir).filter((name) => name.endsWith('.sql')).length;
  const applied = await pool
    .query<{ count: string }>('SELECT count(*) FROM pgmigrations')
    .then((result) => Number(result.rows[0]!.count))
    .catch(() => 0);
  if (applied < expected) {
    throw new Error(
      `the database is missing ${expected - applied} migration(s): run \`gatehouse migrate\` first`,
    );
  }
}
