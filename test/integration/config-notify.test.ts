import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import * as oidc from 'openid-client';
import pg from 'pg';
import { loadConfig } from '../../src/config/load-config.ts';
import { configListenerName, listenForConfigChanges } from '../../src/db/config-listener.ts';
import { createPool, type Pool } from '../../src/db/pg-pool.ts';
import { createLibraries, type Libraries } from '../../src/libraries/create-libraries.ts';
import { runCli } from '../support/gatehouse-process.ts';
import { createHttpBrowser } from '../support/http-sign-in.ts';
import { silentLog, startTestGatehouse, testSecret, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * What a script changes through the CLI (or the libraries the CLI runs) is what a running server serves on the very
 * next request: the version trigger notifies, the server's listener forgets the area (migration 011,
 * `src/db/config-listener.ts`). The server here polls the version table only every 10 s (the most the setting
 * allows), so nothing but the notification can explain a change seen at once.
 */
let gh: TestGatehouse;
let cliEnv: NodeJS.ProcessEnv;
let dataDir: string;
/** A second runtime like the CLI's: its own pool on the same database, reading straight through. */
let script: { pool: Pool; libraries: Libraries };
const redirectUri = 'http://127.0.0.1:9/cb';

beforeAll(async () => {
  gh = await startTestGatehouse({ config: { configCache: { pollMs: 10_000, maxAgeMs: 600_000 } } });
  await gh.gatehouse.clients.create({
    id: 'app',
    secret: 'app-secret-0123456789',
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code'],
    public: false,
    firstParty: true,
  });
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-notify-'));
  const env = {
    NODE_ENV: 'test',
    DATABASE_URL: gh.database.url,
    GATEHOUSE_SECRET: testSecret,
    GATEHOUSE_CONFIG_JSON: JSON.stringify({ dataDir }),
  };
  cliEnv = { PATH: process.env.PATH, ...env };
  const pool = createPool({ connectionString: gh.database.url, max: 2 }, () => undefined);
  script = { pool, libraries: createLibraries(loadConfig(env), pool, testSecret) };
}, 60_000);

afterAll(async () => {
  await script?.pool.end();
  await gh?.close();
  rmSync(dataDir, { force: true, recursive: true });
});

/** Starts a sign-in for the app and returns the login page's HTML. */
async function openLoginPage(): Promise<string> {
  const browser = createHttpBrowser();
  const params = new URLSearchParams({
    client_id: 'app',
    response_type: 'code',
    scope: 'openid',
    redirect_uri: redirectUri,
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const started = await browser.get(`${gh.url}/auth?${params}`);
  expect(started.headers.get('location')).toMatch(/^\/interaction\//);
  const page = await browser.get(new URL(started.headers.get('location')!, gh.url).href);
  expect(page.status).toBe(200);
  return page.text();
}

const upstream = (id: string, name: string) => ({
  id,
  type: 'github' as const,
  clientId: `${id}-client`,
  clientSecret: `${id}-secret`,
  name,
});

/** The listener's backend, as Postgres sees it (at most one per server process). */
async function listenerBackends(): Promise<{ pid: number; query: string }[]> {
  const { rows } = await script.pool.query<{ pid: number; query: string }>(
    'SELECT pid, query FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
    [configListenerName],
  );
  return rows;
}

it('a script that creates an upstream and opens the login page at once sees it', async () => {
  // The login page's list of upstreams is cached (and the cache is warm) before the script runs.
  expect(await openLoginPage()).not.toContain('Continue with');
  expect(await openLoginPage()).not.toContain('Continue with');
  const created = await runCli(
    [
      'idp',
      'create',
      '--id',
      'corp',
      '--type',
      'github',
      '--client-id',
      'corp-client',
      '--client-secret',
      'corp-secret',
      '--name',
      'Corp GitHub',
      '--json',
    ],
    cliEnv,
  );
  expect(created.code).toBe(0);
  expect(await openLoginPage()).toContain('Continue with Corp GitHub');
});

it('an upstream a script deletes is gone from the very next login page', async () => {
  expect(await openLoginPage()).toContain('Continue with Corp GitHub');
  await script.libraries.identityProviders.delete('corp');
  expect(await openLoginPage()).not.toContain('Continue with Corp GitHub');
});

it('sees every one of many script-speed changes on the very next request', async () => {
  for (let round = 0; round < 10; round += 1) {
    expect(await openLoginPage()).not.toContain(`Round ${round}`);
    await script.libraries.identityProviders.create(upstream(`round-${round}`, `Round ${round}`));
    expect(await openLoginPage()).toContain(`Continue with Round ${round}`);
    await script.libraries.identityProviders.delete(`round-${round}`);
  }
});

it('recovers from a dropped listener connection, and changes are seen at once again', async () => {
  const [before, ...others] = await listenerBackends();
  expect(before).toBeDefined();
  expect(others).toEqual([]);
  const { rows } = await script.pool.query<{ ended: boolean }>('SELECT pg_terminate_backend($1) AS ended', [
    before!.pid,
  ]);
  expect(rows[0]!.ended).toBe(true);

  // The listener reconnects in the background (and the process survives the connection's error).
  const deadline = Date.now() + 10_000;
  let after = await listenerBackends();
  while (!after.some((backend) => backend.pid !== before!.pid && /^LISTEN/.test(backend.query))) {
    if (Date.now() > deadline) throw new Error(`the listener did not come back: ${JSON.stringify(after)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    after = await listenerBackends();
  }
  expect(after.filter((backend) => backend.pid === before!.pid)).toEqual([]);

  expect(await openLoginPage()).not.toContain('Continue with After Restart');
  await script.libraries.identityProviders.create(upstream('after-restart', 'After Restart'));
  expect(await openLoginPage()).toContain('Continue with After Restart');
});

it('closing Gatehouse closes its listener connection', async () => {
  expect(await listenerBackends()).toHaveLength(1);
  await gh.gatehouse.close();
  const deadline = Date.now() + 5_000;
  while ((await listenerBackends()).length > 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await listenerBackends()).toEqual([]);
});

describe('over embedded PGlite', () => {
  it('stands aside (its socket cannot deliver a notification to a listener), leaving the version poll', async () => {
    // Served as `src/db/embedded-postgres.ts` serves it (in memory here, to start quickly).
    const db = await PGlite.create();
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 32 });
    await server.start();
    const url = `postgres://postgres@${server.getServerConn()}/postgres`;
    try {
      // What the listener stands aside for: a notification reaches only the connection whose statement sent it.
      const listening = new pg.Client({ connectionString: url });
      const sending = new pg.Client({ connectionString: url });
      await listening.connect();
      await sending.connect();
      const received: string[] = [];
      listening.on('notification', (message) => received.push(`listener:${message.payload}`));
      sending.on('notification', (message) => received.push(`sender:${message.payload}`));
      await listening.query('LISTEN gatehouse_config');
      await sending.query("SELECT pg_notify('gatehouse_config', 'idps')");
      await listening.query('SELECT 1');
      expect(received).toEqual(['sender:idps']);
      await listening.end();
      await sending.end();

      const cache = { invalidate: jest.fn(), invalidateAll: jest.fn() };
      const listener = listenForConfigChanges({
        connection: { connectionString: url },
        cache,
        log: silentLog,
      });
      expect(await listener.started).toBe(false);
      await listener.close();
    } finally {
      await server.stop();
      await db.close();
    }
  }, 60_000);
});
