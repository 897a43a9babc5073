import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { invalidRequest } from '../errors/app-error.ts';
import type { CliContext } from './cli-context.ts';
import { table } from './options.ts';

/** A file named on the command line, as text; one that cannot be read is a bad argument (exit code 2). */
export async function readTextFile(path: string, option: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw invalidRequest(
      `${option} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
}

function parseVersion(value: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(value))
    throw new InvalidArgumentError('expected a version number (1, 2, ...)');
  return Number(value);
}

/** The Cedar policy set of the policy decision point: set, get, history, rollback. */
export function registerPolicyCommands(program: Command, context: () => CliContext): void {
  const policy = program
    .command('policy')
    .description('the Cedar policy set the policy decision point evaluates (versioned)');

  policy
    .command('set')
    .description(
      'validate a Cedar policy set (against a schema when given), then make it the active set atomically; one that does not parse or validate changes nothing',
    )
    .requiredOption('--file <file.cedar>', 'the policy set, in Cedar')
    .option(
      '--schema <file.cedarschema>',
      'a Cedar schema (human-readable or JSON) to validate the policies against',
    )
    .action(async (options: { file: string; schema?: string }) => {
      const text = await readTextFile(options.file, '--file');
      const schema = options.schema === undefined ? null : await readTextFile(options.schema, '--schema');
      const cli = context();
      const stored = await cli.withRuntime(({ libraries }) =>
        libraries.authz.policies.set(text, schema, 'cli'),
      );
      cli.print(
        { version: stored.version, policies: stored.policies, schema: stored.schema !== null },
        `policy set version ${String(stored.version)} is active (${String(stored.policies.length)} ${stored.policies.length === 1 ? 'policy' : 'policies'}${stored.policies.length > 0 ? `: ${stored.policies.join(' ')}` : ''})`,
      );
    });

  policy
    .command('get')
    .description('print the active policy set and its version (or an older version)')
    .option('--version <n>', 'an older version', parseVersion)
    .action(async (options: { version?: number }) => {
      const cli = context();
      const current = await cli.withRuntime(({ libraries }) =>
        options.version === undefined
          ? libraries.authz.policies.get()
          : libraries.authz.policies.getVersion(options.version),
      );
      cli.print(
        { version: current.version, text: current.text, schema: current.schema },
        current.version === 0
          ? 'no policy set (RBAC alone decides)'
          : [
              `// version ${String(current.version)}`,
              current.text.trimEnd(),
              ...(current.schema === null ? [] : ['', '// schema', current.schema.trimEnd()]),
            ].join('\n'),
      );
    });

  policy
    .command('history')
    .description('every version of the policy set: who made it and when (newest first)')
    .action(async () => {
      const cli = context();
      const history = await cli.withRuntime(({ libraries }) => libraries.authz.policies.history());
      cli.print(
        history.map((entry) => ({
          version: entry.version,
          created_at: entry.createdAt,
          created_by: entry.createdBy,
          restored_from: entry.restoredFrom,
          active: entry.active,
        })),
        history.length === 0
          ? 'no policy set was ever stored'
          : table([
              ['VERSION', 'CREATED', 'BY', 'NOTE'],
              ...history.map((entry) => [
                String(entry.version),
                entry.createdAt,
                entry.createdBy,
                [
                  entry.active ? 'active' : '',
                  entry.restoredFrom === null ? '' : `restores ${String(entry.restoredFrom)}`,
                ]
                  .filter(Boolean)
                  .join(', '),
              ]),
            ]),
      );
    });

  policy
    .command('rollback')
    .description('make an older version active again (stored as a new version)')
    .argument('<version>', 'the version to restore', parseVersion)
    .action(async (version: number) => {
      const cli = context();
      const stored = await cli.withRuntime(({ libraries }) =>
        libraries.authz.policies.rollback(version, 'cli'),
      );
      cli.print(
        { version: stored.version, restored_from: version, policies: stored.policies },
        `policy set version ${String(stored.version)} is active (the text of version ${String(version)})`,
      );
    });
}
