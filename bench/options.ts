import { parseArgs } from 'node:util';

export interface BenchOptions {
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  /** Names to run, in the bench's own order; undefined: all. */
  scenarios: string[] | undefined;
  targets: string[] | undefined;
  quick: boolean;
}

export const usage = `usage: npm run bench -- [options]

  --duration N       measured seconds per scenario per target (default 10)
  --warmup N         warm-up seconds before each measured run (default 3)
  --connections N    concurrent connections (default 10)
  --scenarios a,b    run only these scenarios
  --targets x,y      run only these targets
  --quick            smoke run: 2 s measured, 1 s warm-up (explicit --duration/--warmup still win)
  --help             this text`;

export class UsageError extends Error {
  override name = 'UsageError';
}

function positiveInteger(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`--${option} expects a whole number >= 1`);
  return Number(value);
}

function nameList(value: string | undefined, option: string, known: readonly string[]): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new UsageError(
      `--${option}: unknown ${unknown.join(', ') || '(empty)'}; known: ${known.join(', ')}`,
    );
  }
  return names;
}

/** Parses the command line; returns undefined when --help was asked for. */
export function parseBenchOptions(
  argv: string[],
  known: { scenarios: readonly string[]; targets: readonly string[] },
): BenchOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string' },
        warmup: { type: 'string' },
        connections: { type: 'string' },
        scenarios: { type: 'string' },
        targets: { type: 'string' },
        quick: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) return undefined;
  const quick = values.quick === true;
  // Warm-up is not 0 in a smoke run: the first requests JIT-compile and would otherwise land in the measurement.
  const warmupSeconds = values.warmup === '0' ? 0 : positiveInteger(values.warmup, 'warmup', quick ? 1 : 3);
  return {
    durationSeconds: positiveInteger(values.duration, 'duration', quick ? 2 : 10),
    warmupSeconds,
    connections: positiveInteger(values.connections, 'connections', 10),
    scenarios: nameList(values.scenarios, 'scenarios', known.scenarios),
    targets: nameList(values.targets, 'targets', known.targets),
    quick,
  };
}
