import { hash, parseOptions, verify } from '@node-rs/argon2';
import { normalisePassword } from './password-policy.ts';

export interface Argon2Parameters {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** Password hashing with argon2id (`@node-rs/argon2`, whose default algorithm is argon2id). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a malformed stored hash alike. */
  verify(storedHash: string, password: string): Promise<boolean>;
  /** True when the hash was made with weaker parameters than the configured ones (upgrade at next sign-in). */
  needsRehash(storedHash: string): boolean;
  /**
   * Spends the time of one verification without an account, so that an unknown email costs what a wrong password
   * costs and response times do not tell which emails exist.
   */
  spendVerificationTime(password: string): Promise<void>;
}

export function createPasswordHasher(parameters: Argon2Parameters): PasswordHasher {
  const options = { ...parameters };
  let decoyHash: Promise<string> | undefined;

  return {
    hash: (password) => hash(normalisePassword(password), options),

    async verify(storedHash, password) {
      try {
        return await verify(storedHash, normalisePassword(password));
      } catch {
        return false;
      }
    },

    needsRehash(storedHash) {
      try {
        const stored = parseOptions(storedHash);
        return (
          stored.memoryCost < parameters.memoryCost ||
          stored.timeCost < parameters.timeCost ||
          stored.parallelism !== parameters.parallelism
        );
      } catch {
        return true;
      }
    },

    async spendVerificationTime(password) {
      decoyHash ??= hash('decoy password that no account has', options);
      await verify(await decoyHash, normalisePassword(password)).catch(() => false);
    },
  };
}
