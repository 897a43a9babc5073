import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError, loadConfig } from '../../../src/config/load-config.ts';
import { configSchema } from '../../../src/config/schema.ts';

const secret = 'x'.repeat(40);

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
    const config = loadConfig({
      NODE_ENV: 'production',
      ISSUER: 'https://id.example.com',
      GATEHOUSE_SECRET: secret,
      DATABASE_URL: 'postgres://db/gatehouse',
      REDIS_URL: 'redis://redis:6379',
    });
    expect(config.production).toBe(true);
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
