import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a browser stays known to an account after its last successful sign-in there. */
export const knownDeviceSeconds = 90 * 24 * 3600;
/** Accounts one browser is known for (a shared computer); the oldest is dropped first. */
const maxTokensPerBrowser = 5;

/**
 * Device cookies (OWASP, "Slow down online guessing attacks with device cookies"): a browser in which an account's
 * password was entered correctly gets a token for that account. Password failures from a browser holding one count
 * against that token alone, so a lock made by strangers guessing at an email does not shut its owner out.
 *
 * A token is `nonce.expiry.mac`, the MAC over the account's email, the nonce and the expiry: nothing is stored, the
 * email is not readable from the cookie, and a token only works for the address it was issued for. The nonce names
 * the browser in its throttle key. Tokens made under a previous root secret still verify during a rotation.
 */
export interface KnownDevices {
  /** This browser's device id for the typed email, when its cookie holds a valid token for it. */
  recognise(cookie: string | undefined, email: string): string | undefined;
  /** The cookie to set after the email's password was right in this browser (its token renewed or added). */
  remember(cookie: string | undefined, email: string): string;
}

const tokenPattern = /^([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export function createKnownDevices(keys: readonly Buffer[], now: () => number = Date.now): KnownDevices {
  const normalise = (email: string) => email.trim().toLowerCase();
  const mac = (key: Buffer, email: string, nonce: string, expiry: string) =>
    createHmac('sha256', key)
      .update(`${normalise(email)}\n${nonce}\n${expiry}`)
      .digest();

  /** The cookie's tokens that have not expired, each with whether it was issued for `email`. */
  function tokensOf(cookie: string | undefined, email: string) {
    const nowSeconds = Math.floor(now() / 1000);
    return (cookie ?? '')
      .split('~', maxTokensPerBrowser)
      .map((token) => tokenPattern.exec(token))
      .filter((match): match is RegExpExecArray => match !== null && Number(match[2]) > nowSeconds)
      .map(([token, nonce, expiry, given]) => {
        const presented = Buffer.from(given!, 'base64url');
        const forEmail = keys.some((key) => timingSafeEqual(mac(key, email, nonce!, expiry!), presented));
        return { token: token!, nonce: nonce!, forEmail };
      });
  }

  return {
    recognise(cookie, email) {
      if (!cookie || cookie.length > 1000) return undefined;
      return tokensOf(cookie, email).find((token) => token.forEmail)?.nonce;
    },

    remember(cookie, email) {
      const tokens = cookie && cookie.length <= 1000 ? tokensOf(cookie, email) : [];
      const nonce = tokens.find((token) => token.forEmail)?.nonce ?? randomBytes(16).toString('base64url');
      const expiry = String(Math.floor(now() / 1000) + knownDeviceSeconds);
      const fresh = `${nonce}.${expiry}.${mac(keys[0]!, email, nonce, expiry).toString('base64url')}`;
      const others = tokens.filter((token) => !token.forEmail).map((token) => token.token);
      return [fresh, ...others].slice(0, maxTokensPerBrowser).join('~');
    },
  };
}
