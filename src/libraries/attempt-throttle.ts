import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../storage/redis-adapter.ts';
import { TooManyAttempts } from '../errors/too-many-attempts.ts';

export interface ThrottlePolicy {
  /** Failures within `windowSeconds` that lock the key. */
  maxFailures: number;
  windowSeconds: number;
  lockSeconds: number;
  /** Attempts allowed before delays start; each later one doubles the wait (1 s, 2 s, 4 s... capped). */
  freeFailures: number;
  maxDelaySeconds: number;
}

/** One guess admitted by the throttle, counted until it is settled. Settling twice does nothing. */
export interface Attempt {
  /** True when no key had anything on record (a success then has nothing to forget). */
  readonly clean: boolean;
  /** The guess was wrong: a failure on every key. Returns the keys this failure locked. */
  failed(): Promise<string[]>;
  /** The guess was right: the attempt is given back; `forget` also clears the keys' past failures. */
  succeeded(options?: { forget?: boolean }): Promise<void>;
}

/**
 * Guessing protection for credentials (passwords, second-factor and recovery codes, client secrets), shared by
 * every Gatehouse process through Redis.
 *
 * The check and the count are one step: `reserve` takes an attempt on each key atomically (one Lua script per key)
 * before the guess is evaluated, and refuses when the failures on record plus the attempts still being evaluated
 * reach `maxFailures`. Guesses sent at once therefore cannot all pass a check that only counts finished failures:
 * however they arrive, no more than `maxFailures` are evaluated in a window, which is the lock's promise. Successes
 * give their attempt back, so people signing in at once (many users behind one address) are not slowed down.
 * Failures past `freeFailures` start a growing delay, as before. An attempt never settled (its request crashed)
 * stops counting after `inFlightMs`.
 */
export interface AttemptThrottle {
  /** Admits one guess on every key, or throws TooManyAttempts (locked, waiting out a delay, or every attempt taken). */
  reserve(keys: readonly string[]): Promise<Attempt>;
  /** Counts a failure for a guess no attempt was reserved for; returns the keys it locked. */
  fail(keys: readonly string[]): Promise<string[]>;
  /** Whether the key is locked now (the audit of a lock a known device was spared). */
  isLocked(key: string): Promise<boolean>;
  /** Forgets failures and locks of a key (an administrator's unlock). */
  reset(key: string): Promise<void>;
}

/** How long an admitted attempt counts if it is never settled (unless told otherwise). */
const defaultInFlightMs = 30_000;

type Outcome = 'fail' | 'succeed' | 'forget';

/** The store of one throttle: Redis when Gatehouse has it (atomic scripts), else this process's memory. */
interface ThrottleStore {
  /** [0, attempts on record before this one] admitted; [1, ms] locked; [2, ms] waiting; [3, ms] all taken. */
  reserve(key: string, id: string, now: number): Promise<number[]>;
  /** Returns 1 when this settlement locked the key. */
  settle(key: string, id: string, outcome: Outcome): Promise<number>;
  isLocked(key: string): Promise<boolean>;
  reset(key: string): Promise<void>;
}

// KEYS: failures (counter, lives for the window), attempts in flight (sorted set by expiry), delay, lock.
// ARGV: now, attempt id, in-flight ms, max failures.
const reserveScript = `
local lockMs = redis.call('PTTL', KEYS[4])
if lockMs > 0 then return {1, lockMs} end
local delayMs = redis.call('PTTL', KEYS[3])
if delayMs > 0 then return {2, delayMs} end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
local inFlight = redis.call('ZCARD', KEYS[2])
if failures + inFlight >= tonumber(ARGV[4]) then return {3, 1000} end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
return {0, failures + inFlight}
`;

