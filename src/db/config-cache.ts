import type { Logger } from 'pino';

/** The areas of the cache, named as in the `config_versions` table (and the notifications of migration 011). */
export const cacheAreas = ['clients', 'apis', 'rbac', 'accounts', 'idps', 'policies', 'resources'] as const;
export type CacheArea = (typeof cacheAreas)[number];

export function isCacheArea(name: string): name is CacheArea {
  return (cacheAreas as readonly string[]).includes(name);
}

/**
 * A short-lived, per-process cache of configuration read on hot paths (every token request looks up its client,
 * every JWT access token its API and the subject's roles). What is not found is never cached, so a client or role
 * created a moment ago is found at once. A write through this process forgets its area at once; a write from
 * elsewhere (the CLI, another Gatehouse) is noticed within milliseconds through the notification the version
 * trigger sends (`config-listener.ts`), or at the latest within one poll of the version table when that
 * notification is lost (listener reconnecting, embedded PGlite); every entry expires after `maxAgeMs` whatever
 * happens. Callers get their own copy of a cached value.
 */
export interface ConfigCache {
  get<T>(area: CacheArea, key: string, load: () => Promise<T | undefined>): Promise<T | undefined>;
  /**
   * Like `get`, but every caller gets the same deeply frozen value (no copy): for the hottest reads, whose callers
   * only read.
   */
  getShared<T>(area: CacheArea, key: string, load: () => Promise<T | undefined>): Promise<T | undefined>;
  invalidate(area: CacheArea): void;
  /** Forgets every area: changes may have gone unnoticed (a notification lost while reconnecting). */
  invalidateAll(): void;
  close(): void;
}

/** For short-lived processes (the CLI): every read goes to the database. */
export const noConfigCache: ConfigCache = {
  get: (_area, _key, load) => load(),
  getShared: (_area, _key, load) => load(),
  invalidate: () => undefined,
  invalidateAll: () => undefined,
  close: () => undefined,
};

export function createConfigCache(deps: {
  readVersions: () => Promise<Map<string, string>>;
  pollMs: number;
  maxAgeMs: number;
  log: Logger;
}): ConfigCache {
  const areas = new Map<CacheArea, Map<string, { at: number; value: Promise<unknown> }>>();
  // Until the versions have been read once, nothing is cached: a write from elsewhere could not be noticed.
  let versions: Map<string, string> | undefined;
  const area = (name: CacheArea) => {
    let entries = areas.get(name);
    if (!entries) areas.set(name, (entries = new Map()));
    return entries;
  };

  const poll = () =>
    deps
      .readVersions()
      .then((next) => {
        for (const [name, version] of next)
          if (!versions || versions.get(name) !== version) areas.get(name as CacheArea)?.clear();
        versions = next;
      })
      .catch((error: unknown) => {
        // Without versions nothing can be trusted for long: start over (and read straight through meanwhile).
        areas.forEach((entries) => entries.clear());
        versions = undefined;
        deps.log.debug({ err: error }, 'could not read config versions');
      });
  void poll();
  const timer = setInterval(() => void poll(), deps.pollMs);
  timer.unref();

  async function cached<T>(name: CacheArea, key: string, load: () => Promise<T | undefined>) {
    const entries = area(name);
    const entry = entries.get(key);
    if (entry && Date.now() - entry.at < deps.maxAgeMs) return (await entry.value) as T | undefined;
    const value = load().then((result) => (result == null ? result : deepFreeze(result)));
    entries.set(key, { at: Date.now(), value });
    try {
      const result = await value;
      if (result == null && entries.get(key)?.value === value) entries.delete(key);
      return result;
    } catch (error) {
      if (entries.get(key)?.value === value) entries.delete(key);
      throw error;
    }
  }

  return {
    async get(name, key, load) {
      return versions ? structuredClone(await cached(name, key, load)) : load();
    },
    async getShared(name, key, load) {
      return versions ? cached(name, key, load) : load();
    },
    invalidate: (name) => areas.get(name)?.clear(),
    invalidateAll: () => areas.forEach((entries) => entries.clear()),
    close: () => clearInterval(timer),
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Wraps a write so that, whatever its outcome, this process forgets the areas it may have changed. */
export function invalidating(cache: ConfigCache, ...names: CacheArea[]) {
  return <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await write(...args);
      } finally {
        for (const name of names) cache.invalidate(name);
      }
    };
}
