import { performance } from 'node:perf_hooks';
import { signIn, type SignInFlow } from './http-sign-in.ts';
import { createLatencySamples, toLoadResult } from './latency-samples.ts';
import type { LoadResult, LoadTiming } from './load-job.ts';

/**
 * Complete sign-ins, one after another on each of `connections` concurrent loops. autocannon counts HTTP requests
 * and cannot follow a flow whose length and URLs depend on the answers (redirects to per-interaction URLs, a CSRF
 * token read from the page), so this loop drives the same flow with fetch and times each sign-in as one operation.
 */
async function loop(flow: SignInFlow, concurrency: number, seconds: number) {
  const durations = createLatencySamples();
  let failed = 0;
  let firstFailure: string | undefined;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const began = performance.now();
        try {
          await signIn(flow);
          durations.add(performance.now() - began);
        } catch (error) {
          failed += 1;
          firstFailure ??= (error as Error).message;
        }
      }
    }),
  );
  // Sign-ins still running at the deadline finish and count, so the elapsed time includes them too.
  return { durations, failed, firstFailure, seconds: (performance.now() - started) / 1000 };
}

export async function runSignInLoad(job: LoadTiming & { flow: SignInFlow }): Promise<LoadResult> {
  if (job.warmupSeconds > 0) await loop(job.flow, job.connections, job.warmupSeconds);
  const run = await loop(job.flow, job.connections, job.durationSeconds);
  return toLoadResult('fetch loop', run.durations, { ...run, statusCodes: {} });
}
