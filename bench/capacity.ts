/**
 * `npm run bench:capacity`: what the side-by-side table cannot show, on Gatehouse with PostgreSQL and Redis.
 *  1. Scaling with `node:cluster`: cc-opaque with 1 and then 2 workers. Neither the server nor the load generator
 *     is pinned (two workers need both cores), so the load generator takes CPU from the server in both runs.
 *  2. Redis memory per signed-in browser session, read with MEMORY USAGE after many sign-ins.
 *  3. Sign-in latency with 1,000 and then 1,000,000 accounts in Postgres.
 * Prints the results and writes them to bench/results/capacity-<timestamp>.json. Usage: `npm run bench:capacity
 * -- [--duration N] [--sessions N] [--accounts N]`.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createCleanupStack } from './cleanup-stack.ts';
import { detectCpuPinning, noCpuPinning, type CpuPinning } from './cpu-pinning.ts';
import { createFixtures } from './fixtures.ts';
import { readGatehouseDefaults } from './gatehouse-defaults.ts';
import { signIn } from './http-sign-in.ts';
import { runLoadJob } from './load-client.ts';
import type { LoadResult, LoadWork } from './load-job.ts';
import { describeMachine } from './machine.ts';
import { createProcessGroup } from './process-group.ts';
import { formatNumber, writeJsonReport } from './report.ts';
import { clientCredentialsOpaque } from './scenarios/client-credentials-scenarios.ts';
import { passwordSignIn } from './scenarios/user-token-scenarios.ts';
import { redisUrl } from './services.ts';
import { gatehouseTarget } from './targets/gatehouse-target.ts';
import type { RunningTarget, TargetContext, TargetOptions } from './targets/target.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    sessions: { type: 'string', default: '300' },
    accounts: { type: 'string', default: '1000000' },
  },
});
const durationSeconds = Number(values.duration);
const sessionCount = Number(values.sessions);
const largeAccountCount = Number(values.accounts);
const smallAccountCount = 1000;

const processes = createProcessGroup();
const cleanup = createCleanupStack(log);
const pinning = detectCpuPinning();
const defaults = readGatehouseDefaults();
const context: TargetContext = {
  processes,
  cleanup,
  pinning,
  fixtures: createFixtures(),
  defaults,
  // Only the bare provider signs with these; Gatehouse makes its own keys.
  baselineKeys: [],
  log,
};
const realGatehouse = gatehouseTarget('real');
const start = (options: Partial<TargetOptions>) =>
  realGatehouse.start(context, { accessTokenAlg: 'ES256', ...options });

async function load(
  target: RunningTarget,
  work: LoadWork,
  options: { connections: number; pinning: CpuPinning },
): Promise<LoadResult> {
  const result = await runLoadJob(
    { origin: target.origin, connections: options.connections, warmupSeconds: 3, durationSeconds, ...work },
    { processes, pinning: options.pinning },
  );
  if (result.failed > 0) throw new Error(`${result.failed} requests failed: ${result.firstFailure ?? ''}`);
  return result;
}

/** cc-opaque at 1 and 2 workers, nothing pinned, enough connections to keep both workers busy. */
async function clusterScaling() {
  const rows: { workers: number; requestsPerSecond: number; p99Ms: number | null }[] = [];
  for (const workers of [1, 2]) {
    const target = await start({ workers, pinned: false });
    try {
      const work = await clientCredentialsOpaque.prepare(target, {
        fixtures: context.fixtures,
        connections: 20,
      });
      const result = await load(target, work, { connections: 20, pinning: noCpuPinning });
      rows.push({ workers, requestsPerSecond: result.requestsPerSecond, p99Ms: result.p99Ms });
      log(`cluster: ${workers} worker(s): ${formatNumber(result.requestsPerSecond, 0)} /s`);
    } finally {
      await target.stop();
    }
  }
  return {
    scenario: 'cc-opaque',
    connections: 20,
    rows,
    speedup: rows[1]!.requestsPerSecond / rows[0]!.requestsPerSecond,
  };
}

async function sumMemoryUsage(redis: Redis, pattern: string): Promise<{ keys: number; bytes: number }> {
  let cursor = '0';
  let keys = 0;
  let bytes = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    for (const key of batch) {
      keys += 1;
      bytes += (await redis.memory('USAGE', key, 'SAMPLES', 0)) ?? 0;
    }
    cursor = next;
  } while (cursor !== '0');
  return { keys, bytes };
}

