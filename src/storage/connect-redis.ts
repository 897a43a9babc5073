import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { GatehouseConfig } from '../config/load-config.ts';
import type { RedisClient } from './redis-adapter.ts';

// Commands fail fast while Redis is away (no offline queue, one retry) so requests answer 503 instead of hanging,
// and the client keeps reconnecting in the background so service resumes by itself. Auto-pipelining batches the
// commands of concurrent requests into one round trip.
const resilience: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 3000,
  commandTimeout: 3000,
  enableAutoPipelining: true,
  retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
};

const hostPort = (value: string) => {
  const [host, port] = value.split(':');
  return { host: host!, port: Number(port) };
};

/** A Redis client for one URL (a database index in it, `redis://host:6379/15`, is honoured). */
export function connectRedis(url: string, onError: (error: Error) => void): Redis {
  const redis = new Redis(url, resilience);
  redis.on('error', onError);
  return redis;
}

/** The Redis the configuration names: REDIS_URL, a Redis Cluster, or a master found through Sentinel. */
export function connectConfiguredRedis(
  config: Pick<GatehouseConfig, 'redisUrl' | 'redisCluster' | 'redisSentinel'>,
  onError: (error: Error) => void,
): RedisClient | undefined {
  if (config.redisCluster) {
    const cluster = new Cluster(config.redisCluster.nodes.map(hostPort), {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2000),
      redisOptions: {
        ...resilience,
        lazyConnect: false,
        ...(config.redisCluster.password ? { password: config.redisCluster.password } : {}),
      },
    });
    cluster.on('error', onError);
    return cluster;
  }
  if (config.redisSentinel) {
    const { name, sentinels, password, db } = config.redisSentinel;
    const redis = new Redis({
      ...resilience,
      name,
      sentinels: sentinels.map(hostPort),
      ...(password ? { password } : {}),
      ...(db ? { db } : {}),
    });
    redis.on('error', onError);
    return redis;
  }
  return config.redisUrl ? connectRedis(config.redisUrl, onError) : undefined;
}

/** Waits until Redis answers, or throws after `timeoutMs`. */
export async function waitForRedis(redis: RedisClient, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Not awaited: a Cluster's connect() can wait for good while its nodes agree on slots; the pings below decide.
  if (redis.status === 'wait') void redis.connect().catch(() => undefined);
  for (;;) {
    try {
      await redis.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
