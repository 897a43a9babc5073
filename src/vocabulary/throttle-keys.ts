/**
 * Keys of the attempt throttles. Sign-in counts failures under them and `gatehouse user unlock` forgets them: a key
 * spelled two ways would leave an account locked after its unlock, so every key is built here.
 */
export const throttleKeys = {
  /** Password failures for an email address, whether or not an account has it. */
  email: (email: string) => `email:${email.trim().toLowerCase()}`,
  /** Password failures from a browser known to the account (a device cookie), counted apart from the email's. */
  knownDevice: (deviceId: string) => `device:${deviceId}`,
  /** Failures from one client address. */
  ip: (ip: string) => `ip:${ip}`,
  /** Wrong current passwords on the account page's password change. */
  passwordChange: (accountId: string) => `change:${accountId}`,
  /** Second-factor failures of an account. */
  secondFactor: (accountId: string) => `account:${accountId}`,
  /** "Forgot password?" requests for an email address, whether or not an account has it. */
  passwordResetEmail: (email: string) => `reset-email:${email.trim().toLowerCase()}`,
  /** Requests for a sign-in code by email, per typed address. */
  emailCodeRequest: (email: string) => `email-code-request:${email.trim().toLowerCase()}`,
  /** Wrong sign-in codes typed for an address (known or not). */
  emailCodeGuess: (email: string) => `email-code-guess:${email.trim().toLowerCase()}`,
  /** Requests to change an account's address on the account page. */
  emailChange: (accountId: string) => `email-change:${accountId}`,
  /** "Create an account" requests for an email address, whether or not an account has it. */
  signUpEmail: (email: string) => `sign-up-email:${email.trim().toLowerCase()}`,
} as const;
