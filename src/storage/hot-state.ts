import type { Adapter } from 'oidc-provider';
import { createMemoryAdapter, createMemoryStore, type MemoryStore } from './memory-adapter.ts';
import { createRedisAdapter, type RedisClient } from './redis-adapter.ts';

/**
 * Key-value access to hot state outside oidc-provider's models: account-page sessions, TOTP replay markers,
 * federation `state`, and the like. Values are strings; every key has a TTL.
 */
export interface KeyValueStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Sets only if absent; true when this call set it (a one-time marker). */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Reads and deletes in one step, so a one-time value cannot be used twice. */
  take(key: string): Promise<string | undefined>;
  delete(key: string): Promise<void>;
}

/** Where short-lived state lives: Redis in production, process memory for a first run. */
export interface HotState {
  kind: 'redis' | 'memory';
  adapterFor(model: string): Adapter;
  keyValue: KeyValueStore;
  /** Throws when the store is unreachable (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The Redis client, for libraries that speak Redis themselves (rate limits); absent in memory mode. */
  redis?: RedisClient;
}

export function createRedisHotState(
  redis: RedisClient,
  prefix: string,
  fallbackTtlSeconds: number,
  retention?: (model: string) => number,
): HotState {
  const adapters = new Map<string, Adapter>();
  const kv = (key: string) => `${prefix}kv:{${key}}`;
  return {
    kind: 'redis',
    redis,
    adapterFor(model) {
      let adapter = adapters.get(model);
      if (!adapter) {
        adapter = createRedisAdapter(model, {
          redis,
          prefix,
          fallbackTtlSeconds,
          ...(retention ? { retention } : {}),
        });
        adapters.set(model, adapter);
      }
      return adapter;
    },
    keyValue: {
      async get(key) {
        return (await redis.get(kv(key))) ?? undefined;
      },
      async set(key, value, ttlSeconds) {
        await redis.set(kv(key), value, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
      },
      async setIfAbsent(key, value, ttlSeconds) {
        return (await redis.set(kv(key), value, 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX')) === 'OK';
      },
      async take(key) {
        return (await redis.getdel(kv(key))) ?? undefined;
      },
      async delete(key) {
        await redis.del(kv(key));
      },
    },
    async ping() {
      await redis.ping();
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

export function createMemoryHotState(
  fallbackTtlSeconds: number,
  retention?: (model: string) => number,
): HotState & { store: MemoryStore } {
  const store = createMemoryStore();
  const values = new Map<string, { value: string; expiresAt: number }>();
  const adapters = new Map<string, Adapter>();
  const sweeper = setInterval(() => {
    const now = Date.now();
    store.sweep(now);
    for (const [key, entry] of values) if (entry.expiresAt <= now) values.delete(key);
  }, 30_000);
  sweeper.unref();

  const live = (key: string) => {
    const entry = values.get(key);
    if (entry && entry.expiresAt > Date.now()) return entry;
    values.delete(key);
    return undefined;
  };
  const expiry = (ttlSeconds: number) => Date.now() + Math.max(1, Math.ceil(ttlSeconds)) * 1000;

  return {
    kind: 'memory',
    store,
    adapterFor(model) {
      let adapter = adapters.get(model);
      if (!adapter) {
        adapter = createMemoryAdapter(model, store, {
          fallbackTtlSeconds,
          ...(retention ? { retention } : {}),
        });
        adapters.set(model, adapter);
      }
      return adapter;
    },
    keyValue: {
      async get(key) {
        return live(key)?.value;
      },
      async set(key, value, ttlSeconds) {
        values.set(key, { value, expiresAt: expiry(ttlSeconds) });
      },
      async setIfAbsent(key, value, ttlSeconds) {
        if (live(key)) return false;
        values.set(key, { value, expiresAt: expiry(ttlSeconds) });
        return true;
      },
      async take(key) {
        const entry = live(key);
        values.delete(key);
        return entry?.value;
      },
      async delete(key) {
        values.delete(key);
      },
    },
    async ping() {},
    async close() {
      clearInterval(sweeper);
    },
  };
}
