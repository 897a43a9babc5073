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

/**
 * Opaque access tokens carry 264 bits (44 characters) and refresh tokens oidc-provider's default 256 (43), so a
 * token's length says whether it can be a refresh token. oidc-provider looks a token given without a type hint up
 * in every model it could be (introspection and revocation ask AccessToken, ClientCredentials and RefreshToken at
 * once); with refresh tokens in Postgres, every introspection of an access token would otherwise cost a Postgres
 * query for a refresh token that cannot exist. Refresh tokens issued before this rule stay 43 characters long.
 */
const longerOpaqueTokens: ReadonlySet<string> = new Set(['AccessToken', 'ClientCredentials']);
const defaultOpaqueBits = 256;
const longerOpaqueBits = 264;
/** oidc-provider writes opaque ids in base64url, 6 bits a character. */
export const refreshTokenIdLength = Math.ceil(defaultOpaqueBits / 6);

/** oidc-provider's `formats.bitsOfOpaqueRandomness`. */
export function bitsOfOpaqueRandomness(_ctx: unknown, token: { kind: string }): number {
  return longerOpaqueTokens.has(token.kind) ? longerOpaqueBits : defaultOpaqueBits;
}
