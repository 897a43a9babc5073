import { generate, generateSecret, generateURI, verify } from 'otplib';

/** TOTP (RFC 6238) as authenticator apps use it: SHA-1, 6 digits, 30 s steps. The only importer of otplib. */
export const totpPeriodSeconds = 30;

export interface TotpCheck {
  valid: boolean;
  /** The RFC 6238 time step the code belongs to (for replay protection). */
  timeStep?: number;
}

export function newTotpSecret(): string {
  // 20 bytes, the HMAC-SHA1 key length RFC 4226 recommends.
  return generateSecret({ length: 20 });
}

export function totpUri(secret: string, options: { issuer: string; account: string }): string {
  return generateURI({ issuer: options.issuer, label: options.account, secret });
}

/**
 * Accepts a code of the current step or one step either side (clock drift), and only for a step later than
 * `afterTimeStep` (a code is never accepted twice).
 * @param now seconds since the epoch; tests pass a controlled clock
 */
export async function checkTotp(
  secret: string,
  code: string,
  options: { afterTimeStep?: number | undefined; now?: number } = {},
): Promise<TotpCheck> {
  if (!/^\d{6}$/.test(code)) return { valid: false };
  const result = await verify({
    secret,
    token: code,
    epochTolerance: totpPeriodSeconds,
    ...(options.now !== undefined ? { epoch: options.now } : {}),
    ...(options.afterTimeStep !== undefined ? { afterTimeStep: options.afterTimeStep } : {}),
  });
  // The functional API types results for HOTP and TOTP alike; a TOTP result carries its time step.
  return result.valid
    ? { valid: true, timeStep: (result as { timeStep: number }).timeStep }
    : { valid: false };
}

/** The code an authenticator app shows at `now` (seconds); for provisioning checks and tests. */
export function totpCodeAt(secret: string, now: number): Promise<string> {
  return generate({ secret, epoch: now });
}
