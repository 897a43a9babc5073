import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { keySettingsFromEnvironment, type KeySetting } from './environment-keys.ts';
import { isLoopbackHost } from './loopback.ts';
import { configSchema, type Config } from './schema.ts';
import { withSecretFiles } from './secret-files.ts';
import { ConfigError } from '../errors/config-error.ts';

/**
 * Configuration after defaults are resolved: the issuer is always known, the secret may still be absent, and
 * `host` is null only where the server listens on every interface.
 */
export type GatehouseConfig = Omit<Config, 'issuer'> & { issuer: string };

const configDir = fileURLToPath(new URL('../../config/', import.meta.url));

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Json, override: Json): Json {
  const merged: Json = { ...base };
  for (const [key, value] of Object.entries(override)) {
    merged[key] = isPlainObject(value) && isPlainObject(merged[key]) ? deepMerge(merged[key], value) : value;
  }
  return merged;
}

function readJson(path: string, what: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${what} (${path}) is not valid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(parsed)) throw new ConfigError(`${what} (${path}) must hold a JSON object`);
  return parsed;
}

function parseJsonOverride(text: string): Json {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isPlainObject(parsed)) return parsed;
  } catch {
    // reported below
  }
  throw new ConfigError('GATEHOUSE_CONFIG_JSON must be a JSON object');
}

function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value))
    throw new ConfigError(`config key "port" (env PORT): "${value}" is not a port number`);
  return Number(value);
}

/** The modes NODE_ENV may name; unset means development. */
const nodeEnvironments = ['production', 'development', 'test'];

/**
 * A typo such as `NODE_ENV=prodution` would otherwise run the development defaults (a demo account, a generated
 * secret) on a real deployment, and it names the `config/<NODE_ENV>.json` read next.
 */
function assertKnownNodeEnv(env: NodeJS.ProcessEnv): void {
  if (env.NODE_ENV && !nodeEnvironments.includes(env.NODE_ENV))
    throw new ConfigError(
      `NODE_ENV "${env.NODE_ENV}" is not one of ${nodeEnvironments.join(', ')} (leave it unset for development)`,
    );
}

/** The bootstrap administrator's password is read from a file only, so it never sits in the environment. */
function bootstrapAdminOverrides(env: NodeJS.ProcessEnv): Json | undefined {
  if (env.GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD !== undefined)
    throw new ConfigError(
      'GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD is not read: put the password in a file and name the file in ' +
        'GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE',
    );
  const overrides: Json = {};
  if (env.GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL) overrides.email = env.GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL;
  if (env.GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE)
    overrides.passwordFile = env.GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE;
  return Object.keys(overrides).length > 0 ? overrides : undefined;
}

/** Environment variables of the outside contract, mapped onto config keys. */
function environmentOverrides(env: NodeJS.ProcessEnv): Json {
  const overrides: Json = {};
  if (env.NODE_ENV === 'production') overrides.production = true;
  if (env.PORT) overrides.port = parsePort(env.PORT);
  if (env.HOST) overrides.host = env.HOST;
  if (env.ISSUER) overrides.issuer = env.ISSUER;
  if (env.DATABASE_URL) overrides.databaseUrl = env.DATABASE_URL;
  if (env.REDIS_URL) overrides.redisUrl = env.REDIS_URL;
  if (env.GATEHOUSE_SECRET) overrides.secret = env.GATEHOUSE_SECRET;
  if (env.GATEHOUSE_PREVIOUS_SECRETS)
    overrides.previousSecrets = env.GATEHOUSE_PREVIOUS_SECRETS.split(',')
      .map((value) => value.trim())
      .filter(Boolean);
  if (env.LOG_LEVEL) overrides.logLevel = env.LOG_LEVEL;
  if (env.LOG_FORMAT) overrides.logFormat = env.LOG_FORMAT;
  if (env.GATEHOUSE_METRICS_TOKEN) overrides.metrics = { token: env.GATEHOUSE_METRICS_TOKEN };
  if (env.GATEHOUSE_SMTP_URL) overrides.smtp = { url: env.GATEHOUSE_SMTP_URL };
  const bootstrapAdmin = bootstrapAdminOverrides(env);
  if (bootstrapAdmin) overrides.bootstrapAdmin = bootstrapAdmin;
  return overrides;
}

/** The contract's variables beside the config key each sets; its `GATEHOUSE__` form may not be set as well. */
const contractVariables: Record<string, string> = {
  port: 'PORT',
  host: 'HOST',
  issuer: 'ISSUER',
  databaseUrl: 'DATABASE_URL',
  redisUrl: 'REDIS_URL',
  secret: 'GATEHOUSE_SECRET',
  previousSecrets: 'GATEHOUSE_PREVIOUS_SECRETS',
  logLevel: 'LOG_LEVEL',
  logFormat: 'LOG_FORMAT',
  'metrics.token': 'GATEHOUSE_METRICS_TOKEN',
  'smtp.url': 'GATEHOUSE_SMTP_URL',
  'bootstrapAdmin.email': 'GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL',
  'bootstrapAdmin.passwordFile': 'GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE',
};