// KEYS as above. ARGV: attempt id, outcome, max failures, lock ms, window ms, free failures, max delay ms.
const settleScript = `
redis.call('ZREM', KEYS[2], ARGV[1])
local outcome = ARGV[2]
if outcome == 'forget' then
  redis.call('DEL', KEYS[1], KEYS[3])
  return 0
end
if outcome == 'succeed' then return 0 end
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5])) end
if failures >= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[4], '1', 'PX', tonumber(ARGV[4]))
  redis.call('DEL', KEYS[1], KEYS[3])
  return 1
end
local free = tonumber(ARGV[6])
if failures > free then
  redis.call('SET', KEYS[3], '1', 'PX', math.floor(math.min(2 ^ (failures - free - 1) * 1000, tonumber(ARGV[7]))))
end
return 0
`;

const delayMs = (failures: number, policy: ThrottlePolicy) =>
  Math.min(2 ** (failures - policy.freeFailures - 1) * 1000, policy.maxDelaySeconds * 1000);

function redisStore(
  redis: RedisClient,
  keyPrefix: string,
  policy: ThrottlePolicy,
  inFlightMs: number,
): ThrottleStore {
  // The four keys of one throttle key share a hash tag, so a cluster keeps them in one slot for the scripts.
  const keysOf = (key: string) => {
    const base = `${keyPrefix}{${key}}`;
    return [`${base}:failures`, `${base}:attempts`, `${base}:delay`, `${base}:lock`];
  };
  return {
    async reserve(key, id, now) {
      return (await redis.eval(
        reserveScript,
        4,
        ...keysOf(key),
        now,
        id,
        inFlightMs,
        policy.maxFailures,
      )) as number[];
    },
    async settle(key, id, outcome) {
      return (await redis.eval(
        settleScript,
        4,
        ...keysOf(key),
        id,
        outcome,
        policy.maxFailures,
        policy.lockSeconds * 1000,
        policy.windowSeconds * 1000,
        policy.freeFailures,
        policy.maxDelaySeconds * 1000,
      )) as number;
    },
    async isLocked(key) {
      return (await redis.pttl(keysOf(key)[3]!)) > 0;
    },
    async reset(key) {
      const [failures, attempts, delay, lock] = keysOf(key);
      await redis.del(failures!, attempts!, delay!, lock!);
    },
  };
}

/** The same rules as the scripts above, for one process without Redis (atomic because nothing awaits inside). */
function memoryStore(policy: ThrottlePolicy, inFlightMs: number): ThrottleStore {
  interface Entry {
    failures: number;
    failuresUntil: number;
    attempts: Map<string, number>;
    delayUntil: number;
    lockUntil: number;
  }
  const entries = new Map<string, Entry>();
  const entryOf = (key: string, now: number): Entry => {
    let entry = entries.get(key);
    if (!entry) {
      entry = { failures: 0, failuresUntil: 0, attempts: new Map(), delayUntil: 0, lockUntil: 0 };
      entries.set(key, entry);
    }
    if (entry.failuresUntil <= now) entry.failures = 0;
    for (const [id, until] of entry.attempts) if (until <= now) entry.attempts.delete(id);
    return entry;
  };
  return {
    async reserve(key, id, now) {
      const entry = entryOf(key, now);
      if (entry.lockUntil > now) return [1, entry.lockUntil - now];
      if (entry.delayUntil > now) return [2, entry.delayUntil - now];
      const before = entry.failures + entry.attempts.size;
      if (before >= policy.maxFailures) return [3, 1000];
      entry.attempts.set(id, now + inFlightMs);
      return [0, before];
    },
    async settle(key, id, outcome) {
      const now = Date.now();
      const entry = entryOf(key, now);
      entry.attempts.delete(id);
      if (outcome === 'forget') {
        entry.failures = 0;
        entry.delayUntil = 0;
        return 0;
      }
      if (outcome === 'succeed') return 0;
      if (entry.failures === 0) entry.failuresUntil = now + policy.windowSeconds * 1000;
      entry.failures += 1;
      if (entry.failures >= policy.maxFailures) {
        entry.lockUntil = now + policy.lockSeconds * 1000;
        entry.failures = 0;
        entry.delayUntil = 0;
        return 1;
      }
      if (entry.failures > policy.freeFailures) entry.delayUntil = now + delayMs(entry.failures, policy);
      return 0;
    },
    async isLocked(key) {
      return (entries.get(key)?.lockUntil ?? 0) > Date.now();
    },
    async reset(key) {
      entries.delete(key);
    },
  };
}

