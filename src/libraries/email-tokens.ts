import { createHash, randomBytes } from 'node:crypto';

/** A new link token: 32 random bytes (base64url, 43 characters) for the link, and the SHA-256 stored in its place. */
export function newEmailToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashEmailToken(token) };
}

/** The stored form of a link token; undefined for anything that cannot be one (no database read for junk). */
export function hashEmailToken(token: string): Buffer;
export function hashEmailToken(token: unknown): Buffer | undefined;
export function hashEmailToken(token: unknown): Buffer | undefined {
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  return createHash('sha256').update(token).digest();
}

/** "30 minutes", "3 days": how long a link stays valid, for the message. */
export function describeDuration(seconds: number): string {
  const units: [number, string][] = [
    [86_400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  for (const [size, name] of units)
    if (seconds >= size && seconds % size === 0) {
      const count = seconds / size;
      return `${count} ${name}${count === 1 ? '' : 's'}`;
    }
  const minutes = Math.max(1, Math.round(seconds / 60));
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
