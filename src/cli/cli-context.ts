import { pino, type Logger } from 'pino';
import { createLibraries } from '../libraries/create-libraries.ts';
import type { GatehouseConfig } from '../config/load-config.ts';
import { resolveSecret } from '../config/resolve-secret.ts';
import { openDatabase } from '../db/open-database.ts';
import type { Pool } from '../db/pg-pool.ts';
import { createClientLibrary, type ClientLibrary } from '../libraries/clients.ts';
import { createPageRenderer } from '../libraries/page-renderer.ts';
import { deriveKey } from '../libraries/secret-box.ts';
import { createProvider } from '../oidc/create-provider.ts';
import { createClientQueries } from '../queries/client-queries.ts';
import { createMemoryHotState } from '../storage/hot-state.ts';

export interface CliRuntime {
  config: GatehouseConfig;
  pool: Pool;
  secret: string;
  libraries: ReturnType<typeof createLibraries> & { clients: ClientLibrary };
}

export interface CliContext {
  config: GatehouseConfig;
  log: Logger;
  /** True when `--json` was given: one JSON document on stdout. */
  json(): boolean;
  print(data: unknown, human: string): void;
  /** Opens the database (the running server's embedded one if there is one), runs `work`, closes. */
  withRuntime<T>(work: (runtime: CliRuntime) => Promise<T>): Promise<T>;
}

/**
 * A provider instance that only validates client metadata the way the server's will (same configuration),
 * without serving anything.
 */
async function createMetadataValidator(
  runtime: Omit<CliRuntime, 'libraries'> & { libraries: ReturnType<typeof createLibraries> },
  log: Logger,
) {
  const { config, secret, libraries } = runtime;
  const hot = createMemoryHotState(60);
  await libraries.keys.ensureKeys();
  const provider = createProvider({
    config,
    keySet: await libraries.keys.loadKeySet(),
    cookieKeys: [deriveKey(secret, 'provider cookie keys v1').toString('base64url')],
    adapterFor: (model) => hot.adapterFor(model),
    findAccount: async () => undefined,
    pages: createPageRenderer(),
    rbac: libraries.rbac,
    log,
  });
  await hot.close();
  return async (metadata: Record<string, unknown>) => {
    await provider.Client.validate(metadata as Parameters<typeof provider.Client.validate>[0]);
  };
}

export function createCliContext(config: GatehouseConfig, isJson: () => boolean): CliContext {
  // Commands speak on stdout; the log only says what went wrong, on stderr.
  const log = pino({ level: config.logLevel === 'info' ? 'warn' : config.logLevel }, pino.destination(2));
  return {
    config,
    log,
    json: isJson,
    print(data, human) {
      process.stdout.write(isJson() ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
    },
    async withRuntime(work) {
      const { secret } = resolveSecret(config);
      const database = await openDatabase(config, log, { migrate: !config.production, poolSize: 2 });
      try {
        const base = createLibraries(config, database.pool, secret);
        const partial = { config, pool: database.pool, secret, libraries: base };
        let validator: ((metadata: Record<string, unknown>) => Promise<void>) | undefined;
        const clients = createClientLibrary({
          pool: database.pool,
          queries: createClientQueries(database.pool),
          secretBox: base.secretBox,
          production: config.production,
          validateMetadata: async (metadata) => {
            validator ??= await createMetadataValidator(partial, log);
            await validator(metadata);
          },
        });
        return await work({ ...partial, libraries: { ...base, clients } });
      } finally {
        await database.close();
      }
    },
  };
}
