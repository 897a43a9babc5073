import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createGatehouse, type Gatehouse } from '../../src/app.ts';
import { loadConfig, type GatehouseConfig } from '../../src/config/load-config.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { createPool, type Pool } from '../../src/db/pg-pool.ts';
import { connectConfiguredRedis, connectRedis, waitForRedis } from '../../src/storage/connect-redis.ts';
import { createMemoryHotState, createRedisHotState, type HotState } from '../../src/storage/hot-state.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from './services.ts';

export const testSecret = 'test-secret-test-secret-test-secret-0123456789';
export const silentLog = pino({ level: 'silent' });

export interface TestGatehouse {
  url: string;
  config: GatehouseConfig;
  gatehouse: Gatehouse;
  pool: Pool;
  hotState: HotState;
  database: TestDatabase;
  redis: TestRedis | undefined;
  close(): Promise<void>;
}

/** Test configuration: defaults + config/test.json + overrides, for an issuer on the given port. */
export function testConfig(
  port: number,
  overrides: Record<string, unknown> = {},
  issuer = `http://127.0.0.1:${port}`,
): GatehouseConfig {
  return loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    ISSUER: issuer,
    GATEHOUSE_SECRET: testSecret,
    GATEHOUSE_CONFIG_JSON: JSON.stringify(overrides),
  });
}

/**
 * Gatehouse in this process, on a loopback port, with a database and a Redis prefix of its own (or the in-memory
 * store with `hot: 'memory'`).
 */
export async function startTestGatehouse(
  options: {
    hot?: 'redis' | 'memory';
    config?: Record<string, unknown>;
    redisCluster?: string[];
    issuer?: string;
  } = {},
): Promise<TestGatehouse> {
  const database = await createTestDatabase();
  await migrateDatabase(database.url, silentLog);
  const pool = createPool({ connectionString: database.url, max: 5 }, () => undefined);
  const redis = options.hot === 'memory' ? undefined : await createTestRedis();

  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const config = testConfig(
    port,
    { ...options.config, ...(redis ? { redisKeyPrefix: redis.prefix } : {}) },
    options.issuer,
  );

  let hotState: HotState;
  if (redis) {
    const client = options.redisCluster
      ? connectConfiguredRedis(
          { redisUrl: null, redisSentinel: null, redisCluster: { nodes: options.redisCluster } },
          () => undefined,
        )!
      : connectRedis(redis.url, () => undefined);
    await waitForRedis(client);
    hotState = createRedisHotState(client, redis.prefix, config.ttl.session);
  } else {
    hotState = createMemoryHotState(config.ttl.session);
  }
  const gatehouse = await createGatehouse(config, {
    pool,
    hotState,
    log: silentLog,
    secret: testSecret,
    internalOrigin: () => `http://127.0.0.1:${port}`,
  });
  server.on('request', gatehouse.app.callback());

  return {
    // Where this instance answers (its issuer may name a public https address behind a proxy).
    url: `http://127.0.0.1:${port}`,
    config,
    gatehouse,
    pool,
    hotState,
    database,
    redis,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await gatehouse.close();
      await hotState.close();
      await pool.end();
      await redis?.close();
      await database.drop();
    },
  };
}

/** Registers a first-party confidential web app (authorization code) on a test Gatehouse: no consent page. */
export async function registerFirstPartyWebApp(
  gh: Pick<TestGatehouse, 'gatehouse'>,
  app: { id: string; secret: string; redirectUri: string },
): Promise<void> {
  await gh.gatehouse.clients.register({
    id: app.id,
    secret: app.secret,
    redirectUris: [app.redirectUri],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code'],
    public: false,
    firstParty: true,
    roles: [],
  });
}

/** A throttle policy for tests: `max` attempts within 10 minutes with no waits, then a 10-minute lock. */
export const testLimit = (max: number) => ({
  maxFailures: max,
  freeFailures: max,
  windowSeconds: 600,
  lockSeconds: 600,
  maxDelaySeconds: 1,
});
