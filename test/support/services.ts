import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

/** Admin connection to the test PostgreSQL (CI exports DATABASE_URL; locally the default cluster). */
export const adminDatabaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const testRedisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A database of its own for one test file, dropped afterwards. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminDatabaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    name,
    async drop() {
      const client = new pg.Client({ connectionString: adminDatabaseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface TestRedis {
  url: string;
  prefix: string;
  client: Redis;
  /** Deletes every key under this file's prefix. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** A Redis key prefix of its own for one test file; its keys are removed afterwards. */
export async function createTestRedis(): Promise<TestRedis> {
  const prefix = `gatehouse-test:${randomBytes(6).toString('hex')}:`;
  const client = new Redis(testRedisUrl, { lazyConnect: true });
  await client.connect();
  const flush = async () => {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  };
  return {
    url: testRedisUrl,
    prefix,
    client,
    flush,
    async close() {
      await flush();
      await client.quit();
    },
  };
}
