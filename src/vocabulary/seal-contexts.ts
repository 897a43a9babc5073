/**
 * What each sealed value is for. The context is authenticated with the value (`src/libraries/secret-box.ts`), so a
 * value cannot be replayed as another kind; the queries that re-encrypt values name the same contexts.
 */
export const sealContexts = {
  clientSecret: 'client secret',
  dataKey: 'data key',
  signingKey: 'signing key',
  totpSeed: 'totp seed',
  upstreamClientSecret: 'upstream client secret',
} as const;