/** `GATEHOUSE__SECTION__KEY` settings as one override object; refuses a key also set by its contract variable. */
function keyOverrides(settings: KeySetting[], env: NodeJS.ProcessEnv): Json {
  const overrides: Json = {};
  for (const { path, value, variable } of settings) {
    const contractVariable = contractVariables[path.join('.')];
    if (contractVariable && (env[contractVariable] || env[`${contractVariable}_FILE`]))
      throw new ConfigError(
        `${variable} and ${contractVariable} both set config key "${path.join('.')}": set one of them`,
      );
    let section = overrides;
    for (const key of path.slice(0, -1)) section = (section[key] ??= {}) as Json;
    section[path.at(-1)!] = value;
  }
  return overrides;
}

/**
 * Names the key of each problem, and the variable that set it when a `GATEHOUSE__` variable did (a problem deep
 * inside a JSON value is reported at its own path, under the variable that holds it).
 */
function formatIssues(
  error: { issues: { path: PropertyKey[]; message: string }[] },
  settings: KeySetting[],
): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String);
      const origin = settings.find((setting) => setting.path.every((key, index) => path[index] === key));
      const variable = origin ? ` (env ${origin.variable})` : '';
      return `config key "${path.join('.') || '(root)'}"${variable}: ${issue.message}`;
    })
    .join('; ');
}

/** Whether hot state goes to Redis (a URL, a Cluster or Sentinels) rather than process memory. */
export function usesRedis(config: Pick<Config, 'redisUrl' | 'redisCluster' | 'redisSentinel'>): boolean {
  return Boolean(config.redisUrl || config.redisCluster || config.redisSentinel);
}

/** Refuses the defaults that are only acceptable on a developer's machine. */
function assertProductionReady(config: GatehouseConfig): void {
  const problems: string[] = [];
  if (!config.secret) problems.push('GATEHOUSE_SECRET is not set');
  if (!config.databaseUrl) problems.push('DATABASE_URL is not set (embedded PGlite is for development only)');
  if (!usesRedis(config)) problems.push('REDIS_URL is not set (the in-memory store is for development only)');
  const issuer = new URL(config.issuer);
  if (issuer.protocol === 'http:' && !isLoopbackHost(issuer.hostname)) {
    problems.push(`ISSUER ${config.issuer} uses http: on a non-loopback host; use https`);
  }
  if (config.signUp.enabled && !config.smtp.url)
    problems.push('signUp.enabled needs smtp.url (a sign-up is confirmed by a mailed link)');
  if (problems.length > 0) {
    throw new ConfigError(`refusing to start in production: ${problems.join('; ')}`);
  }
}

/**
 * Refuses an unknown NODE_ENV, then reads `config/default.json`, then `config/<NODE_ENV>.json`, then the file
 * named by GATEHOUSE_CONFIG, then the JSON object in GATEHOUSE_CONFIG_JSON, then every `GATEHOUSE__SECTION__KEY`
 * variable, then the contract's environment variables (secrets among them possibly from `<NAME>_FILE`), and
 * validates the result. Throws a ConfigError naming the offending key (and the variable that set it).
 *
 * @example
 * loadConfig({ GATEHOUSE__TTL__ACCESS_TOKEN: '600' }).ttl.accessToken; // 600
 */
export function loadConfig(processEnv: NodeJS.ProcessEnv): GatehouseConfig {
  assertKnownNodeEnv(processEnv);
  const env = withSecretFiles(processEnv);
  const settings = keySettingsFromEnvironment(configSchema, env);
  let merged = readJson(`${configDir}default.json`, 'default configuration');
  const envFile = env.NODE_ENV ? `${configDir}${env.NODE_ENV}.json` : undefined;
  if (envFile && existsSync(envFile))
    merged = deepMerge(merged, readJson(envFile, `${env.NODE_ENV} configuration`));
  if (env.GATEHOUSE_CONFIG) merged = deepMerge(merged, readJson(env.GATEHOUSE_CONFIG, 'GATEHOUSE_CONFIG'));
  if (env.GATEHOUSE_CONFIG_JSON) merged = deepMerge(merged, parseJsonOverride(env.GATEHOUSE_CONFIG_JSON));
  merged = deepMerge(merged, keyOverrides(settings, env));
  merged = deepMerge(merged, environmentOverrides(env));

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, settings));

  const { email, passwordFile } = parsed.data.bootstrapAdmin;
  if ((email === null) !== (passwordFile === null))
    throw new ConfigError(
      'config key "bootstrapAdmin": GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL and GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE ' +
        'go together (set both, or neither)',
    );
  const issuer = (parsed.data.issuer ?? `http://localhost:${parsed.data.port}`).replace(/\/+$/, '');
  // A development server answers this machine only, unless HOST asks for more; production listens everywhere.
  const host = parsed.data.host ?? (parsed.data.production ? null : '127.0.0.1');
  const config: GatehouseConfig = { ...parsed.data, issuer, host };
  if (config.production) assertProductionReady(config);
  return config;
}
