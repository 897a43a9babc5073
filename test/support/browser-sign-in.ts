import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import type { CallbackServer } from './relying-party.ts';
import { startAuthorization } from './relying-party.ts';

export interface Credentials {
  email: string;
  password: string;
}

/** Fills Gatehouse's real login page, if it is the page shown. */
export async function submitLoginIfShown(page: Page, credentials: Credentials): Promise<boolean> {
  if ((await page.locator('input[name="password"]').count()) === 0) return false;
  await page.fill('input[name="email"]', credentials.email);
  await page.fill('input[name="password"]', credentials.password);
  await page.click('button[type="submit"]:has-text("Sign in")');
  return true;
}

/**
 * An app's sign-in as a person lives it: the app (openid-client) builds the authorization request, Chromium shows
 * Gatehouse's pages (login, and consent when asked), the app exchanges the code it receives.
 */
export async function signInWithBrowser(
  page: Page,
  rp: oidc.Configuration,
  app: CallbackServer,
  credentials: Credentials,
  params: Record<string, string> = {},
  tokenParams?: Record<string, string>,
) {
  const pending = await startAuthorization(rp, { redirect_uri: `${app.origin}/cb`, ...params });
  const arrival = app.next('/cb');
  await page.goto(pending.url.href);
  await submitLoginIfShown(page, credentials);
  if (await page.locator('button:has-text("Allow")').count()) await page.click('button:has-text("Allow")');
  const callback = await arrival;
  // The app's server sees the request before the browser has settled on the page: wait for both.
  await page.waitForURL((url) => url.href.startsWith(`${app.origin}/cb`));
  const tokens = await oidc.authorizationCodeGrant(
    rp,
    callback,
    { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce },
    tokenParams,
  );
  return { pending, tokens };
}
