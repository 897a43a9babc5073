/** oidc-provider models whose instances belong to a grant and go when it is revoked. */
export const grantableModels: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/**
 * Models kept in Postgres: what a user allowed (Grant) and their offline access (RefreshToken) must outlive a
 * Redis restart. Everything else is short-lived and hot, and lives in Redis (or the in-memory store).
 */
export const durableModels: ReadonlySet<string> = new Set(['Grant', 'RefreshToken']);

/**
 * How long a record is kept after it expires. oidc-provider checks expiry itself (with 15 s clock tolerance); keeping a record a little
 * longer lets it answer precisely: a device code polled after expiry gets `expired_token` (RFC 8628 section
 * 3.5), not `invalid_grant`, and clocks that disagree by a few seconds do not lose a record early.
 */
export function retentionAfterExpirySeconds(model: string): number {
  if (model === 'DeviceCode' || model === 'BackchannelAuthenticationRequest') return 600;
  // A session ends exactly at its idle or absolute limit: oidc-provider would honour it for its 15 s clock tolerance.
  if (model === 'Session') return 0;
  return 15;
}
