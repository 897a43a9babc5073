import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCleanupStack } from '../cleanup-stack.ts';
import { serverNodeOptions } from '../server-node-options.ts';
import { noCpuPinning } from '../cpu-pinning.ts';
import type { Fixtures } from '../fixtures.ts';
import {
  createBenchDatabase,
  createRedisPrefix,
  deleteRedisPrefix,
  freePort,
  redisUrl,
  waitForHttp,
} from '../services.ts';
import type { RunningTarget, TargetContext, TargetDefinition, TargetName } from './target.ts';

const mainScript = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

type Cli = (...args: string[]) => Promise<void>;

/** Registers the fixtures the way an operator would, through the CLI (which reaches the running server's data). */
async function provision(cli: Cli, { api, serviceClient, webClient, account }: Fixtures): Promise<void> {
  await cli('role', 'create', api.role, '--permission', api.permission);
  await cli(
    'api',
    'create',
    '--identifier',
    api.identifier,
    '--permission',
    api.permission,
    '--format',
    'jwt',
  );
  // The service client holds the role, so its JWT access tokens carry roles and permissions as they would in use.
  await cli(
    ...['client', 'create', '--id', serviceClient.id, '--secret', serviceClient.secret],
    ...['--scope', serviceClient.scope, '--grant-type', 'client_credentials', '--role', api.role],
  );
  await cli(
    ...['client', 'create', '--id', webClient.id, '--secret', webClient.secret],
    ...['--redirect-uri', webClient.redirectUri, '--scope', webClient.scope, '--first-party'],
    ...['--grant-type', 'authorization_code', '--grant-type', 'refresh_token'],
  );
  await cli(
    ...['user', 'create', '--email', account.email, '--password', account.password],
    ...['--name', account.name, '--role', api.role],
  );
}

/**
 * `gatehouse serve` as users run it. `real`: production mode on a fresh PostgreSQL database and a Redis key prefix
 * of its own, migrated first with `gatehouse migrate` (production does not migrate by itself). `embedded`: the
 * first-run defaults, PGlite and the in-memory store in a temporary data directory (production refuses those, so
 * this one runs without NODE_ENV).
 */
export function gatehouseTarget(mode: 'real' | 'embedded'): TargetDefinition {
  const name: TargetName = mode === 'real' ? 'gatehouse-real' : 'gatehouse-embedded';
  return {
    name,
    description:
      mode === 'real'
        ? 'node src/main.ts serve, NODE_ENV=production, PostgreSQL + Redis'
        : 'node src/main.ts serve, embedded PGlite + in-memory store',
    async start(context: TargetContext, { accessTokenAlg, workers, pinned }): Promise<RunningTarget> {
      const { processes, pinning, fixtures } = context;
      const own = createCleanupStack(context.log);
      context.cleanup.defer(name, async () => void (await own.run()));
      try {
        const port = await freePort();
        const origin = `http://127.0.0.1:${port}`;
        const config: Record<string, unknown> = {
          logLevel: 'warn',
          keys: { accessTokenAlg },
          ...(workers ? { cluster: { workers } } : {}),
        };
        let storage: RunningTarget['storage'];
        const env: NodeJS.ProcessEnv = {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          PORT: String(port),
          ISSUER: origin,
          GATEHOUSE_SECRET: randomBytes(36).toString('base64url'),
        };
        if (mode === 'real') {
          const database = await createBenchDatabase();
          own.defer(`drop database ${database.name}`, database.drop);
          const prefix = createRedisPrefix(name);
          own.defer(`delete Redis keys ${prefix}*`, () => deleteRedisPrefix(prefix));
          Object.assign(env, { NODE_ENV: 'production', DATABASE_URL: database.url, REDIS_URL: redisUrl });
          config.redisKeyPrefix = prefix;
          storage = { databaseUrl: database.url, redisPrefix: prefix };
        } else {
          const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
          own.defer(`remove ${dataDir}`, () => rmSync(dataDir, { recursive: true, force: true }));
          Object.assign(config, { dataDir, seedDemo: false });
        }
        env.GATEHOUSE_CONFIG_JSON = JSON.stringify(config);

        const cli: Cli = async (...args) => {
          const { code, stderr } = await processes.run(process.execPath, [mainScript, ...args, '--json'], {
            env,
          });
          if (code !== 0)
            throw new Error(`gatehouse ${args.slice(0, 2).join(' ')} exited with ${code}: ${stderr}`);
        };
        if (mode === 'real') await cli('migrate');

        const { command, args } = (pinned === false ? noCpuPinning : pinning).wrap(
          'server',
          process.execPath,
          [mainScript, 'serve'],
        );
        // BENCH_CPU_PROF_DIR, BENCH_LOOP_STATS_DIR: diagnostics of the server (server-node-options.ts).
        const server = processes.start(name, command, args, { ...env, ...serverNodeOptions() });
        own.defer(`stop ${name}`, () => server.stop());
        await waitForHttp(`${origin}/healthz`, server);
        await provision(cli, fixtures);
        return {
          name,
          origin,
          checksPasswords: true,
          ...(storage ? { storage } : {}),
          stop: async () => void (await own.run()),
        };
      } catch (error) {
        await own.run();
        throw new Error(`${name} did not start: ${(error as Error).message}`, { cause: error });
      }
    },
  };
}
