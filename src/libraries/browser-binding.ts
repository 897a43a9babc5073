import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Binds a server-side record to the browser that created it: the browser keeps a random value in an `HttpOnly`
 * cookie, the record keeps only its hash. A request that arrives without the cookie (another browser, a link sent
 * to a victim) cannot be matched to the record, so it can neither complete nor read it (RFC 9700 section 4.7.1:
 * the authorization response must be bound to the user agent that started the request).
 */
export function createBrowserBinding(): { value: string; hash: string } {
  const value = randomBytes(32).toString('base64url');
  return { value, hash: hashBinding(value) };
}

export function hashBinding(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** Whether `cookieValue` is the value whose hash the record kept (timing-safe). */
export function isSameBrowser(expectedHash: string | undefined, cookieValue: string | undefined): boolean {
  if (typeof expectedHash !== 'string' || !cookieValue || cookieValue.length > 100) return false;
  const given = Buffer.from(hashBinding(cookieValue));
  const expected = Buffer.from(expectedHash);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
