import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';

/** The bench's only network peers besides its own loopback servers. */
export const postgresAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
export const redisUrl = 'redis://127.0.0.1:6379';

export function randomSuffix(): string {
  return randomBytes(5).toString('hex');
}

/** Creates `gatehouse_bench_<random>` and returns its URL and how to drop it. */
export async function createBenchDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `gatehouse_bench_${randomSuffix()}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: postgresAdminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  // The name is generated above from hex digits only, so it is safe to splice into DDL (which takes no params).
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return { url: url.href, name, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** A Redis key prefix of the bench's own, so its keys can be removed without touching anyone else's. */
export function createRedisPrefix(target: string): string {
  return `gatehouse-bench:${randomSuffix()}:${target}:`;
}

/** Deletes every key under `prefix` (SCAN, not KEYS, so a shared Redis is not blocked). */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200, failing early when the process behind it has exited. */
export async function waitForHttp(
  url: string,
  process: { exitCode(): number | null; output(): string },
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const code = process.exitCode();
    if (code !== null)
      throw new Error(`exited with code ${code} before answering ${url}:\n${process.output()}`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms:\n${process.output()}`);
}
