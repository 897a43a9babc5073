import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Stateless CSRF tokens: an HMAC of what the form is bound to (an interaction uid, an account-page session id).
 * Another site can neither read nor compute it, so a forged POST without it is refused.
 */
export interface CsrfTokens {
  tokenFor(binding: string): string;
  verify(binding: string, token: unknown): boolean;
}

export function createCsrfTokens(key: Buffer): CsrfTokens {
  const tokenFor = (binding: string) => createHmac('sha256', key).update(binding).digest('base64url');
  return {
    tokenFor,
    verify(binding, token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 100) return false;
      const expected = Buffer.from(tokenFor(binding));
      const given = Buffer.from(token);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}
