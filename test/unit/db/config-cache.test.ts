import { jest } from '@jest/globals';
import pino from 'pino';
import { cacheAreas, createConfigCache, invalidating, isCacheArea } from '../../../src/db/config-cache.ts';

const log = pino({ level: 'silent' });

/** A cache whose version table the test controls; polls only when the test says so. */
function cacheWithVersions(initial: Record<string, string>) {
  let versions: Record<string, string> | Error = initial;
  const readVersions = jest.fn(async () => {
    if (versions instanceof Error) throw versions;
    return new Map(Object.entries(versions));
  });
  const cache = createConfigCache({ readVersions, pollMs: 1_000, maxAgeMs: 60_000, log });
  return {
    cache,
    setVersions: (next: Record<string, string> | Error) => (versions = next),
    /** Runs one poll as the timer would. */
    poll: async () => {
      jest.advanceTimersByTime(1_000);
      await Promise.resolve();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('config cache', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] }));
  afterEach(() => jest.useRealTimers());

  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('reads once, then answers from memory with a copy the caller may change', async () => {
    const { cache } = cacheWithVersions({ clients: '1' });
    await settle();
    const load = jest.fn(async () => ({ redirectUris: ['https://app.example/cb'] }));
    const first = await cache.get('clients', 'app', load);
    first!.redirectUris.push('https://evil.example/cb');
    const second = await cache.get('clients', 'app', load);
    expect(load).toHaveBeenCalledTimes(1);
    expect(second).toEqual({ redirectUris: ['https://app.example/cb'] });
    cache.close();
  });

  it('never caches what was not found, so something created a moment ago is found at once', async () => {
    const { cache } = cacheWithVersions({ clients: '1' });
    await settle();
    const load = jest
      .fn<() => Promise<string | undefined>>()
      .mockResolvedValueOnce(undefined)
      .mockResolvedValue('app');
    expect(await cache.get('clients', 'app', load)).toBeUndefined();
    expect(await cache.get('clients', 'app', load)).toBe('app');
    expect(load).toHaveBeenCalledTimes(2);
    cache.close();
  });

  it('forgets an area when its version changes elsewhere, and only that area', async () => {
    const { cache, setVersions, poll } = cacheWithVersions({ clients: '1', rbac: '1' });
    await settle();
    const clientLoad = jest.fn(async () => 'client');
    const rbacLoad = jest.fn(async () => 'roles');
    await cache.get('clients', 'app', clientLoad);
    await cache.get('rbac', 'account:1', rbacLoad);
    setVersions({ clients: '1', rbac: '2' });
    await poll();
    await cache.get('clients', 'app', clientLoad);
    await cache.get('rbac', 'account:1', rbacLoad);
    expect(clientLoad).toHaveBeenCalledTimes(1);
    expect(rbacLoad).toHaveBeenCalledTimes(2);
    cache.close();
  });

  it('reads straight through while the versions cannot be read (and recovers when they can)', async () => {
    const { cache, setVersions, poll } = cacheWithVersions({ clients: '1' });
    await settle();
    const load = jest.fn(async () => 'client');
    await cache.get('clients', 'app', load);
    setVersions(new Error('database down'));
    await poll();
    await cache.get('clients', 'app', load);
    await cache.get('clients', 'app', load);
    expect(load).toHaveBeenCalledTimes(3);
    setVersions({ clients: '1' });
    await poll();
    await cache.get('clients', 'app', load);
    await cache.get('clients', 'app', load);
    expect(load).toHaveBeenCalledTimes(4);
    cache.close();
  });

  it('expires entries after their maximum age', async () => {
    const { cache } = cacheWithVersions({ accounts: '1' });
    await settle();
    const load = jest.fn(async () => 'account');
    await cache.get('accounts', 'a', load);
    jest.setSystemTime(Date.now() + 61_000);
    await cache.get('accounts', 'a', load);
    expect(load).toHaveBeenCalledTimes(2);
    cache.close();
  });

  it('forgets an area after a write through this process, even a failed one', async () => {
    const { cache } = cacheWithVersions({ rbac: '1' });
    await settle();
    const load = jest.fn(async () => ['reader']);
    await cache.get('rbac', 'account:1', load);
    const failingWrite = invalidating(
      cache,
      'rbac',
    )(async () => {
      throw new Error('constraint');
    });
    await expect(failingWrite()).rejects.toThrow('constraint');
    await cache.get('rbac', 'account:1', load);
    expect(load).toHaveBeenCalledTimes(2);
    cache.close();
  });
  it('forgets every area at once when a notification may have been missed (the listener reconnected)', async () => {
    const { cache } = cacheWithVersions({ clients: '1', idps: '1' });
    await settle();
    const clientLoad = jest.fn(async () => 'client');
    const idpLoad = jest.fn(async () => ['github']);
    await cache.get('clients', 'app', clientLoad);
    await cache.get('idps', 'list:true', idpLoad);
    cache.invalidateAll();
    await cache.get('clients', 'app', clientLoad);
    await cache.get('idps', 'list:true', idpLoad);
    expect(clientLoad).toHaveBeenCalledTimes(2);
    expect(idpLoad).toHaveBeenCalledTimes(2);
    cache.close();
  });

  it('forgets a value still being read when its area is invalidated, so a stale read is never kept', async () => {
    const { cache } = cacheWithVersions({ idps: '1' });
    await settle();
    let finish: (value: string[]) => void = () => undefined;
    const stale = cache.get(
      'idps',
      'list:true',
      () => new Promise<string[]>((resolve) => (finish = resolve)),
    );
    cache.invalidate('idps');
    finish([]);
    expect(await stale).toEqual([]);
    const load = jest.fn(async () => ['github']);
    expect(await cache.get('idps', 'list:true', load)).toEqual(['github']);
    expect(load).toHaveBeenCalledTimes(1);
    cache.close();
  });

  it('knows its areas by the names the version trigger notifies', () => {
    expect(cacheAreas).toEqual(['clients', 'apis', 'rbac', 'accounts', 'idps', 'policies', 'resources']);
    expect(isCacheArea('idps')).toBe(true);
    expect(isCacheArea('idps; DROP TABLE')).toBe(false);
    expect(isCacheArea('toString')).toBe(false);
  });
});
