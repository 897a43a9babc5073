/**
 * The load generator, run as a process of its own so that the bench can pin it to a CPU other than the server's
 * (`taskset -c 1 node bench/load-worker.ts`). Reads one LoadJob as JSON on stdin, runs its warm-up and then the
 * measured run, and prints one LoadResult as JSON on stdout.
 */
import { runAuthzLoad } from './authz-load.ts';
import { runRefreshLoad, runRequestLoad } from './autocannon-load.ts';
import type { LoadJob, LoadResult } from './load-job.ts';
import { runPacedRequestLoad } from './paced-load.ts';
import { runSignInLoad } from './sign-in-loop.ts';

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

async function run(job: LoadJob): Promise<LoadResult> {
  switch (job.kind) {
    case 'request':
      return job.ratePerSecond
        ? runPacedRequestLoad({ ...job, ratePerSecond: job.ratePerSecond })
        : runRequestLoad(job);
    case 'refresh-chains':
      if (job.warmupSeconds > 0) await runRefreshLoad(job, 'warmup');
      return runRefreshLoad(job, 'measure');
    case 'sign-in':
      return runSignInLoad(job);
    case 'authz-http':
    case 'authz-cedar':
      return runAuthzLoad(job);
  }
}

try {
  const result = await run(JSON.parse(await readStdin()) as LoadJob);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  process.stderr.write(`load worker: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
}
