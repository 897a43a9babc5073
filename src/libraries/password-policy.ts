import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { invalidRequest } from '../errors/app-error.ts';

export interface PasswordRules {
  /** Minimum length of a password that is the only factor (NIST SP 800-63B rev. 4: 15). */
  minLength: number;
  /** Minimum length when the account has a second factor (NIST: 8). */
  minLengthWithMfa: number;
  /** Maximum length (NIST: at least 64). */
  maxLength: number;
}

/** Passwords compare and hash after NFKC, so the same password typed on another keyboard still matches. */
export const normalisePassword = (password: string) => password.normalize('NFKC');

/** The list of common and breached passwords shipped in config/common-passwords.txt. */
export function loadCommonPasswords(
  path = fileURLToPath(new URL('../../config/common-passwords.txt', import.meta.url)),
): ReadonlySet<string> {
  return new Set(
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0 && !line.startsWith('#')),
  );
}

/**
 * Password rules after NIST SP 800-63B rev. 4 section 3.1.1.2: length (counted in characters after NFKC), no
 * composition rules, any characters, and a blocklist of common and breached passwords and of context words (the
 * email address). Each refusal says why.
 */
export function createPasswordPolicy(rules: PasswordRules, commonPasswords: ReadonlySet<string>) {
  return {
    rules,
    check(password: string, context: { email?: string | undefined; hasSecondFactor: boolean }): void {
      const normalised = normalisePassword(password);
      const length = [...normalised].length;
      const minimum = context.hasSecondFactor ? rules.minLengthWithMfa : rules.minLength;
      if (length < minimum) {
        const why = context.hasSecondFactor ? '' : ' (8 with two-step verification on)';
        throw invalidRequest(`the password must have at least ${minimum} characters${why}`, 'password');
      }
      if (length > rules.maxLength)
        throw invalidRequest(`the password must have at most ${rules.maxLength} characters`, 'password');
      const lowered = normalised.toLowerCase();
      if (commonPasswords.has(lowered)) {
        throw invalidRequest(
          'this password appears in lists of common or breached passwords; choose another',
          'password',
        );
      }
      const localPart = context.email?.split('@')[0]?.toLowerCase();
      if (localPart && localPart.length >= 4 && lowered.includes(localPart)) {
        throw invalidRequest('the password must not contain your email address', 'password');
      }
      if (/^(.)\1*$/u.test(normalised))
        throw invalidRequest('the password must not be one character repeated', 'password');
    },
  };
}

export type PasswordPolicy = ReturnType<typeof createPasswordPolicy>;
