import type { Redis, Cluster } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { grantableModels, retentionAfterExpirySeconds } from './model-names.ts';

export type RedisClient = Redis | Cluster;

export interface RedisAdapterOptions {
  redis: RedisClient;
  /** Prefix of every key, so deployments (and test files) can share one Redis. */
  prefix: string;
  /** TTL for the rare model oidc-provider saves without an expiry, so that every key expires. */
  fallbackTtlSeconds: number;
  /** Seconds a record is kept past its expiry (see retentionAfterExpirySeconds). */
  retention?: (model: string) => number;
}

// Sets the `consumed` field only if the record still exists (HSET alone would resurrect an expired key without a
// TTL) and only once (the first consumption time is what reuse detection needs).
const consumeScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])
end
return 0`;

// Replaces a record whole (a stale `consumed` field must not survive) with its TTL, atomically. A script rather
// than MULTI: ioredis sends each MULTI as a write of its own, while scripts join the auto-pipeline.
const replaceScript = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
return redis.call('EXPIRE', KEYS[1], ARGV[2])`;

// Adds a member to a grant's index; the index outlives its longest-lived member (NX sets a first TTL, GT only
// ever extends it).
const indexScript = `
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
return redis.call('EXPIRE', KEYS[1], ARGV[2], 'GT')`;

/**
 * oidc-provider adapter on Redis.
 *
 * Key design (after the old Redis adapter example of oidc-provider): one hash per model instance
 * (`payload` and `consumed` fields, so consume writes one field), a TTL on every key, a set per grant listing its
 * tokens for `revokeByGrantId`, and pointer keys for a session's `uid` and a device flow's `userCode`.
 *
 * Every key name carries a hash tag (`{...}`) around its identifier and each script touches a single key, so the
 * same code runs on Redis Cluster without CROSSSLOT errors.
 */
export function createRedisAdapter(
  model: string,
  { redis, prefix, fallbackTtlSeconds, retention = retentionAfterExpirySeconds }: RedisAdapterOptions,
): Adapter {
  const key = (id: string) => `${prefix}${model}:{${id}}`;
  // One index per model and grant, so revoking a grant in each model touches only that model's keys.
  const grantKey = (grantId: string) => `${prefix}${model}:grant:{${grantId}}`;
  const uidKey = (uid: string) => `${prefix}uid:{${uid}}`;
  const userCodeKey = (userCode: string) => `${prefix}userCode:{${userCode}}`;

  async function find(id: string): Promise<AdapterPayload | undefined> {
    const stored = await redis.hgetall(key(id));
    if (!stored.payload) return undefined;
    const payload = JSON.parse(stored.payload) as AdapterPayload;
    if (stored.consumed) payload.consumed = Number(stored.consumed);
    return payload;
  }

  async function findByPointer(pointer: string): Promise<AdapterPayload | undefined> {
    const id = await redis.get(pointer);
    return id ? find(id) : undefined;
  }

  return {
    async upsert(id, payload, expiresIn) {
      const ttl = Math.max(1, Math.ceil(expiresIn ?? fallbackTtlSeconds)) + retention(model);
      const writes: Promise<unknown>[] = [];
      if (grantableModels.has(model) && payload.grantId)
        writes.push(redis.eval(indexScript, 1, grantKey(payload.grantId), key(id), ttl));
      writes.push(redis.eval(replaceScript, 1, key(id), JSON.stringify(payload), ttl));
      if (payload.uid) writes.push(redis.set(uidKey(payload.uid), id, 'EX', ttl));
      if (payload.userCode) writes.push(redis.set(userCodeKey(payload.userCode), id, 'EX', ttl));
      await Promise.all(writes);
    },

    find,
    findByUid: (uid) => findByPointer(uidKey(uid)),
    findByUserCode: (userCode) => findByPointer(userCodeKey(userCode)),

    async consume(id) {
      await redis.eval(consumeScript, 1, key(id), Math.floor(Date.now() / 1000));
    },

    async destroy(id) {
      await redis.del(key(id));
    },

    async revokeByGrantId(grantId) {
      const index = grantKey(grantId);
      const members = await redis.smembers(index);
      // One DEL per key: on Redis Cluster the members live in different slots.
      await Promise.all([...members.map((member) => redis.del(member)), redis.del(index)]);
    },
  };
}
