import type { z } from 'zod';
import { ConfigError } from '../errors/config-error.ts';
import { readSecretFile } from './secret-files.ts';

/** Every config key is settable as `GATEHOUSE__<SECTION>__<KEY>`: a double underscore steps into a section. */
export const keyVariablePrefix = 'GATEHOUSE__';

/** One config key set from the environment: where it goes, its value, and the variable that set it. */
export interface KeySetting {
  path: string[];
  value: unknown;
  variable: string;
}

type Schema = z.core.$ZodType;

/** `accessToken` → `ACCESS_TOKEN`, `minLengthWithMfa` → `MIN_LENGTH_WITH_MFA`. */
export function variableSegmentOf(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The variable that sets the config key at `path` (`['ttl', 'accessToken']` → `GATEHOUSE__TTL__ACCESS_TOKEN`). */
export function keyVariableOf(path: readonly string[]): string {
  return keyVariablePrefix + path.map(variableSegmentOf).join('__');
}

const kindOf = (schema: Schema): string => schema._zod.def.type;

/** The schema of the value itself, without `nullable`, `optional` and `default` around it. */
function unwrap(schema: Schema): Schema {
  let current = schema;
  for (;;) {
    const def = current._zod.def as { type: string; innerType?: Schema };
    if (!['nullable', 'optional', 'default', 'prefault', 'readonly'].includes(def.type) || !def.innerType)
      return current;
    current = def.innerType;
  }
}

const shapeOf = (schema: Schema): Record<string, Schema> | undefined =>
  kindOf(schema) === 'object'
    ? (schema._zod.def as unknown as { shape: Record<string, Schema> }).shape
    : undefined;

function parseJson(text: string, variable: string, what: 'an array' | 'an object'): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the text, which may be a secret.
    throw new ConfigError(`${variable} is not valid JSON`);
  }
  const isArray = Array.isArray(parsed);
  const isObject = typeof parsed === 'object' && parsed !== null && !isArray;
  if ((what === 'an array' && !isArray) || (what === 'an object' && !isObject))
    throw new ConfigError(`${variable} must hold ${what} in JSON`);
  return parsed;
}

/**
 * Text from the environment as the value the schema expects: numbers and `true`/`false` where the key takes them,
 * a JSON array or a comma-separated list for a list, a JSON object for a section or an object-valued key, the text
 * itself otherwise. A text that does not fit is passed on unchanged, so the schema reports it (naming the variable).
 */
function coerce(schema: Schema, text: string, variable: string): unknown {
  const inner = unwrap(schema);
  const def = inner._zod.def as { type: string; element?: Schema; options?: Schema[] };
  switch (def.type) {
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'array':
      if (text.trimStart().startsWith('[')) return parseJson(text, variable, 'an array');
      return text
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
        .map((item) => coerce(def.element!, item, variable));
    case 'object':
      return parseJson(text, variable, 'an object');
    case 'union':
      // The first reading one of the alternatives accepts (trustProxy: `true`, `2`, or `10.0.0.0/8,fd00::/8`).
      for (const option of def.options ?? []) {
        const value = coerce(option, text, variable);
        if ((option as z.ZodType).safeParse(value).success) return value;
      }
      return text;
    default:
      return text;
  }
}

/** Config keys Gatehouse takes only from a variable of the outside contract, where a second way would confuse. */
const refusedKeys: Record<string, string> = {
  production: 'set NODE_ENV=production instead (it also reads config/production.json)',
};

/**
 * Resolves a `GATEHOUSE__...` variable name to a config key. A last segment ending in `_FILE` that names no key
 * itself means "the value is in this file" (`GATEHOUSE__SMTP__URL_FILE`); `GATEHOUSE__BOOTSTRAP_ADMIN__PASSWORD_FILE`
 * is the key `bootstrapAdmin.passwordFile` because that key exists.
 */
function resolveVariable(
  root: Schema,
  variable: string,
): { path: string[]; schema: Schema; fromFile: boolean } {
  const segments = variable.slice(keyVariablePrefix.length).split('__');
  const path: string[] = [];
  let schema = root;
  let fromFile = false;
  for (const [index, segment] of segments.entries()) {
    const shape = shapeOf(unwrap(schema));
    const last = index === segments.length - 1;
    const find = (wanted: string) =>
      Object.keys(shape ?? {}).find((key) => variableSegmentOf(key) === wanted);
    let key = find(segment);
    if (key === undefined && last && segment.endsWith('_FILE')) {
      key = find(segment.slice(0, -'_FILE'.length));
      fromFile = key !== undefined;
    }
    if (!shape)
      throw new ConfigError(`${variable} names no config key: "${path.join('.')}" is a key, not a section`);
    if (key === undefined) {
      const where = path.length > 0 ? `config section "${path.join('.')}"` : 'the configuration';
      throw new ConfigError(
        `${variable} names no config key: ${where} has ${Object.keys(shape).map(variableSegmentOf).join(', ')} ` +
          '(a double underscore separates a section from its keys)',
      );
    }
    path.push(key);
    schema = shape[key]!;
  }
  const refusal = refusedKeys[path.join('.')];
  if (refusal) throw new ConfigError(`${variable} is not read: ${refusal}`);
  return { path, schema, fromFile };
}

/**
 * Every `GATEHOUSE__...` variable (and `GATEHOUSE__..._FILE`) of `env` as a config key and its value, coerced to
 * what the schema expects. Empty variables are ignored, as for the contract's variables. Throws a ConfigError naming
 * the variable for an unknown key, unreadable file, both a variable and its `_FILE`, or JSON that does not parse.
 */
export function keySettingsFromEnvironment(root: Schema, env: NodeJS.ProcessEnv): KeySetting[] {
  const settings = new Map<string, KeySetting>();
  const names = Object.keys(env)
    .filter((name) => name.startsWith(keyVariablePrefix) && env[name])
    .sort();
  for (const name of names) {
    const { path, schema, fromFile } = resolveVariable(root, name);
    const id = path.join('.');
    const earlier = settings.get(id);
    if (earlier)
      throw new ConfigError(`${earlier.variable} and ${name} both set config key "${id}": set one of them`);
    const text = fromFile ? readSecretFile(name, env[name]!) : env[name]!;
    settings.set(id, { path, value: coerce(schema, text, name), variable: name });
  }
  return [...settings.values()];
}
