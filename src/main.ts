#!/usr/bin/env node
/**
 * Entry point of `gatehouse` (and `npm start`, which runs `gatehouse serve`). The only module that reads the
 * environment.
 */
import { CommanderError } from 'commander';
import { createProgram, packageVersion } from './cli/program.ts';
import { loadConfig, type GatehouseConfig } from './config/load-config.ts';
import { ConfigError } from './errors/config-error.ts';
import { AppError } from './errors/app-error.ts';

/** Exit codes: 0 done, 1 failed, 2 bad arguments (nothing was written). */
async function main(argv: string[]): Promise<number> {
  // Only as the whole command line: after a command, `--version` is that command's own option (`policy get
  // --version 3`), which a program-wide version option would swallow.
  if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  let config: GatehouseConfig | undefined;
  const program = createProgram(() => (config ??= loadConfig(process.env)));
  try {
    await program.parseAsync(argv);
    // A command may report a negative result without failing (probe-api: the API got 401/403 wrong).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof AppError && error.status < 500) {
      process.stderr.write(`gatehouse: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`gatehouse: configuration error: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`gatehouse: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}

const args = process.argv.length > 2 ? process.argv : [...process.argv, '--help'];
main(args).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`gatehouse: ${String(error)}\n`);
    process.exit(1);
  },
);
