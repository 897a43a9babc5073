import autocannon from 'autocannon';
import { createLatencySamples } from './latency-samples.ts';
import type { HttpRequest, LoadJob, LoadResult, LoadTiming } from './load-job.ts';

type RefreshJob = Extract<LoadJob, { kind: 'refresh-chains' }>;

function toAutocannonRequest(request: HttpRequest): autocannon.Request {
  return {
    method: request.method,
    path: request.path,
    headers: {
      accept: 'application/json',
      ...request.headers,
      ...(request.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    ...(request.form ? { body: new URLSearchParams(request.form).toString() } : {}),
  };
}

/** Runs autocannon, timing successful answers (as autocannon does) at full precision. */
async function measuredRun(
  options: autocannon.Options,
  firstFailure: () => string | undefined,
): Promise<LoadResult> {
  const latencies = createLatencySamples();
  const instance = autocannon(options);
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.add(ms);
  });
  const result = await instance;
  const failure = firstFailure();
  return {
    tool: 'autocannon',
    requestsPerSecond: result['2xx'] / result.duration,
    p50Ms: latencies.percentile(50),
    p99Ms: latencies.percentile(99),
    succeeded: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
    seconds: result.duration,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, count]),
    ),
    ...(failure ? { firstFailure: failure } : {}),
  };
}

/** The same request over and over on every connection. */
export async function runRequestLoad(job: LoadTiming & { request: HttpRequest }): Promise<LoadResult> {
  const options = (duration: number): autocannon.Options => ({
    url: job.origin,
    connections: job.connections,
    duration,
    requests: [toAutocannonRequest(job.request)],
  });
  if (job.warmupSeconds > 0) await autocannon(options(job.warmupSeconds));
  return measuredRun(options(job.durationSeconds), () => undefined);
}

/**
 * Refresh token grants. Refresh tokens rotate (each works once), so every connection owns one chain and sends
 * the token the previous answer carried. autocannon resets a request's `context` each time its request list
 * wraps around, so the chain's current token lives in this closure instead, indexed by connection.
 *
 * Warm-up and measurement use separate chains: a run ends with requests in flight whose answers are never read,
 * so the token a chain holds at the end of a run may already be spent, and presenting a spent refresh token
 * revokes the whole grant (RFC 9700 section 4.14.2).
 */
export async function runRefreshLoad(job: RefreshJob, phase: 'warmup' | 'measure'): Promise<LoadResult> {
  const chains =
    phase === 'warmup'
      ? job.refreshTokens.slice(0, job.connections)
      : job.refreshTokens.slice(job.connections);
  let firstFailure: string | undefined;
  let nextChain = 0;
  const options: autocannon.Options = {
    url: job.origin,
    connections: chains.length,
    duration: phase === 'warmup' ? job.warmupSeconds : job.durationSeconds,
    setupClient(client) {
      const chain = nextChain++ % chains.length;
      const request = toAutocannonRequest({
        method: 'POST',
        path: '/token',
        headers: { authorization: job.authorization },
        form: { grant_type: 'refresh_token' },
      });
      client.setRequests([
        {
          ...request,
          setupRequest: (built) => ({
            ...built,
            body: new URLSearchParams({
              grant_type: 'refresh_token',
              refresh_token: chains[chain]!,
            }).toString(),
          }),
          onResponse(status, body) {
            if (status === 200) chains[chain] = (JSON.parse(body) as { refresh_token: string }).refresh_token;
            else firstFailure ??= `refresh answered ${status}: ${body.slice(0, 200)}`;
          },
        },
      ]);
    },
  };
  return measuredRun(options, () => firstFailure);
}
