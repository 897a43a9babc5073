import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import autocannon from 'autocannon';
import { attributesRead, leanEntities, type EntityJson } from '../src/libraries/authz/decisions.ts';
import { compilePolicySet } from '../src/libraries/authz/policy-set.ts';
import type { CedarCall } from './authz-fixture.ts';
import { createLatencySamples, toLoadResult, type LatencySamples } from './latency-samples.ts';
import type { LoadResult, LoadTiming } from './load-job.ts';

/**
 * The load of the authorization scenarios (bench/scenarios/authz-scenarios.ts), run by the load worker:
 *
 * - `authz-http`: one AuthZEN request (a JSON body) over and over, with autocannon (or evenly spaced with
 *   `ratePerSecond`, like paced-load.ts);
 * - `authz-cedar`: the baseline, cedar-wasm deciding the same requests in this process, with the same policies and
 *   the entities Gatehouse builds for them, on the fastest path cedar-wasm has (the policy set preparsed once,
 *   `statefulIsAuthorized`, as Gatehouse does). One operation is `callsPerOperation` decisions (a batch of 100,
 *   a page of a search), so operations per second compare with Gatehouse's requests per second directly.
 */
export type AuthzWork =
  | { kind: 'authz-http'; request: { path: string; authorization: string; body: string } }
  | {
      kind: 'authz-cedar';
      policies: string;
      calls: CedarCall[];
      callsPerOperation: number;
      /** Give Cedar what Gatehouse gives it (only the attributes the policies name): decisions.ts, leanEntities. */
      lean: boolean;
    };

type AuthzJob = LoadTiming & AuthzWork;

/** autocannon sets `content-length` itself (a second one makes the request invalid); node:http needs it given. */
function jsonHeaders(request: { authorization: string; body: string }) {
  return {
    accept: 'application/json',
    authorization: request.authorization,
    'content-type': 'application/json',
  };
}

async function autocannonRun(job: Extract<AuthzJob, { kind: 'authz-http' }>): Promise<LoadResult> {
  const options = (duration: number): autocannon.Options => ({
    url: job.origin,
    connections: job.connections,
    duration,
    requests: [
      { method: 'POST', path: job.request.path, headers: jsonHeaders(job.request), body: job.request.body },
    ],
  });
  if (job.warmupSeconds > 0) await autocannon(options(job.warmupSeconds));
  const latencies = createLatencySamples();
  const instance = autocannon(options(job.durationSeconds));
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.add(ms);
  });
  const result = await instance;
  return {
    ...toLoadResult('autocannon', latencies, {
      failed: result.non2xx + result.errors + result.timeouts,
      seconds: result.duration,
      statusCodes: Object.fromEntries(
        Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, count]),
      ),
    }),
    // autocannon's own count of 2xx answers over its own duration, as autocannon-load.ts reports it.
    requestsPerSecond: result['2xx'] / result.duration,
  };
}

/**
 * Operations evenly spaced at `ratePerSecond` (open loop: each latency counts from when the operation was due).
 * `send` resolves with a status (HTTP) or 200 (in process).
 */
async function pacedRun(
  job: LoadTiming & { ratePerSecond: number },
  send: () => Promise<number>,
  seconds: number,
): Promise<{
  latencies: LatencySamples;
  statusCodes: Record<string, number>;
  failed: number;
  seconds: number;
}> {
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
    if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, Math.floor(wait)));
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

async function pacedHttp(
  job: Extract<AuthzJob, { kind: 'authz-http' }> & { ratePerSecond: number },
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const url = new URL(job.request.path, job.origin);
  const headers = {
    ...jsonHeaders(job.request),
    'content-length': String(Buffer.byteLength(job.request.body)),
  };
  const send = () =>
    new Promise<number>((resolve) => {
      const outgoing = httpRequest(url, { method: 'POST', headers, agent }, (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
        response.once('error', () => resolve(0));
      });
      outgoing.once('error', () => resolve(0));
      outgoing.end(job.request.body);
    });
  try {
    if (job.warmupSeconds > 0) await pacedRun(job, send, job.warmupSeconds);
    return toLoadResult('paced http', ...measured(await pacedRun(job, send, job.durationSeconds)));
  } finally {
    agent.destroy();
  }
}

const measured = (run: Awaited<ReturnType<typeof pacedRun>>) =>
  [run.latencies, { failed: run.failed, seconds: run.seconds, statusCodes: run.statusCodes }] as const;

/** Preparses the policies as Gatehouse compiles them (one policy per `@id`) under `id`. */
function preparse(id: string, policies: string): void {
  const answer = cedar.preparsePolicySet(id, { staticPolicies: compilePolicySet(policies, null).policies });
  if (answer.type === 'failure') throw new Error('the policies do not parse');
}

/** One in-process decision: true for allow. */
function decide(id: string, { entities, ...request }: CedarCall): boolean {
  const decided = cedar.statefulIsAuthorized({
    ...request,
    context: request.context as cedar.Context,
    preparsedPolicySetId: id,
    entities: entities as cedar.EntityJson[],
  });
  if (decided.type === 'failure') throw new Error(decided.errors.map((error) => error.message).join('; '));
  return decided.response.decision === 'allow';
}

/** The in-process decisions of `calls` (the scenarios compare them with the fixture before measuring). */
export function decideInProcess(policies: string, calls: readonly CedarCall[]): boolean[] {
  preparse('bench-authz-check', policies);
  return calls.map((call) => decide('bench-authz-check', call));
}

/** The baseline: cedar-wasm in this process. Throws when a decision fails (the fixture is wrong, not slow). */
async function cedarRun(job: Extract<AuthzJob, { kind: 'authz-cedar' }>): Promise<LoadResult> {
  const id = 'bench-authz';
  preparse(id, job.policies);
  const reads = job.lean ? attributesRead(compilePolicySet(job.policies, null).policies) : undefined;
  const calls = reads
    ? job.calls.map((call) => ({ ...call, entities: leanEntities(call.entities as EntityJson[], reads) }))
    : job.calls;
  let next = 0;
  const operation = () => {
    for (let call = 0; call < job.callsPerOperation; call += 1) {
      decide(id, calls[next]!);
      next = (next + 1) % calls.length;
    }
  };
  const closedLoop = (seconds: number) => {
    const latencies = createLatencySamples();
    const started = performance.now();
    const end = started + seconds * 1000;
    for (let now = started; now < end;) {
      operation();
      const done = performance.now();
      latencies.add(done - now);
      now = done;
    }
    return {
      latencies,
      statusCodes: { 200: latencies.count() },
      failed: 0,
      seconds: (performance.now() - started) / 1000,
    };
  };
  const rate = job.ratePerSecond;
  // In process nothing overlaps: an operation due while another runs waits for it (and that wait counts).
  const run = (seconds: number) =>
    rate
      ? pacedRun({ ...job, ratePerSecond: rate }, async () => (operation(), 200), seconds)
      : Promise.resolve(closedLoop(seconds));
  if (job.warmupSeconds > 0) await run(job.warmupSeconds);
  return { ...toLoadResult('fetch loop', ...measured(await run(job.durationSeconds))), tool: cedarTool };
}

/** How LoadResult names this measurement (see the report's notes: decisions in process, no HTTP). */
const cedarTool = 'cedar in process' as const;

export async function runAuthzLoad(job: AuthzJob): Promise<LoadResult> {
  if (job.kind === 'authz-cedar') return cedarRun(job);
  return job.ratePerSecond ? pacedHttp({ ...job, ratePerSecond: job.ratePerSecond }) : autocannonRun(job);
}
