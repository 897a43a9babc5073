import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { RedisClient } from '../storage/redis-adapter.ts';
import { TooManyAttempts } from '../errors/too-many-attempts.ts';

export interface ThrottlePolicy {
  /** Failures within `windowSeconds` that lock the key. */
  maxFailures: number;
  windowSeconds: number;
  lockSeconds: number;
  /** Failures allowed before delays start; each later failure doubles the wait (1 s, 2 s, 4 s... capped). */
  freeFailures: number;
  maxDelaySeconds: number;
}

/**
 * Guessing protection for credentials (passwords, second-factor codes, client secrets): failures are counted per
 * key in Redis (shared by every Gatehouse process) with rate-limiter-flexible; after a few, each further failure
 * imposes a growing delay, and too many lock the key for a while. Success clears the count.
 */
export interface AttemptThrottle {
  /**
   * Throws TooManyAttempts if any key is locked or still waiting out a delay.
   * @returns true when no failure is on record for any key (so a success has nothing to clear)
   */
  check(keys: readonly string[]): Promise<boolean>;
  /** Counts a failure for every key; returns the keys this failure locked. */
  fail(keys: readonly string[]): Promise<string[]>;
  succeed(keys: readonly string[]): Promise<void>;
  /** Forgets failures and locks of a key (an administrator's unlock). */
  reset(key: string): Promise<void>;
}

function isBlocked(limiter: RateLimiterAbstract, res: RateLimiterRes | null): res is RateLimiterRes {
  return res !== null && res.consumedPoints > limiter.points && res.msBeforeNext > 0;
}

export function createAttemptThrottle(
  name: string,
  policy: ThrottlePolicy,
  store: { redis?: RedisClient | undefined; prefix: string },
  options: {
    /**
     * How long a clean record seen in Redis is trusted in this process without asking again (0: always ask).
     * Any failure through this process forgets it at once, so a failure made elsewhere buys an attacker at most
     * one more attempt per process; the count itself stays exact in Redis.
     */
    trustCleanForMs?: number;
  } = {},
): AttemptThrottle {
  const trustCleanForMs = options.trustCleanForMs ?? 0;
  const seenClean = new Map<string, number>();
  const maxSeenClean = 10_000;
  const make = (
    suffix: string,
    points: number,
    duration: number,
    blockDuration: number,
  ): RateLimiterAbstract => {
    const options = {
      keyPrefix: `${store.prefix}throttle:${name}:${suffix}`,
      points,
      duration,
      blockDuration,
    };
    return store.redis
      ? new RateLimiterRedis({ ...options, storeClient: store.redis })
      : new RateLimiterMemory(options);
  };
  // rate-limiter-flexible refuses a consume once more than `points` were used: the maxFailures-th failure locks.
  const failures = make('failures', policy.maxFailures - 1, policy.windowSeconds, policy.lockSeconds);
  const delays = make('delay', 1, policy.maxDelaySeconds, 0);

  return {
    async check(keys) {
      if (store.redis) {
        const now = Date.now();
        if (trustCleanForMs > 0 && keys.every((key) => (seenClean.get(key) ?? 0) > now)) return true;
        // The common case, nothing on record, in one round trip: plain GETs are auto-pipelined into one write
        // (also across cluster slots), where each limiter's get() would be a MULTI of its own.
        const redis = store.redis;
        const recorded = await Promise.all(
          keys.flatMap((key) => [redis.get(failures.getKey(key)), redis.get(delays.getKey(key))]),
        );
        if (recorded.every((value) => value === null)) {
          if (trustCleanForMs > 0) {
            if (seenClean.size >= maxSeenClean) seenClean.clear();
            for (const key of keys) seenClean.set(key, now + trustCleanForMs);
          }
          return true;
        }
      }
      let clean = true;
      for (const key of keys) {
        const locked = await failures.get(key);
        if (locked) clean = false;
        if (isBlocked(failures, locked))
          throw new TooManyAttempts(Math.ceil(locked.msBeforeNext / 1000), true);
        const waiting = await delays.get(key);
        if (waiting) clean = false;
        if (isBlocked(delays, waiting))
          throw new TooManyAttempts(Math.ceil(waiting.msBeforeNext / 1000), false);
      }
      return clean;
    },

    async fail(keys) {
      for (const key of keys) seenClean.delete(key);
      const lockedNow: string[] = [];
      for (const key of keys) {
        let consumed: number;
        try {
          consumed = (await failures.consume(key)).consumedPoints;
        } catch (rejection) {
          if (!(rejection instanceof RateLimiterRes)) throw rejection;
          // consume() rejects once the key is over its limit; the first rejection is the moment it locked.
          if (rejection.consumedPoints === policy.maxFailures) lockedNow.push(key);
          continue;
        }
        if (consumed > policy.freeFailures) {
          await delays.block(
            key,
            Math.min(2 ** (consumed - policy.freeFailures - 1), policy.maxDelaySeconds),
          );
        }
      }
      return lockedNow;
    },

    async succeed(keys) {
      await Promise.all(keys.flatMap((key) => [failures.delete(key), delays.delete(key)]));
    },

    async reset(key) {
      await Promise.all([failures.delete(key), delays.delete(key)]);
    },
  };
}
