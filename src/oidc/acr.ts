/**
 * Authentication Context Class References Gatehouse issues (published in discovery's `acr_values_supported`).
 * An app that needs a second factor asks for `acr_values=urn:gatehouse:acr:mfa`.
 */
export const acrValues = {
  password: 'urn:gatehouse:acr:password',
  /** Signed in through an upstream identity provider ("Login with ..."). */
  federated: 'urn:gatehouse:acr:federated',
  /** Signed in with a one-time code mailed to the account's address. */
  emailCode: 'urn:gatehouse:acr:email-code',
  mfa: 'urn:gatehouse:acr:mfa',
} as const;
