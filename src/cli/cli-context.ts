import type { Provider } from 'oidc-provider';
import { pino, type Logger } from 'pino';
import { createLateRef, createLibraries, type Libraries } from '../libraries/create-libraries.ts';
import type { GatehouseConfig } from '../config/load-config.ts';
import { resolveSecret } from '../config/resolve-secret.ts';
import { openDatabase } from '../db/open-database.ts';
import type { Pool } from '../db/pg-pool.ts';
import { noConfigCache } from '../db/config-cache.ts';
import { createPageRenderer } from '../libraries/page-renderer.ts';
import { deriveKey } from '../libraries/secret-box.ts';
import { createProvider } from '../oidc/create-provider.ts';
import { createQueries, type Queries } from '../queries/create-queries.ts';
import { createMemoryHotState } from '../storage/hot-state.ts';

export interface CliRuntime {
  config: GatehouseConfig;
  pool: Pool;
  secret: string;
  queries: Queries;
  libraries: Libraries;
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
async function createMetadataProvider(
  config: GatehouseConfig,
  secret: string,
  libraries: Pick<Libraries, 'keys' | 'rbac'>,
  log: Logger,
): Promise<Provider> {
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
  return provider;
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
        const pool = database.pool;
        const queries = createQueries(pool, noConfigCache);
        // The provider that validates client metadata is built from these libraries' keys and roles, and only
        // when a command first validates some (most never do).
        const built = createLateRef<Libraries>('the CLI libraries');
        let metadataProvider: Provider | undefined;
        const libraries = createLibraries(config, pool, secret, {
          queries,
          provider: async () =>
            (metadataProvider ??= await createMetadataProvider(config, secret, built.get(), log)),
        });
        built.set(libraries);
        return await work({ config, pool, secret, queries, libraries });
      } finally {
        await database.close();
      }
    },
  };
}
