import type { Command } from 'commander';
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { createGatehouse } from '../app.ts';
import type { GatehouseConfig } from '../config/load-config.ts';
import { resolveSecret } from '../config/resolve-secret.ts';
import { openDatabase } from '../db/open-database.ts';
import {
  createAdminBootstrap,
  readBootstrapAdmin,
  type BootstrapAdmin,
} from '../libraries/bootstrap-admin.ts';
import { demoAccount, demoClient, seedDemo } from '../libraries/demo-seed.ts';
import { createPasswordPolicy, loadCommonPasswords } from '../libraries/password-policy.ts';
import { metricsAccess } from '../http-app.ts';
import { internalOriginFor, listen } from '../server.ts';
import { superviseWorkers, workerCount } from '../cluster-supervisor.ts';
import { connectConfiguredRedis, waitForRedis } from '../storage/connect-redis.ts';
import { createMemoryHotState, createRedisHotState } from '../storage/hot-state.ts';
import { createRoleHolderQueries } from '../queries/role-holder-queries.ts';
import { chooseLogFormat, createServerLog } from './server-log.ts';

export async function serve(config: GatehouseConfig): Promise<void> {
  const { log, flush } = createServerLog({
    level: config.logLevel,
    format: chooseLogFormat({
      setting: config.logFormat,
      production: config.production,
      stdoutIsTty: process.stdout.isTTY === true,
    }),
  });
  process.once('exit', flush);
  // Read and checked before any worker starts: a bad password file stops start-up instead of a worker's.
  const bootstrapAdmin = await readBootstrapAdmin(
    config.bootstrapAdmin,
    createPasswordPolicy(config.passwords, loadCommonPasswords()),
  );
  const workers = workerCount(config);
  if (workers.reason && config.cluster.workers > 1) log.warn(workers.reason);
  if (workers.count > 1 && cluster.isPrimary) return superviseWorkers(workers.count, log);
  return serveProcess(
    config,
    log.child(cluster.isWorker ? { worker: cluster.worker!.id } : {}),
    bootstrapAdmin,
  );
}

/** One Gatehouse process: the only one, or a worker of the cluster. */
async function serveProcess(
  config: GatehouseConfig,
  log: Logger,
  bootstrapAdmin: BootstrapAdmin | undefined,
): Promise<void> {
  // In a cluster, the first worker seeds and prints where to go; the others just serve.
  const leader = !cluster.isWorker || cluster.worker!.id === 1;
  const { secret, generated } = resolveSecret(config);
  if (generated)
    log.warn({ dataDir: config.dataDir }, 'GATEHOUSE_SECRET is not set: generated a development secret');

  const database = await openDatabase(config, log, { migrate: !config.production });
  if (database.embedded) {
    log.warn(
      { dataDir: config.dataDir },
      'EMBEDDED POSTGRES (PGlite): for development only; set DATABASE_URL in production',
    );
  }
  const redis = connectConfiguredRedis(config, (error) =>
    log.warn({ err: { message: error.message } }, 'redis connection error'),
  );
  const hotState = redis
    ? createRedisHotState(redis, config.redisKeyPrefix, config.ttl.session)
    : createMemoryHotState(config.ttl.session);
  if (hotState.redis) await waitForRedis(hotState.redis);
  else
    log.warn('IN-MEMORY STORE: sessions and tokens live in this process only; set REDIS_URL in production');

  let port = config.port;
  const gatehouse = await createGatehouse(config, {
    pool: database.pool,
    hotState,
    log,
    secret,
    internalOrigin: () => internalOriginFor(config.host, port),
  });
  if (leader && bootstrapAdmin) {
    const created = await createAdminBootstrap({
      accounts: gatehouse.accounts,
      roleHolders: createRoleHolderQueries(database.pool),
      audit: gatehouse.audit,
    }).ensure(bootstrapAdmin);
    if (created)
      log.info({ email: created.email }, 'created the first administrator from the bootstrap variables');
    else log.info('an administrator exists: the bootstrap variables changed nothing');
  }
  // The demo password is in the README: its account (an admin) only ever lives in an embedded database, which
  // serves this machine alone. A database of one's own starts empty (see bootstrap-admin.ts for the first admin).
  const showDemo = leader && !config.production && config.seedDemo && config.databaseUrl === null;
  if (showDemo && (await seedDemo(gatehouse)))
    log.info({ email: demoAccount.email }, 'seeded the demo user and client');
  const demoPresent = showDemo && (await gatehouse.accounts.findByEmail(demoAccount.email)) !== undefined;

  const running = await listen(gatehouse.app, config.port, config.host ?? undefined);
  port = running.port;
  log.info(
    {
      issuer: config.issuer,
      host: running.host,
      port,
      storage: { postgres: database.embedded ? 'embedded' : 'external', hot: hotState.kind },
    },
    'gatehouse listening',
  );
  if (leader && metricsAccess(config) === 'off')
    log.info(
      'metrics are not served in production without a token: set GATEHOUSE_METRICS_TOKEN (config metrics.token, ' +
        'at least 32 characters) and scrape GET /metrics with Authorization: Bearer <token>',
    );
  if (leader)
    process.stdout.write(
      [
        '',
        `  Gatehouse is running at ${config.issuer}`,
        `  Account page:  ${config.issuer}/account`,
        `  Admin console: ${config.issuer}/admin`,
        ...(demoPresent
          ? [
              `  Demo sign-in:  ${demoAccount.email} / ${demoAccount.password}`,
              `  Demo client:   ${demoClient.id} / ${demoClient.secret} (redirect ${demoClient.redirectUri})`,
            ]
          : []),
        '',
      ].join('\n') + '\n',
    );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining requests in flight');
    await running.drain(config.http.shutdownGraceMs);
    await gatehouse.close();
    await hotState.close();
    await database.close();
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

export function registerServeCommand(program: Command, config: () => GatehouseConfig): void {
  program
    .command('serve')
    .description('start the Gatehouse server')
    .action(async () => {
      await serve(config());
      // Runs until a signal stops it (the handlers exit the process).
      await new Promise<never>(() => undefined);
    });
}
