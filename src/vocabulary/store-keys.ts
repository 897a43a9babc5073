/**
 * Key prefixes in the hot store (Redis, or memory when embedded), one per kind of short-lived record, so that two
 * features never share a prefix and an operator can read a key and know whose it is.
 */
export const storeKeys = {
  /** The sign-in in progress of an interaction (factors passed so far). */
  signIn: (interactionUid: string) => `signin:${interactionUid}`,
  /** The sign-in code mailed for an interaction (its hash), waiting to be typed. */
  emailCode: (interactionUid: string) => `email-code:${interactionUid}`,
  /** An offer to link an upstream identity to an existing account, waiting for its password. */
  linkOffer: (interactionUid: string) => `link-offer:${interactionUid}`,
  /** An upstream round trip, found by its `state` at the callback. */
  federationPending: (state: string) => `federation:${state}`,
  /** What came back from the upstream, for the interaction that started the round trip. */
  federationOutcome: (interactionUid: string) => `federation-result:${interactionUid}`,
  /** Which upstream a federated sign-in came through (for the `idp` claim). */
  loginIdp: (accountId: string, loginTs: number) => `login-idp:${accountId}:${loginTs}`,
  /** The account page's signed-in session. */
  accountSession: (id: string) => `account-session:${id}`,
  /** The account page's own authorization request in progress. */
  accountSignIn: (transaction: string) => `account-login:${transaction}`,
  /** The admin console's signed-in session. */
  consoleSession: (id: string) => `console-session:${id}`,
  /** The admin console's own authorization request in progress. */
  consoleSignIn: (transaction: string) => `console-login:${transaction}`,
  /** A WebAuthn challenge waiting for its one answer, per page that showed it (an interaction step, an account session). */
  passkeyChallenge: (binding: string) => `passkey-challenge:${binding}`,
} as const;
