/**
 * Names of the cookies Gatehouse sets. Several layers read the same cookie (the account page reads oidc-provider's
 * session cookie, the device pages guard its form), so each name is written here once.
 */

/** oidc-provider's cookies (`cookies.names` in its configuration). */
export const providerCookieNames = {
  session: 'gh_session',
  interaction: 'gh_interaction',
  resume: 'gh_resume',
} as const;

/** The account page's own sign-in (it is a relying party of Gatehouse, with cookies of its own). */
export const accountCookieNames = {
  session: 'gh_account',
  signIn: 'gh_account_login',
} as const;

/** The admin console's own sign-in (a relying party of Gatehouse like the account page). */
export const consoleCookieNames = {
  session: 'gh_console',
  signIn: 'gh_console_login',
} as const;

/**
 * The cookie binding an upstream round trip to the browser that started it. With an https issuer it carries the
 * `__Host-` prefix (Secure, no Domain, path /), so a sibling subdomain cannot plant a value of its own.
 */
export const federationBrowserCookieName = (secure: boolean) =>
  secure ? '__Host-gh_federation' : 'gh_federation';

/**
 * The device cookie: tokens of the accounts whose password was entered correctly in this browser (see
 * `src/libraries/known-devices.ts`). `__Host-` on https, like the federation cookie.
 */
export const knownDeviceCookieName = (secure: boolean) => (secure ? '__Host-gh_device' : 'gh_device');
