import { Provider } from 'oidc-provider';

/**
 * Typed access to what oidc-provider holds at run time but `@types/oidc-provider` leaves out. Every such reach
 * goes through here, so an upgrade of oidc-provider that moves one of them is found in one file (the same idea as
 * Logto's `oidc-provider-internals.ts`; Gatehouse needs no deep import).
 */

/** The device code an interaction confirms (RFC 8628 section 3.3), set on device-flow interactions only. */
export const deviceCodeOf = (interaction: object): string | undefined =>
  (interaction as { deviceCode?: string }).deviceCode;

/** What oidc-provider recorded of the device that asked for a device code. */
export interface DeviceInfo {
  ip?: string;
  ua?: string;
}
export const deviceInfoOf = (value: unknown): DeviceInfo | undefined => value as DeviceInfo | undefined;

/** The user code a device-flow error carries (a wrong or expired code the person typed). */
export const userCodeOfError = (error: unknown): string | undefined =>
  (error as { userCode?: string } | undefined)?.userCode;

/** How the person authenticated, as a token, code or session carries it (`findAccount` gets it untyped). */
export const authenticationOf = (token: unknown): { amr?: string[]; authTime?: number } | undefined =>
  token as { amr?: string[]; authTime?: number } | undefined;

/** The grant and account behind an opaque access token (client credentials tokens have neither). */
export const grantOfToken = (token: object): { grantId?: string; accountId?: string } =>
  token as { grantId?: string; accountId?: string };

/** The apps a session signed in to, with the `sid` each was given: what a logout must tell. */
export const sessionAuthorizationsOf = (session: unknown): Record<string, { sid?: string }> =>
  (session as { authorizations?: Record<string, { sid?: string }> } | undefined)?.authorizations ?? {};

/**
 * The refresh token the current oidc-provider request is rotating, if any: `RotatedRefreshToken` of the request
 * context oidc-provider keeps in an AsyncLocalStorage (`Provider.ctx`), which the refresh_token grant sets just
 * before it saves the successor.
 */
export function rotatedRefreshTokenOfRequest(): string | undefined {
  const ctx = (
    Provider as unknown as { ctx?: { oidc?: { entities?: { RotatedRefreshToken?: { jti?: string } } } } }
  ).ctx;
  return ctx?.oidc?.entities?.RotatedRefreshToken?.jti;
}
