import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from 'pino';

const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * Applies every pending migration in `migrations/` (numbered, append-only SQL files) with node-pg-migrate.
 * Its advisory lock makes concurrent starts of several Gatehouse processes safe.
 * @returns the names of the migrations applied now
 */
export async function migrateDatabase(databaseUrl: string, log: Logger): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    checkOrder: true,
    log: (message: string) => log.debug({ migration: message }, 'migration'),
  });
  return applied.map((migration) => migration.name);
}
