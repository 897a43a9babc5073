import type { Command } from 'commander';
import { openEmbeddedPostgres } from '../db/embedded-postgres.ts';
import { migrateDatabase } from '../db/migrate.ts';
import type { CliContext } from './cli-context.ts';

export function registerMigrateCommand(program: Command, context: () => CliContext): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => {
      const cli = context();
      const embedded = cli.config.databaseUrl ? undefined : await openEmbeddedPostgres(cli.config.dataDir);
      try {
        const applied = await migrateDatabase(cli.config.databaseUrl ?? embedded!.url, cli.log);
        cli.print(
          { applied },
          applied.length > 0 ? `applied ${applied.join(', ')}` : 'the database is up to date',
        );
      } finally {
        await embedded?.close();
      }
    });
}
