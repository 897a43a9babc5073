import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { loadConfig } from '../../../src/config/load-config.ts';
import { ConfigError } from '../../../src/errors/config-error.ts';
import { configSchema } from '../../../src/config/schema.ts';

const secret = 'x'.repeat(40);
/** An environment production starts with: a secret, Postgres, Redis, an https issuer. */
const productionReady = {
  NODE_ENV: 'production',
  ISSUER: 'https://id.example.com',
  GATEHOUSE_SECRET: secret,
  DATABASE_URL: 'postgres://db/gatehouse',
  REDIS_URL: 'redis://redis:6379',
};

describe('loading the configuration', () => {
  it('starts from the documented defaults, with the issuer on the default port', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      issuer: 'http://localhost:3000',
      databaseUrl: null,
      redisUrl: null,
      production: false,
    });
  });

  it('takes the contract environment variables', () => {
    const config = loadConfig({
      PORT: '4100',
      DATABASE_URL: 'postgres://db/x',
      REDIS_URL: 'redis://r:6379/15',
      GATEHOUSE_SECRET: secret,
    });
    expect(config).toMatchObject({
      port: 4100,
      issuer: 'http://localhost:4100',
      databaseUrl: 'postgres://db/x',
      redisUrl: 'redis://r:6379/15',
      secret,
    });
  });

  it('drops a trailing slash from the issuer', () => {
    expect(loadConfig({ ISSUER: 'https://id.example.com/' }).issuer).toBe('https://id.example.com');
  });

  it('names the key of a bad value', () => {
    expect(() => loadConfig({ GATEHOUSE_CONFIG_JSON: JSON.stringify({ ttl: { accessToken: -5 } }) })).toThrow(
      new ConfigError('config key "ttl.accessToken": Too small: expected number to be >0'),
    );
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/config key "port" \(env PORT\)/);
    expect(() =>
      loadConfig({ GATEHOUSE_CONFIG_JSON: JSON.stringify({ refreshToken: { reuseGraceSeconds: 11 } }) }),
    ).toThrow(/config key "refreshToken.reuseGraceSeconds"/);
  });

  it('refuses unknown keys, so a typo is not silently ignored', () => {
    expect(() => loadConfig({ GATEHOUSE_CONFIG_JSON: JSON.stringify({ prot: 1 }) })).toThrow(/prot/);
  });

  it('refuses to start in production without a secret, with embedded storage, or on plain http', () => {
    let message = '';
    try {
      loadConfig({ NODE_ENV: 'production', ISSUER: 'http://id.example.com' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('GATEHOUSE_SECRET is not set');
    expect(message).toContain('DATABASE_URL is not set');
    expect(message).toContain('REDIS_URL is not set');
    expect(message).toContain('uses http: on a non-loopback host');
  });

  it('starts in production when everything is in place', () => {
    const config = loadConfig(productionReady);
    expect(config.production).toBe(true);
  });

  it('refuses to start sign-up in production without mail to confirm addresses with', () => {
    const production = { ...productionReady, GATEHOUSE__SIGN_UP__ENABLED: 'true' };
    expect(() => loadConfig(production)).toThrow('signUp.enabled needs smtp.url');
    const withMail = loadConfig({
      ...production,
      GATEHOUSE_SMTP_URL: 'smtps://user:pass@mail.example.com:465',
    });
    expect(withMail.signUp).toEqual({ enabled: true, tokenSeconds: 86_400 });
    expect(loadConfig({}).signUp.enabled).toBe(false);
  });

  it('refuses a NODE_ENV it does not know, so a typo never silently means development', () => {
    expect(() => loadConfig({ NODE_ENV: 'prodution' })).toThrow(
      new ConfigError(
        'NODE_ENV "prodution" is not one of production, development, test (leave it unset for development)',
      ),
    );
    // Nor may it name a file outside config/ (it picks config/<NODE_ENV>.json).
    expect(() => loadConfig({ NODE_ENV: '../package' })).toThrow(ConfigError);
    for (const known of ['development', 'test', ''])
      expect(loadConfig({ NODE_ENV: known }).production).toBe(false);
  });

  it('listens on loopback outside production and on every interface in production, unless HOST says otherwise', () => {
    const production = productionReady;
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x' }).host).toBe('127.0.0.1');
    expect(loadConfig(production).host).toBeNull();
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '::1' }).host).toBe('::1');
    expect(loadConfig({ ...production, HOST: '10.0.0.5' }).host).toBe('10.0.0.5');
    expect(() => loadConfig({ HOST: '[::1]' })).toThrow(
      new ConfigError('config key "host": expected an IP address or a host name (IPv6 without brackets)'),
    );
  });

  it('takes the bootstrap administrator as an email and a password file, never a password in the environment', () => {
    expect(loadConfig({}).bootstrapAdmin).toEqual({ email: null, passwordFile: null });
    expect(
      loadConfig({
        GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL: 'ops@example.com',
        GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE: '/run/secrets/gatehouse_admin_password',
      }).bootstrapAdmin,
    ).toEqual({ email: 'ops@example.com', passwordFile: '/run/secrets/gatehouse_admin_password' });
    expect(() => loadConfig({ GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL: 'ops@example.com' })).toThrow(
      new ConfigError(
        'config key "bootstrapAdmin": GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL and GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE ' +
          'go together (set both, or neither)',
      ),
    );
    expect(() =>
      loadConfig({
        GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL: 'not an email',
        GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE: '/run/secrets/x',
      }),
    ).toThrow(/config key "bootstrapAdmin.email"/);
    expect(() =>
      loadConfig({
        GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL: 'ops@example.com',
        GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD: 'x',
      }),
    ).toThrow(
      new ConfigError(
        'GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD is not read: put the password in a file and name the file in ' +
          'GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE',
      ),
    );
  });

  it('documents every key of config/default.json in the schema, and nothing more', () => {
    const defaults = JSON.parse(
      readFileSync(new URL('../../../config/default.json', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    const described = (schema: z.ZodType, value: unknown, path: string): string[] => {
      const missing = schema.description ? [] : [path];
      const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
      if (shape && value && typeof value === 'object' && !Array.isArray(value)) {
        expect(Object.keys(value).sort()).toEqual(Object.keys(shape).sort());
        for (const [key, child] of Object.entries(shape))
          missing.push(...described(child, (value as Record<string, unknown>)[key], `${path}.${key}`));
      }
      return missing;
    };
    expect(described(configSchema.describe('root'), defaults, 'config')).toEqual([]);
  });
});
