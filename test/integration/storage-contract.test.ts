import { migrateDatabase } from '../../src/db/migrate.ts';
import { createPool, type Pool } from '../../src/db/pg-pool.ts';
import { createOidcModelQueries } from '../../src/queries/oidc-model-queries.ts';
import { connectRedis, waitForRedis } from '../../src/storage/connect-redis.ts';
import { createMemoryHotState, createRedisHotState, type HotState } from '../../src/storage/hot-state.ts';
import { bitsOfOpaqueRandomness, refreshTokenIdLength } from '../../src/storage/model-names.ts';
import { createPostgresAdapter } from '../../src/storage/postgres-adapter.ts';
import {
  createTestDatabase,
  createTestRedis,
  type TestDatabase,
  type TestRedis,
} from '../support/services.ts';
import { describeStorageContract, newId, type StorageBackend } from '../support/storage-contract.ts';
import { silentLog } from '../support/test-gatehouse.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let database: TestDatabase;
let pool: Pool;
let redis: TestRedis;
let redisState: HotState;
let memoryState: HotState;

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateDatabase(database.url, silentLog);
  pool = createPool({ connectionString: database.url, max: 3 }, () => undefined);
  redis = await createTestRedis();
  const client = connectRedis(redis.url, () => undefined);
  await waitForRedis(client);
  // No retention past expiry here, so the contract can check expiry to the second.
  redisState = createRedisHotState(client, redis.prefix, 3600, () => 0);
  memoryState = createMemoryHotState(3600, () => 0);
});

afterAll(async () => {
  await redisState.close();
  await memoryState.close();
  await redis.close();
  await pool.end();
  await database.drop();
});

const backends: StorageBackend[] = [
  { name: 'memory', pointers: true, adapterFor: (model) => memoryState.adapterFor(model) },
  { name: 'redis', pointers: true, adapterFor: (model) => redisState.adapterFor(model) },
  {
    name: 'postgres',
    pointers: false,
    adapterFor: (model) =>
      createPostgresAdapter(model, {
        queries: createOidcModelQueries(pool, { prepared: true }),
        reuseGraceSeconds: 0,
      }),
  },
];

describe.each(backends)('storage contract', (backend) => describeStorageContract(backend));

describe('the Redis adapter', () => {
  it('puts a time to live on every key it writes', async () => {
    const adapter = redisState.adapterFor('AccessToken');
    const session = redisState.adapterFor('Session');
    await adapter.upsert(newId(), { grantId: newId(), kind: 'AccessToken' }, 300);
    await session.upsert(newId(), { uid: newId(), kind: 'Session' });
    const keys = await redis.client.keys(`${redis.prefix}*`);
    expect(keys.length).toBeGreaterThan(3);
    for (const key of keys) expect(await redis.client.ttl(key)).toBeGreaterThan(0);
  });

  it('keeps the keys a transaction touches in one hash slot (Redis Cluster safe)', async () => {
    const adapter = redisState.adapterFor('AccessToken');
    await adapter.upsert(newId(), { grantId: newId(), kind: 'AccessToken' }, 300);
    const keys = await redis.client.keys(`${redis.prefix}AccessToken:*`);
    for (const key of keys) expect(key).toMatch(/\{[^}]+\}$/);
  });
});

describe('records past their expiry', () => {
  it('are kept ten minutes for device codes (expired_token, RFC 8628) and seconds for the rest', async () => {
    const client = connectRedis(redis.url, () => undefined);
    await waitForRedis(client);
    const state = createRedisHotState(client, `${redis.prefix}retention:`, 3600);
    await state.adapterFor('DeviceCode').upsert('device-1', { kind: 'DeviceCode' }, 60);
    await state.adapterFor('AccessToken').upsert('token-1', { kind: 'AccessToken' }, 60);
    expect(await redis.client.ttl(`${redis.prefix}retention:DeviceCode:{device-1}`)).toBe(660);
    expect(await redis.client.ttl(`${redis.prefix}retention:AccessToken:{token-1}`)).toBe(75);
    await state.close();
  });
});

describe('the Postgres adapter for refresh tokens', () => {
  it('answers a refresh token consumed within the reuse grace as unconsumed, and as consumed after it', async () => {
    const adapter = createPostgresAdapter('RefreshToken', {
      queries: createOidcModelQueries(pool),
      reuseGraceSeconds: 2,
    });
    const id = newId();
    await adapter.upsert(id, { accountId: 'a', kind: 'RefreshToken' }, 60);
    await adapter.consume(id);
    expect((await adapter.find(id))?.consumed).toBeUndefined();
    await sleep(2100);
    expect((await adapter.find(id))?.consumed).toEqual(expect.any(Number));
  });

  it('does not ask Postgres for an id whose length no refresh token has (an access token, say)', async () => {
    const queries = createOidcModelQueries(pool);
    const asked: string[] = [];
    const adapter = createPostgresAdapter('RefreshToken', {
      queries: {
        ...queries,
        find: (model, id) => {
          asked.push(id);
          return queries.find(model, id);
        },
      },
      reuseGraceSeconds: 0,
      idLength: refreshTokenIdLength,
    });
    const refreshTokenId = 'r'.repeat(refreshTokenIdLength);
    await adapter.upsert(refreshTokenId, { accountId: 'a', kind: 'RefreshToken' }, 60);
    expect(await adapter.find(refreshTokenId)).toMatchObject({ accountId: 'a' });
    expect(await adapter.find('a'.repeat(refreshTokenIdLength + 1))).toBeUndefined();
    expect(asked).toEqual([refreshTokenId]);
  });
});

describe('opaque token lengths', () => {
  it('makes access tokens longer than refresh tokens, so a length tells them apart', () => {
    expect(Math.ceil(bitsOfOpaqueRandomness(undefined, { kind: 'RefreshToken' }) / 6)).toBe(
      refreshTokenIdLength,
    );
    for (const kind of ['AccessToken', 'ClientCredentials'])
      expect(Math.ceil(bitsOfOpaqueRandomness(undefined, { kind }) / 6)).not.toBe(refreshTokenIdLength);
  });
});
