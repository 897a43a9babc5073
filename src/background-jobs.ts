import type { Logger } from 'pino';

export interface BackgroundJob {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

/**
 * Periodic work of a Gatehouse process (cleaning expired rows, carrying out queued sign-outs). A run never
 * overlaps the previous one, a failure is logged and retried at the next tick, and timers never keep the process
 * alive.
 */
export function startBackgroundJobs(jobs: BackgroundJob[], log: Logger): { stop(): void } {
  const timers = jobs.map((job) => {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      job
        .run()
        .catch((error: unknown) => log.warn({ err: error, job: job.name }, 'background job failed'))
        .finally(() => {
          running = false;
        });
    }, job.everyMs);
    timer.unref();
    return timer;
  });
  return {
    stop: () => timers.forEach((timer) => clearInterval(timer)),
  };
}
