import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.ts';
import { ConfigError } from '../../src/errors/config-error.ts';

/** Every config key from the environment (`GATEHOUSE__SECTION__KEY`), and secrets from files (`<NAME>_FILE`). */
describe('configuration from the environment', () => {
  let dir: string;
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-env-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sets a nested key, coercing numbers, booleans and lists through the schema', () => {
    const config = loadConfig({
      GATEHOUSE__TTL__ACCESS_TOKEN: '600',
      GATEHOUSE__SEED_DEMO: 'false',
      GATEHOUSE__KEYS__ALGORITHMS: 'RS256, EdDSA',
      GATEHOUSE__OUTGOING__BACKCHANNEL_RETRY_DELAYS_SECONDS: '[2, 10]',
      GATEHOUSE__TRUST_PROXY: '10.0.0.0/8,fd00::/8',
      GATEHOUSE__THROTTLE__PASSWORD__PER_IP__MAX_FAILURES: '40',
    });
    expect(config.ttl.accessToken).toBe(600);
    expect(config.ttl.idToken).toBe(3600);
    expect(config.seedDemo).toBe(false);
    expect(config.keys.algorithms).toEqual(['RS256', 'EdDSA']);
    expect(config.outgoing.backchannelRetryDelaysSeconds).toEqual([2, 10]);
    expect(config.trustProxy).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect(config.throttle.password.perIp.maxFailures).toBe(40);
    expect(loadConfig({ GATEHOUSE__TRUST_PROXY: '2' }).trustProxy).toBe(2);
  });

  it('names the variable of a bad value', () => {
    expect(() => loadConfig({ GATEHOUSE__TTL__ACCESS_TOKEN: 'ten minutes' })).toThrow(
      new ConfigError(
        'config key "ttl.accessToken" (env GATEHOUSE__TTL__ACCESS_TOKEN): Invalid input: expected number, received string',
      ),
    );
    expect(() => loadConfig({ GATEHOUSE__TTL__ACCESS_TOKEN: '-5' })).toThrow(
      new ConfigError(
        'config key "ttl.accessToken" (env GATEHOUSE__TTL__ACCESS_TOKEN): Too small: expected number to be >0',
      ),
    );
    expect(() => loadConfig({ GATEHOUSE__KEYS__ALGORITHMS: 'RS256,HS256' })).toThrow(
      /^config key "keys\.algorithms\.1" \(env GATEHOUSE__KEYS__ALGORITHMS\): Invalid option/,
    );
  });

  it('refuses a variable that names no key, listing the keys of its section', () => {
    expect(() => loadConfig({ GATEHOUSE__TTL__ACESS_TOKEN: '600' })).toThrow(
      /^GATEHOUSE__TTL__ACESS_TOKEN names no config key: config section "ttl" has ACCESS_TOKEN, /,
    );
    expect(() => loadConfig({ GATEHOUSE__PRODUCTION: 'true' })).toThrow(
      new ConfigError(
        'GATEHOUSE__PRODUCTION is not read: set NODE_ENV=production instead (it also reads config/production.json)',
      ),
    );
  });

  it('keeps the contract variables, and refuses one set twice', () => {
    expect(loadConfig({ PORT: '4100', GATEHOUSE__HTTP__SHUTDOWN_GRACE_MS: '2000' })).toMatchObject({
      port: 4100,
      http: { shutdownGraceMs: 2000 },
    });
    expect(() => loadConfig({ PORT: '4100', GATEHOUSE__PORT: '4200' })).toThrow(
      new ConfigError('GATEHOUSE__PORT and PORT both set config key "port": set one of them'),
    );
  });

  it('reads secrets from files without their trailing newline, never printing them', () => {
    const secret = 's'.repeat(40);
    const config = loadConfig({
      GATEHOUSE_SECRET_FILE: file('secret', `${secret}\n`),
      DATABASE_URL_FILE: file('database_url', 'postgres://gatehouse:pw@db/gatehouse\n'),
      REDIS_URL_FILE: file('redis_url', 'redis://:pw@redis:6379/2'),
      GATEHOUSE__METRICS__TOKEN_FILE: file('metrics_token', `${'m'.repeat(32)}\n`),
    });
    expect(config.secret).toBe(secret);
    expect(config.databaseUrl).toBe('postgres://gatehouse:pw@db/gatehouse');
    expect(config.redisUrl).toBe('redis://:pw@redis:6379/2');
    expect(config.metrics.token).toBe('m'.repeat(32));

    const short = file('short_secret', 'too-short-secret\n');
    let message = '';
    try {
      loadConfig({ GATEHOUSE_SECRET_FILE: short });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toBe('config key "secret": must be at least 32 characters');
    expect(message).not.toContain('too-short-secret');
  });

  it('refuses a variable set both directly and from a file, and a file it cannot read', () => {
    const path = file('secret2', 'x'.repeat(40));
    expect(() => loadConfig({ GATEHOUSE_SECRET: 'y'.repeat(40), GATEHOUSE_SECRET_FILE: path })).toThrow(
      new ConfigError('GATEHOUSE_SECRET and GATEHOUSE_SECRET_FILE are both set: set one of them'),
    );
    expect(() =>
      loadConfig({ GATEHOUSE__SMTP__URL: 'smtp://a:b@h:587', GATEHOUSE__SMTP__URL_FILE: path }),
    ).toThrow(
      new ConfigError(
        'GATEHOUSE__SMTP__URL and GATEHOUSE__SMTP__URL_FILE both set config key "smtp.url": set one of them',
      ),
    );
    const missing = join(dir, 'missing');
    expect(() => loadConfig({ DATABASE_URL_FILE: missing })).toThrow(
      new ConfigError(`DATABASE_URL_FILE: cannot read ${missing} (ENOENT)`),
    );
  });
});
