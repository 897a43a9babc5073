import { loadConfig } from '../../../src/config/load-config.ts';
import { metricsAccess } from '../../../src/http-app.ts';

const secret = 'x'.repeat(40);
const production = {
  NODE_ENV: 'production',
  GATEHOUSE_SECRET: secret,
  DATABASE_URL: 'postgres://db/x',
  REDIS_URL: 'redis://r:6379',
  ISSUER: 'https://id.example.com',
};

describe('who may read /metrics', () => {
  it('keeps /metrics open outside production and off the public port in production, unless a token is set', () => {
    expect(metricsAccess(loadConfig({}))).toBe('open');
    expect(metricsAccess(loadConfig(production))).toBe('off');
  });

  it('takes the metrics token from GATEHOUSE_METRICS_TOKEN and then requires it, in and outside production', () => {
    const token = 't'.repeat(32);
    const config = loadConfig({ ...production, GATEHOUSE_METRICS_TOKEN: token });
    expect(config.metrics.token).toBe(token);
    expect(metricsAccess(config)).toBe('token');
    expect(metricsAccess(loadConfig({ GATEHOUSE_METRICS_TOKEN: token }))).toBe('token');
  });

  it('refuses a metrics token too short to resist guessing', () => {
    expect(() => loadConfig({ GATEHOUSE_METRICS_TOKEN: 'short' })).toThrow(/config key "metrics.token"/);
  });
});
