import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { usesRedis, type GatehouseConfig } from './config/load-config.ts';

/**
 * How many worker processes to run. Several processes need shared storage: embedded PGlite and the in-memory store
 * belong to one process, so without DATABASE_URL and REDIS_URL Gatehouse runs one.
 */
export function workerCount(config: GatehouseConfig): { count: number; reason?: string } {
  const wanted = config.cluster.workers || (config.production ? availableParallelism() : 1);
  if (wanted > 1 && (!config.databaseUrl || !usesRedis(config))) {
    return { count: 1, reason: 'several workers need DATABASE_URL and REDIS_URL; running one' };
  }
  return { count: wanted };
}

/**
 * The primary process of `node:cluster`: forks the workers (each a complete Gatehouse on the shared port, with no
 * state of its own outside Postgres and Redis), replaces a worker that dies, and on SIGTERM/SIGINT asks every
 * worker to drain and waits for them before exiting.
 */
export function superviseWorkers(count: number, log: Logger): void {
  let stopping = false;
  const fork = (): Worker => cluster.fork();
  for (let i = 0; i < count; i += 1) fork();
  log.info({ workers: count }, 'gatehouse primary started its workers');

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        log.info('all workers stopped');
        process.exit(0);
      }
      return;
    }
    log.error({ worker: worker.id, code, signal }, 'worker died; starting a new one');
    setTimeout(fork, 1000).unref();
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
