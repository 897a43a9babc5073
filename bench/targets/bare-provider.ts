/**
 * The baseline: a bare oidc-provider configured like Gatehouse, in memory or on Gatehouse's Redis adapter (so that
 * storage cost and wrapper cost can be told apart). Run as its own process:
 * `node bench/targets/bare-provider.ts <settings.json>`.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Provider } from 'oidc-provider';
import { connectRedis, waitForRedis } from '../../src/storage/connect-redis.ts';
import { createMemoryHotState, createRedisHotState } from '../../src/storage/hot-state.ts';
import { createAutoInteractions } from './auto-interactions.ts';
import { buildBareConfiguration } from './bare-provider-configuration.ts';
import type { BareProviderSettings } from './bare-provider-settings.ts';

const settingsPath = process.argv[2];
if (!settingsPath) throw new Error('usage: node bench/targets/bare-provider.ts <settings.json>');
const settings = JSON.parse(readFileSync(settingsPath, 'utf8')) as BareProviderSettings;

// Gatehouse's own stores: createRedisHotState wraps src/storage/redis-adapter.ts. In memory, not oidc-provider's
// adapter: that one is an LRU of about 1,000 entries, which under load evicts grants and refresh tokens still in
// use (every refresh then fails with invalid_grant), so it cannot carry the token scenarios.
const hotState = settings.redis
  ? createRedisHotState(
      connectRedis(settings.redis.url, (error) => process.stderr.write(`redis: ${error.message}\n`)),
      settings.redis.prefix,
      settings.ttl.session,
    )
  : createMemoryHotState(settings.ttl.session);
if (hotState.redis) await waitForRedis(hotState.redis as Parameters<typeof waitForRedis>[0]);

const provider = new Provider(
  settings.issuer,
  buildBareConfiguration(settings, (model) => hotState.adapterFor(model)),
);
const interactions = createAutoInteractions(provider, settings.fixtures.account.id);
const handleProtocol = provider.callback();

// The same HTTP server settings as Gatehouse's (src/server.ts), so only what runs behind it differs.
const server = createServer(
  { maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000 },
  (req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interactions(req, res).catch((error: unknown) => {
        process.stderr.write(`interaction failed: ${(error as Error).message}\n`);
        res.statusCode = 500;
        res.end();
      });
      return;
    }
    void handleProtocol(req, res);
  },
);
server.keepAliveTimeout = 5_000;
server.listen(settings.port, '127.0.0.1');

const stop = () => {
  server.close();
  server.closeAllConnections();
  void hotState.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