function refusal([kind, ms]: number[]): TooManyAttempts {
  return new TooManyAttempts(Math.max(1, Math.ceil(ms! / 1000)), kind === 1);
}

export function createAttemptThrottle(
  name: string,
  policy: ThrottlePolicy,
  storage: { redis?: RedisClient | undefined; prefix: string },
  options: {
    /**
     * How long a clean record seen in Redis is trusted in this process without asking again (0: always ask).
     * While it is trusted, at most `maxFailures` guesses per key are evaluated at once in this process without a
     * reservation in Redis (their failures are still counted there), so a busy client's concurrent token requests
     * cost no Redis round trip; any failure through this process forgets the trust at once. A burst of guesses
     * therefore gets at most `maxFailures` more checked per process than the lock allows.
     */
    trustCleanForMs?: number;
    /** How long an admitted attempt counts if it is never settled (its request crashed). */
    inFlightMs?: number;
  } = {},
): AttemptThrottle {
  const inFlightMs = options.inFlightMs ?? defaultInFlightMs;
  const store = storage.redis
    ? redisStore(storage.redis, `${storage.prefix}throttle:${name}:`, policy, inFlightMs)
    : memoryStore(policy, inFlightMs);
  const trustCleanForMs = storage.redis ? (options.trustCleanForMs ?? 0) : 0;
  const localAllowance = Math.max(1, policy.maxFailures);
  const seenClean = new Map<string, number>();
  const localInFlight = new Map<string, number>();
  const maxSeenClean = 10_000;

  /** Counts a failure on every key (settling the attempt `id` took there, if any); returns the keys it locked. */
  const fail = async (keys: readonly string[], id = '') => {
    for (const key of keys) seenClean.delete(key);
    const locked: string[] = [];
    for (const key of keys) if ((await store.settle(key, id, 'fail')) === 1) locked.push(key);
    return locked;
  };

  /** Admits a guess on keys trusted clean without asking Redis, within this process's allowance. */
  function reserveLocally(keys: readonly string[]): Attempt | undefined {
    const now = Date.now();
    const trusted = keys.every(
      (key) => (seenClean.get(key) ?? 0) > now && (localInFlight.get(key) ?? 0) < localAllowance,
    );
    if (!trusted) return undefined;
    for (const key of keys) localInFlight.set(key, (localInFlight.get(key) ?? 0) + 1);
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      for (const key of keys) {
        const left = (localInFlight.get(key) ?? 1) - 1;
        if (left > 0) localInFlight.set(key, left);
        else localInFlight.delete(key);
      }
      return true;
    };
    return {
      clean: true,
      failed: async () => (settle() ? fail(keys) : []),
      succeeded: async () => void settle(),
    };
  }

  return {
    async reserve(keys) {
      const local = trustCleanForMs > 0 ? reserveLocally(keys) : undefined;
      if (local) return local;
      const id = randomUUID();
      const now = Date.now();
      const taken: string[] = [];
      let clean = true;
      for (const key of keys) {
        const answer = await store.reserve(key, id, now);
        if (answer[0] !== 0) {
          await Promise.all(taken.map((reserved) => store.settle(reserved, id, 'succeed')));
          throw refusal(answer);
        }
        taken.push(key);
        if (answer[1] !== 0) clean = false;
      }
      if (clean && trustCleanForMs > 0) {
        if (seenClean.size >= maxSeenClean) seenClean.clear();
        for (const key of keys) seenClean.set(key, now + trustCleanForMs);
      }
      let settled = false;
      return {
        clean,
        async failed() {
          if (settled) return [];
          settled = true;
          return fail(keys, id);
        },
        async succeeded({ forget = false } = {}) {
          if (settled) return;
          settled = true;
          await Promise.all(keys.map((key) => store.settle(key, id, forget ? 'forget' : 'succeed')));
        },
      };
    },

    fail: (keys) => fail(keys),
    isLocked: (key) => store.isLocked(key),
    reset: (key) => store.reset(key),
  };
}