/** Signs in `sessionCount` times (each sign-in a browser of its own), then weighs what Redis holds. */
async function sessionMemory(target: RunningTarget) {
  const flow = await passwordSignIn.prepare(target, { fixtures: context.fixtures, connections: 1 });
  if (flow.kind !== 'sign-in') throw new Error('expected a sign-in flow');
  let done = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (done < sessionCount) {
        done += 1;
        await signIn(flow.flow);
      }
    }),
  );
  const redis = new Redis(redisUrl);
  try {
    const prefix = target.storage!.redisPrefix;
    const sessions = await sumMemoryUsage(redis, `${prefix}Session:*`);
    const everything = await sumMemoryUsage(redis, `${prefix}*`);
    return {
      signIns: done,
      sessionKeys: sessions.keys,
      bytesPerSession: sessions.bytes / Math.max(1, sessions.keys),
      // Everything a sign-in leaves in Redis: the session, its access token, the spent code, throttle counters.
      allKeys: everything.keys,
      allBytesPerSignIn: everything.bytes / done,
    };
  } finally {
    redis.disconnect();
  }
}

/** Adds accounts (sharing the fixture account's password hash: hashing a million passwords proves nothing). */
async function seedAccounts(target: RunningTarget, total: number): Promise<void> {
  const client = new pg.Client({ connectionString: target.storage!.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>('SELECT count(*) FROM accounts');
    const have = Number(rows[0]!.count);
    if (have >= total) return;
    await client.query(
      `INSERT INTO accounts (email, name, email_verified, password_hash)
       SELECT 'scale-' || n || '@bench.local', 'Scale ' || n, true,
              (SELECT password_hash FROM accounts WHERE lower(email) = lower($1))
       FROM generate_series($2::int, $3::int) AS n`,
      [context.fixtures.account.email, have + 1, total],
    );
    await client.query('ANALYZE accounts');
  } finally {
    await client.end();
  }
}

async function accountScale(target: RunningTarget) {
  const work = await passwordSignIn.prepare(target, { fixtures: context.fixtures, connections: 4 });
  const rows: { accounts: number; signInsPerSecond: number; p50Ms: number | null; p99Ms: number | null }[] =
    [];
  for (const accounts of [smallAccountCount, largeAccountCount]) {
    const began = Date.now();
    await seedAccounts(target, accounts);
    log(`accounts: ${accounts} in place (${((Date.now() - began) / 1000).toFixed(1)} s)`);
    const result = await load(target, work, { connections: 4, pinning });
    rows.push({
      accounts,
      signInsPerSecond: result.requestsPerSecond,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
    });
    log(`accounts: ${accounts}: sign-in p50 ${formatNumber(result.p50Ms, 1)} ms`);
  }
  return { rows, p50Ratio: (rows[1]!.p50Ms ?? Number.NaN) / (rows[0]!.p50Ms ?? Number.NaN) };
}

async function main() {
  log(`cpu pinning for the memory and account runs: ${pinning.description}`);
  const cluster = await clusterScaling();
  const target = await start({});
  let memory;
  let accounts;
  try {
    memory = await sessionMemory(target);
    accounts = await accountScale(target);
  } finally {
    await target.stop();
  }
  const report = {
    startedAt: new Date().toISOString(),
    machine: describeMachine(),
    cluster,
    memory,
    accounts,
  };
  const lines = [
    '',
    `cluster (cc-opaque, 20 connections, unpinned): ${cluster.rows
      .map((row) => `${row.workers} worker(s) ${formatNumber(row.requestsPerSecond, 0)} /s`)
      .join(', ')}; speed-up ${formatNumber(cluster.speedup, 2)}`,
    `redis per browser session: ${formatNumber(memory.bytesPerSession, 0)} bytes (Session key, ${memory.sessionKeys} sessions); everything a sign-in leaves: ${formatNumber(memory.allBytesPerSignIn, 0)} bytes`,
    ...accounts.rows.map(
      (row) =>
        `sign-in with ${row.accounts} accounts: ${formatNumber(row.signInsPerSecond, 1)} /s, p50 ${formatNumber(row.p50Ms, 1)} ms, p99 ${formatNumber(row.p99Ms, 1)} ms`,
    ),
    `sign-in p50 ratio (${largeAccountCount} / ${smallAccountCount} accounts): ${formatNumber(accounts.p50Ratio, 3)}`,
  ];
  const path = writeJsonReport(report, 'capacity-');
  process.stdout.write(`${lines.join('\n')}\nresults: ${path}\n`);
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  log(`capacity bench failed: ${(error as Error).stack ?? String(error)}`);
  exitCode = 1;
} finally {
  await processes.stopAll();
  await cleanup.run();
}
process.exit(exitCode);
