import type { Command } from 'commander';
import { reencryptSecrets } from '../libraries/secret-rotation.ts';
import { createSealedValueQueries } from '../queries/sealed-value-queries.ts';
import type { CliContext } from './cli-context.ts';

export function registerSecretCommands(program: Command, context: () => CliContext): void {
  const secrets = program.command('secrets').description('manage the root secret');

  secrets
    .command('reencrypt')
    .description(
      'seal every stored secret again under GATEHOUSE_SECRET (run after a rotation, with the old secret in GATEHOUSE_PREVIOUS_SECRETS)',
    )
    .action(async () => {
      const cli = context();
      const counts = await cli.withRuntime(async ({ pool, libraries }) => {
        const result = await reencryptSecrets({
          pool,
          queries: createSealedValueQueries(pool),
          secretBox: libraries.secretBox,
        });
        await libraries.audit.record('secrets.reencrypted', { actor: 'cli', details: result });
        return result;
      });
      cli.print(
        { reencrypted: counts },
        Object.entries(counts)
          .map(([table, count]) => `${table}: ${count} value(s) sealed again`)
          .join('\n'),
      );
    });
}
