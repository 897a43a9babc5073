/**
 * `/metrics` on the public port (issue 13 item 10): in production it is not served unless a metrics bearer token is
 * configured, and with a token only a scraper presenting it reads the metrics.
 */
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

const token = 'metrics-token-metrics-token-0123456789';
// Production mode refuses to start without these; the test Gatehouse brings its own pool and hot store.
const productionConfig = {
  production: true,
  databaseUrl: 'postgres://unused.invalid/unused',
  redisUrl: 'redis://unused.invalid:6379',
};

describe('/metrics access', () => {
  describe('in production without a metrics token', () => {
    let gatehouse: TestGatehouse;
    beforeAll(async () => {
      gatehouse = await startTestGatehouse({ config: productionConfig });
    });
    afterAll(() => gatehouse.close());

    it('stops anyone on the public port from reading /metrics in production', async () => {
      const response = await fetch(`${gatehouse.url}/metrics`);
      expect(response.status).toBe(404);
      const body = await response.text();
      expect(body).not.toMatch(/gatehouse_http_request_duration_seconds|nodejs_eventloop_lag_seconds/);
      // Not even with a token nobody configured.
      const guessed = await fetch(`${gatehouse.url}/metrics`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(guessed.status).toBe(404);
    });
  });

  describe('with metrics.token configured', () => {
    let gatehouse: TestGatehouse;
    beforeAll(async () => {
      gatehouse = await startTestGatehouse({ config: { ...productionConfig, metrics: { token } } });
    });
    afterAll(() => gatehouse.close());

    it('serves /metrics only to a scraper presenting the metrics bearer token', async () => {
      const none = await fetch(`${gatehouse.url}/metrics`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await none.text()).not.toMatch(/nodejs_eventloop_lag_seconds/);

      for (const wrong of [`Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, 'Bearer ', `Basic ${token}`]) {
        const response = await fetch(`${gatehouse.url}/metrics`, { headers: { Authorization: wrong } });
        expect(response.status).toBe(401);
      }

      const right = await fetch(`${gatehouse.url}/metrics`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(right.status).toBe(200);
      expect(right.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await right.text()).toMatch(/^nodejs_eventloop_lag_seconds /m);
    });
  });

  describe('outside production without a token', () => {
    let gatehouse: TestGatehouse;
    beforeAll(async () => {
      gatehouse = await startTestGatehouse({ hot: 'memory' });
    });
    afterAll(() => gatehouse.close());

    it('keeps /metrics open on the main port for development', async () => {
      const response = await fetch(`${gatehouse.url}/metrics`);
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(/^nodejs_eventloop_lag_seconds /m);
    });
  });
});
