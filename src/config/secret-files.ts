import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors/config-error.ts';

/**
 * The contract's variables that carry a secret (a password inside a URL counts). Each may instead name a file in
 * `<NAME>_FILE`, as Docker and Kubernetes secrets are mounted, so the secret never sits in the environment.
 */
export const secretVariables = [
  'GATEHOUSE_SECRET',
  'GATEHOUSE_PREVIOUS_SECRETS',
  'DATABASE_URL',
  'REDIS_URL',
  'GATEHOUSE_METRICS_TOKEN',
  'GATEHOUSE_SMTP_URL',
] as const;

/**
 * The content of the file a `..._FILE` variable names, without the one trailing newline that `echo ... > file`
 * and most secret stores leave (the secret itself is never part of a message).
 *
 * @example
 * readSecretFile('DATABASE_URL_FILE', '/run/secrets/database_url'); // 'postgres://gatehouse:...@postgres/gatehouse'
 */
export function readSecretFile(variable: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`${variable}: cannot read ${path} (${reason})`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new ConfigError(`${variable}: ${path} is empty`);
  return value;
}

/**
 * `env` with each secret variable filled from its `_FILE` when that is set. Setting both is refused: which one wins
 * would be a guess. Empty variables count as unset, as everywhere in the contract.
 */
export function withSecretFiles(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const resolved: NodeJS.ProcessEnv = { ...env };
  for (const name of secretVariables) {
    const fileVariable = `${name}_FILE`;
    const path = env[fileVariable];
    if (!path) continue;
    if (env[name]) throw new ConfigError(`${name} and ${fileVariable} are both set: set one of them`);
    resolved[name] = readSecretFile(fileVariable, path);
  }
  return resolved;
}
