import { fileURLToPath } from 'node:url';
import type { CpuPinning } from './cpu-pinning.ts';
import type { LoadJob, LoadResult } from './load-job.ts';
import type { ProcessGroup } from './process-group.ts';

const workerScript = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

/** Runs one load job in the load worker, pinned to the load generator's CPU, and returns what it measured. */
export async function runLoadJob(
  job: LoadJob,
  deps: { processes: ProcessGroup; pinning: CpuPinning },
): Promise<LoadResult> {
  const { command, args } = deps.pinning.wrap('load', process.execPath, [workerScript]);
  const { code, stdout, stderr } = await deps.processes.run(command, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    input: JSON.stringify(job),
  });
  if (code !== 0) throw new Error(`load worker exited with ${code}: ${stderr.trim()}`);
  return JSON.parse(stdout) as LoadResult;
}
