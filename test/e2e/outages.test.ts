import { createHttpBrowser, formAction, formField } from '../support/http-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import { startOwnPostgres, startOwnRedis, type OwnPostgres, type OwnRedis } from '../support/own-services.ts';

/**
 * Storage outages and shutdown: with Redis or Postgres stopped, Gatehouse answers 503 on what needs it and
 * /readyz says so; when the service returns it recovers with no restart. SIGTERM lets requests in flight finish.
 * The test runs its own Redis and Postgres on spare ports to kill and restart them.
 */
const user = { email: 'steady@example.com', password: 'outage proof passphrase' };
const basic = `Basic ${Buffer.from('svc:svc-secret-0123456789').toString('base64')}`;

describe('storage outages', () => {
  let postgres: OwnPostgres;
  let redis: OwnRedis;
  let gatehouse: GatehouseProcess;
  const recovery: Record<string, number> = {};

  beforeAll(async () => {
    postgres = await startOwnPostgres();
    redis = await startOwnRedis();
    gatehouse = await startGatehouseProcess({
      external: { databaseUrl: postgres.url, redisUrl: redis.url },
      // Twelve sign-ins of one account at once below: more attempts in flight than one account's default limit (10
      // per window, the lock's promise) lets through at once.
      config: {
        throttle: {
          password: {
            perAccount: {
              maxFailures: 20,
              windowSeconds: 900,
              lockSeconds: 900,
              freeFailures: 3,
              maxDelaySeconds: 30,
            },
          },
        },
      },
    });
    expect((await gatehouse.cli('migrate')).code).toBe(0);
    await gatehouse.cli('user', 'create', '--email', user.email, '--password', user.password);
    await gatehouse.cli(
      'client',
      'create',
      '--id',
      'svc',
      '--secret',
      'svc-secret-0123456789',
      '--grant-type',
      'client_credentials',
    );
    await gatehouse.cli(
      'client',
      'create',
      '--id',
      'web',
      '--secret',
      'web-secret-0123456789',
      '--redirect-uri',
      'http://127.0.0.1:9/cb',
      '--first-party',
    );
  }, 120_000);

  afterAll(async () => {
    console.info(`recovery after the service returned (ms): ${JSON.stringify(recovery)}`);
    await gatehouse?.cleanup();
    await redis?.stop().catch(() => undefined);
    await postgres?.destroy();
  });

  const token = () =>
    fetch(`${gatehouse.url}/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
  const ready = async () => (await fetch(`${gatehouse.url}/readyz`)).status;

  async function firstResponse(
    send: () => Promise<Response>,
    wanted: (response: Response) => boolean,
    withinMs: number,
  ): Promise<Response> {
    const started = Date.now();
    for (;;) {
      const response = await send();
      if (wanted(response) || Date.now() - started > withinMs) return response;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function timeToRecover(): Promise<number> {
    const started = Date.now();
    for (;;) {
      const response = await token();
      if (response.status === 200 && (await ready()) === 200) return Date.now() - started;
      if (Date.now() - started > 20_000)
        throw new Error(`no recovery within 20 s (last status ${response.status})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('serves while everything is up', async () => {
    expect((await token()).status).toBe(200);
    expect(await ready()).toBe(200);
  });

  it('answers 503 while Redis is down, stays alive, and recovers by itself when Redis returns', async () => {
    await redis.stop();
    const response = await token();
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
    const readiness = await fetch(`${gatehouse.url}/readyz`);
    expect(readiness.status).toBe(503);
    expect(await readiness.json()).toMatchObject({ checks: { postgres: 'ok', redis: 'unavailable' } });
    expect((await fetch(`${gatehouse.url}/healthz`)).status).toBe(200);
    const page = await fetch(
      `${gatehouse.url}/auth?client_id=web&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/cb')}&code_challenge=${'c'.repeat(43)}&code_challenge_method=S256`,
      { redirect: 'manual', headers: { accept: 'text/html' } },
    );
    expect([503, 303]).toContain(page.status);
    if (page.status === 303)
      expect(new URL(page.headers.get('location')!).searchParams.get('error')).toBe(
        'temporarily_unavailable',
      );
    await redis.start();
    recovery.redis = await timeToRecover();
    expect(recovery.redis).toBeLessThan(10_000);
  });

  it('answers 503 while Postgres is down, and recovers by itself when Postgres returns', async () => {
    await postgres.stop();
    // Client lookups are served from the per-process config cache until its next version poll fails (pollMs,
    // 500 ms by default); from then on they read straight through, and fail.
    const response = await firstResponse(token, (candidate) => candidate.status !== 200, 5_000);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
    const readiness = await fetch(`${gatehouse.url}/readyz`);
    expect(readiness.status).toBe(503);
    expect(await readiness.json()).toMatchObject({ checks: { postgres: 'unavailable', redis: 'ok' } });
    expect(
      (await fetch(`${gatehouse.url}/admin/api/users`, { headers: { authorization: 'Bearer abc' } })).status,
    ).toBeLessThan(500 + 4);
    await postgres.start();
    recovery.postgres = await timeToRecover();
    expect(recovery.postgres).toBeLessThan(10_000);
  });

  it('lets requests in flight finish on SIGTERM, then exits cleanly', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const browser = createHttpBrowser();
        const start = await browser.get(
          `${gatehouse.url}/auth?${new URLSearchParams({ client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:9/cb', code_challenge: 'c'.repeat(43), code_challenge_method: 'S256' })}`,
        );
        const html = await (
          await browser.get(new URL(start.headers.get('location')!, gatehouse.url).href)
        ).text();
        return {
          browser,
          action: new URL(formAction(html, '/login'), gatehouse.url).href,
          csrf: formField(html, 'csrf'),
        };
      }),
    );
    // Twelve password checks (argon2id) take a while on two cores: SIGTERM arrives while they are in flight.
    const inFlight = attempts.map(({ browser, action, csrf }) =>
      browser.post(action, { csrf, email: user.email, password: user.password }),
    );
    await new Promise((resolve) => setTimeout(resolve, 15));
    const exit = gatehouse.stop('SIGTERM');
    const answers = await Promise.allSettled(inFlight);
    expect(
      answers.map((answer) => (answer.status === 'fulfilled' ? answer.value.status : String(answer.reason))),
    ).toEqual(Array(12).fill(303));
    expect(await exit).toBe(0);
    await expect(fetch(`${gatehouse.url}/healthz`)).rejects.toThrow();
    expect(gatehouse.output()).toContain('shutting down: draining requests in flight');
  });
});
