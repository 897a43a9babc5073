import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createLatencySamples, toLoadResult } from './latency-samples.ts';
import type { HttpRequest, LoadResult, LoadTiming } from './load-job.ts';

/**
 * Requests at a fixed rate, evenly spaced (open loop), for latency at a given load. autocannon's rate limit sends
 * each second's quota as fast as it can and then waits, so its latencies at "half the peak rate" are those of
 * bursts at the full rate. Each latency counts from when the request was due, not when a connection was free, so
 * a server that falls behind shows it (no coordinated omission).
 */
export async function runPacedRequestLoad(
  job: LoadTiming & { request: HttpRequest; ratePerSecond: number },
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const url = new URL(job.request.path, job.origin);
  const body = job.request.form ? new URLSearchParams(job.request.form).toString() : undefined;
  const headers = {
    accept: 'application/json',
    ...job.request.headers,
    ...(body
      ? {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(Buffer.byteLength(body)),
        }
      : {}),
  };

  const send = () =>
    new Promise<number>((resolve) => {
      const outgoing = httpRequest(url, { method: job.request.method, headers, agent }, (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
        response.once('error', () => resolve(0));
      });
      outgoing.once('error', () => resolve(0));
      outgoing.end(body);
    });

  async function run(seconds: number) {
    const latencies = createLatencySamples();
    const statusCodes: Record<string, number> = {};
    let failed = 0;
    const interval = 1000 / job.ratePerSecond;
    const total = Math.floor(seconds * job.ratePerSecond);
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let index = 0; index < total; index += 1) {
      const due = started + index * interval;
      const wait = due - performance.now();
      // Timers are only millisecond-precise: sleep for whole milliseconds, then send every request now due.
      if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, Math.floor(wait)));
      // Sent late: count from when it was due. Sent early (within the timer's millisecond): from when it was sent.
      const from = Math.min(due, performance.now());
      inFlight.push(
        send().then((status) => {
          statusCodes[status] = (statusCodes[status] ?? 0) + 1;
          if (status >= 200 && status < 300) latencies.add(performance.now() - from);
          else failed += 1;
        }),
      );
    }
    await Promise.all(inFlight);
    return { latencies, statusCodes, failed, seconds: (performance.now() - started) / 1000 };
  }

  try {
    if (job.warmupSeconds > 0) await run(job.warmupSeconds);
    const measured = await run(job.durationSeconds);
    return toLoadResult('paced http', measured.latencies, measured);
  } finally {
    agent.destroy();
  }
}
