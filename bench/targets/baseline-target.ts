import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCleanupStack } from '../cleanup-stack.ts';
import { serverNodeOptions } from '../server-node-options.ts';
import { createRedisPrefix, deleteRedisPrefix, freePort, redisUrl, waitForHttp } from '../services.ts';
import type { BareProviderSettings } from './bare-provider-settings.ts';
import type { RunningTarget, TargetContext, TargetDefinition, TargetName } from './target.ts';

const bareProviderScript = fileURLToPath(new URL('./bare-provider.ts', import.meta.url));

/** The bare oidc-provider (bench/targets/bare-provider.ts) in its own process, in memory or on Redis. */
export function baselineTarget(storage: 'memory' | 'redis'): TargetDefinition {
  const name: TargetName = storage === 'memory' ? 'baseline' : 'baseline-redis';
  return {
    name,
    description:
      storage === 'memory'
        ? "bare oidc-provider, Gatehouse's in-memory store"
        : "bare oidc-provider, Gatehouse's Redis adapter",
    async start(context: TargetContext, { accessTokenAlg }): Promise<RunningTarget> {
      const own = createCleanupStack(context.log);
      context.cleanup.defer(name, async () => void (await own.run()));
      try {
        const port = await freePort();
        const origin = `http://127.0.0.1:${port}`;
        const directory = mkdtempSync(join(tmpdir(), 'gatehouse-bench-baseline-'));
        own.defer(`remove ${directory}`, () => rmSync(directory, { recursive: true, force: true }));
        const prefix = storage === 'redis' ? createRedisPrefix(name) : undefined;
        if (prefix) own.defer(`delete Redis keys ${prefix}*`, () => deleteRedisPrefix(prefix));

        const settings: BareProviderSettings = {
          issuer: origin,
          port,
          keys: context.baselineKeys,
          algorithms: context.defaults.keys.algorithms,
          accessTokenAlg,
          ttl: context.defaults.ttl,
          fixtures: context.fixtures,
          cookieKey: randomBytes(32).toString('base64url'),
          ...(prefix ? { redis: { url: redisUrl, prefix } } : {}),
        };
        const settingsPath = join(directory, 'settings.json');
        // Holds client secrets and private keys: readable by this user only.
        writeFileSync(settingsPath, JSON.stringify(settings), { mode: 0o600 });

        const { command, args } = context.pinning.wrap('server', process.execPath, [
          bareProviderScript,
          settingsPath,
        ]);
        const server = context.processes.start(name, command, args, {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ...serverNodeOptions(),
        });
        own.defer(`stop ${name}`, () => server.stop());
        await waitForHttp(`${origin}/.well-known/openid-configuration`, server);
        return { name, origin, checksPasswords: false, stop: async () => void (await own.run()) };
      } catch (error) {
        await own.run();
        throw new Error(`${name} did not start: ${(error as Error).message}`, { cause: error });
      }
    },
  };
}
