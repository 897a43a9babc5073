import { fileURLToPath } from 'node:url';

const loopStats = fileURLToPath(new URL('./loop-stats.ts', import.meta.url));

/**
 * `NODE_OPTIONS` for a bench server (Gatehouse or the baseline), from the diagnostics asked for:
 * `BENCH_CPU_PROF_DIR=<dir>` writes a V8 CPU profile there when the server stops (for flame graphs);
 * `BENCH_LOOP_STATS_DIR=<dir>` writes event-loop delay and GC pauses once a second (`loop-stats.ts`).
 */
export function serverNodeOptions(): { NODE_OPTIONS?: string; BENCH_LOOP_STATS_DIR?: string } {
  const options: string[] = [];
  const profileDir = process.env.BENCH_CPU_PROF_DIR;
  if (profileDir) options.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
  const loopStatsDir = process.env.BENCH_LOOP_STATS_DIR;
  if (loopStatsDir) options.push(`--import=${loopStats}`);
  return {
    ...(options.length > 0 ? { NODE_OPTIONS: options.join(' ') } : {}),
    // The servers get an environment of their own (not the bench's): loop-stats.ts reads where to write from it.
    ...(loopStatsDir ? { BENCH_LOOP_STATS_DIR: loopStatsDir } : {}),
  };
}
