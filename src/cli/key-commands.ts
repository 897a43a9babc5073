import { InvalidArgumentError, type Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { table } from './options.ts';

function seconds(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('expected a whole number of seconds');
  return Number(value);
}

export function registerKeyCommands(program: Command, context: () => CliContext): void {
  const keys = program.command('keys').description('manage signing keys');

  keys
    .command('rotate')
    .description('publish the next signing key of every algorithm; it signs after --activate-in seconds')
    .option(
      '--activate-in <seconds>',
      'seconds between publishing and signing (default from config)',
      seconds,
    )
    .action(async (options: { activateIn?: number }) => {
      const cli = context();
      const rotated = await cli.withRuntime(async ({ libraries }) => {
        const keys = await libraries.keys.rotate(options.activateIn);
        await libraries.audit.record('keys.rotated', {
          actor: 'cli',
          details: { kids: keys.map((key) => key.kid), activatesAt: keys[0]?.activatesAt },
        });
        return keys;
      });
      cli.print(
        rotated.map((key) => ({ kid: key.kid, alg: key.alg, activatesAt: key.activatesAt.toISOString() })),
        rotated
          .map((key) => `published ${key.alg} key ${key.kid}; signs from ${key.activatesAt.toISOString()}`)
          .join('\n'),
      );
    });

  keys
    .command('list')
    .description('list published signing keys')
    .action(async () => {
      const cli = context();
      const published = await cli.withRuntime(({ libraries }) => libraries.keys.list());
      cli.print(
        published,
        table([
          ['KID', 'ALG', 'STATUS', 'SIGNS FROM', 'UNPUBLISHED AT'],
          ...published.map((key) => [
            key.kid,
            key.alg,
            key.status,
            key.activatesAt.toISOString(),
            key.expiresAt?.toISOString() ?? '',
          ]),
        ]),
      );
    });
}
