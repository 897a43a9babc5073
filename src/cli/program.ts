import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { GatehouseConfig } from '../config/load-config.ts';
import { registerAccessCommands } from './access-commands.ts';
import { registerAuditCommand } from './audit-command.ts';
import { registerAuthzCommands } from './authz-commands.ts';
import { createCliContext, type CliContext } from './cli-context.ts';
import { registerClientCommands } from './client-commands.ts';
import { registerGroupCommands } from './group-commands.ts';
import { registerIdpCommands } from './idp-commands.ts';
import { registerKeyCommands } from './key-commands.ts';
import { registerMigrateCommand } from './migrate-command.ts';
import { registerPolicyCommands } from './policy-commands.ts';
import { registerResourceCommands } from './resource-commands.ts';
import { registerRoleCommands, registerUserRoleCommands } from './role-commands.ts';
import { registerSecretCommands } from './secret-commands.ts';
import { registerServeCommand } from './serve-command.ts';
import { registerUserCommands } from './user-commands.ts';

const exitCodeHelp = `
gatehouse --version (or -V) prints the version of Gatehouse.

Exit codes:
  0  done
  1  failed (the database or the running server could not be reached, ...)
  2  refused: bad arguments or input, not found, already exists; nothing was written`;

/** The version of the package (package.json), for `gatehouse --version`. */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/**
 * The `gatehouse` command line. Configuration is read lazily, so `--help` and argument errors work even when the
 * environment is incomplete.
 */
export function createProgram(loadConfig: () => GatehouseConfig): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse: an OAuth 2.0 / OpenID Connect provider')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText('after', exitCodeHelp)
    .showHelpAfterError()
    .exitOverride();

  let context: CliContext | undefined;
  const getContext = () =>
    (context ??= createCliContext(loadConfig(), () => program.opts<{ json?: boolean }>().json === true));

  registerServeCommand(program, loadConfig);
  registerMigrateCommand(program, getContext);
  registerUserCommands(program, getContext);
  registerUserRoleCommands(
    program.commands.find((command) => command.name() === 'user')!,
    getContext,
  );
  registerClientCommands(program, getContext);
  registerRoleCommands(program, getContext);
  registerGroupCommands(program, getContext);
  registerKeyCommands(program, getContext);
  registerAccessCommands(program, getContext);
  registerAuditCommand(program, getContext);
  registerSecretCommands(program, getContext);
  registerIdpCommands(program, getContext);
  registerPolicyCommands(program, getContext);
  registerResourceCommands(program, getContext);
  registerAuthzCommands(program, getContext);

  // Subcommands inherit the error behaviour: argument errors throw instead of exiting.
  const inherit = (command: Command) => {
    command.exitOverride().showHelpAfterError();
    command.commands.forEach(inherit);
  };
  program.commands.forEach(inherit);

  return program;
}
