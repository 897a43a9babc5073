import { InvalidArgumentError, type Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { table } from './options.ts';

const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `--since 15m`, `2h`, `7d`, or an ISO 8601 time. */
export function parseSince(value: string, now = Date.now()): Date {
  const relative = /^(\d{1,6})([smhd])$/.exec(value);
  if (relative) return new Date(now - Number(relative[1]) * units[relative[2]!]! * 1000);
  const absolute = new Date(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(absolute.getTime())) return absolute;
  throw new InvalidArgumentError('expected a duration such as 15m, 2h, 7d, or an ISO 8601 time');
}

function limit(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError('expected a number from 1 to 99999');
  return Number(value);
}

export function registerAuditCommand(program: Command, context: () => CliContext): void {
  program
    .command('audit')
    .description(
      'show audit events (sign-ins, MFA, lockouts, consents, revocations, admin changes, key rotations)',
    )
    .requiredOption('--since <when>', 'a duration back from now (15m, 2h, 7d) or an ISO 8601 time', (value) =>
      parseSince(value),
    )
    .option('--type <type>', 'an event type (mfa.failed) or a family (mfa)')
    .option('--email <email>', 'only events of this account')
    .option(
      '--actor <actor>',
      'only events by this actor (cli, admin:<sub>, console:<sub>; console: for every one)',
    )
    .option('--limit <n>', 'at most this many events', limit, 1000)
    .action(
      async (options: { since: Date; type?: string; email?: string; actor?: string; limit: number }) => {
        const cli = context();
        const found = await cli.withRuntime(async ({ libraries }) => {
          const accountId = options.email
            ? ((await libraries.accounts.findByEmail(options.email))?.id ?? 'none')
            : undefined;
          return libraries.audit.list({
            since: options.since,
            type: options.type,
            actor: options.actor,
            accountId,
            // One more than asked for says whether the list stopped short.
            limit: options.limit + 1,
          });
        });
        const events = found.slice(0, options.limit);
        // Never silently short: stderr says so (stdout stays the one JSON document).
        // (The audit log answers at most 10,000 events at a time.)
        if (found.length > options.limit || found.length >= 10_000)
          process.stderr.write(
            `gatehouse: showing the first ${options.limit} matching events; more match (raise --limit or narrow --since)\n`,
          );
        cli.print(
          events,
          table([
            ['AT', 'TYPE', 'ACCOUNT', 'CLIENT', 'IP', 'DETAILS'],
            ...events.map((event) => [
              event.at,
              event.type,
              event.accountId ?? '',
              event.clientId ?? '',
              event.ip ?? '',
              JSON.stringify(event.details),
            ]),
          ]),
        );
      },
    );
}
