import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { signInWithBrowser, submitLoginIfShown } from '../support/browser-sign-in.ts';
import {
  startGatehouseProcess,
  type GatehouseProcess,
  type StorageMode,
} from '../support/gatehouse-process.ts';
import {
  discoverAsClient,
  startAuthorization,
  startCallbackServer,
  type CallbackServer,
} from '../support/relying-party.ts';

/**
 * What a real app sees: Gatehouse runs as its own process; a person signs in through the real login page in
 * Chromium; the app is openid-client. The same flow runs on real Postgres + Redis and on the embedded defaults.
 */
const user = { email: 'grace@example.com', password: 'a long enough passphrase', name: 'Grace Hopper' };
const secret = 'e2e-client-secret-0123456789';

describe.each<StorageMode>(['real', 'embedded'])('signing in to an app (%s storage)', (mode) => {
  let gatehouse: GatehouseProcess;
  let app: CallbackServer;
  let browser: Browser;
  let page: Page;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess({ mode, config: { refreshToken: { reuseGraceSeconds: 0 } } });
    app = await startCallbackServer();
    browser = await launchChromium();
    page = await browser.newPage();
    const created = await gatehouse.cli(
      'user',
      'create',
      '--email',
      user.email,
      '--password',
      user.password,
      '--name',
      user.name,
      '--json',
    );
    expect(created.code).toBe(0);
    const client = await gatehouse.cli(
      'client',
      'create',
      '--id',
      'e2e-app',
      '--secret',
      secret,
      '--redirect-uri',
      `${app.origin}/cb`,
      '--post-logout-redirect-uri',
      `${app.origin}/signed-out`,
      '--grant-type',
      'authorization_code',
      '--grant-type',
      'refresh_token',
      '--grant-type',
      'client_credentials',
      '--json',
    );
    expect(client.code).toBe(0);
    rp = await discoverAsClient(gatehouse.url, 'e2e-app', secret);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await gatehouse?.cleanup();
  });

  const signInThroughBrowser = (params: Record<string, string>) =>
    signInWithBrowser(page, rp, app, user, params);

  it('signs in with code + PKCE and issues an ID token that verifies against the JWKS', async () => {
    const { pending, tokens } = await signInThroughBrowser({
      scope: 'openid email profile offline_access',
      prompt: 'consent',
    });
    const { payload, protectedHeader } = await jwtVerify(
      tokens.id_token!,
      createRemoteJWKSet(new URL(`${gatehouse.url}/jwks`)),
      {
        issuer: gatehouse.url,
        audience: 'e2e-app',
      },
    );
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ nonce: pending.nonce, email: user.email, name: user.name, amr: ['pwd'] });

    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, payload.sub!);
    expect(userinfo).toMatchObject({ sub: payload.sub, email: user.email, name: user.name });

    // Refresh with rotation: the new token works, the old one is refused, and presenting it again ends the grant.
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect((await oidc.tokenIntrospection(rp, refreshed.access_token)).active).toBe(true);
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect((await oidc.tokenIntrospection(rp, refreshed.access_token)).active).toBe(false);
  });

  it('introspects an access token as active, and as inactive once the app revokes it', async () => {
    const { tokens } = await signInThroughBrowser({ scope: 'openid email' });
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toMatchObject({
      active: true,
      sub: tokens.claims()!.sub,
      client_id: 'e2e-app',
      scope: 'openid email',
    });
    await oidc.tokenRevocation(rp, tokens.access_token);
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).active).toBe(false);
  });

  it('issues client_credentials tokens to the app itself', async () => {
    const tokens = await oidc.clientCredentialsGrant(rp, {});
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toMatchObject({
      active: true,
      client_id: 'e2e-app',
    });
  });

  it('signs out through RP-initiated logout, after which a new authorization shows the login form again', async () => {
    const { tokens } = await signInThroughBrowser({ scope: 'openid email' });
    const signedOut = app.next('/signed-out');
    await page.goto(
      oidc.buildEndSessionUrl(rp, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: `${app.origin}/signed-out`,
      }).href,
    );
    await page.click('button:has-text("Yes, sign me out")');
    await signedOut;

    const pending = await startAuthorization(rp, { redirect_uri: `${app.origin}/cb` });
    await page.goto(pending.url.href);
    await expect(page.locator('input[name="password"]').count()).resolves.toBe(1);
  });

  it('shows the account page of whoever signs in, with a sign-out button', async () => {
    await page.goto(`${gatehouse.url}/account`);
    await submitLoginIfShown(page, user);
    await page.waitForURL(`${gatehouse.url}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(user.email);
    await expect(page.locator('#account-name').textContent()).resolves.toBe(user.name);
    await page.click('button:has-text("Sign out")');
    await page.click('button:has-text("Yes, sign me out")');
    await page.waitForURL(`${gatehouse.url}/account/signed-out`);
    await page.goto(`${gatehouse.url}/account`);
    await expect(page.locator('input[name="password"]').count()).resolves.toBe(1);
  });
  it('changes the password on the account page, which then signs out every other session', async () => {
    const elsewhere = await browser.newContext();
    const otherPage = await elsewhere.newPage();
    await signInWithBrowser(otherPage, rp, app, user, { scope: 'openid email' });

    await page.goto(`${gatehouse.url}/account/password`);
    await submitLoginIfShown(page, user);
    await page.waitForURL(`${gatehouse.url}/account/password`);
    await page.fill('input[name="current_password"]', user.password);
    await page.fill('input[name="new_password"]', 'short');
    await page.click('button:has-text("Change password")');
    await expect(page.locator('.error').textContent()).resolves.toContain('at least 15 characters');
    await page.fill('input[name="current_password"]', user.password);
    await page.fill('input[name="new_password"]', 'an entirely new secret phrase');
    await page.click('button:has-text("Change password")');
    await expect(page.locator('[role="status"]').textContent()).resolves.toContain(
      'Your password is changed',
    );

    const pending = await startAuthorization(rp, { redirect_uri: `${app.origin}/cb` });
    await otherPage.goto(pending.url.href);
    expect(await submitLoginIfShown(otherPage, user)).toBe(true);
    await expect(otherPage.locator('.error').textContent()).resolves.toBe('Wrong email or password.');
    await otherPage.fill('input[name="password"]', 'an entirely new secret phrase');
    await otherPage.click('button[type="submit"]:has-text("Sign in")');
    if (await otherPage.locator('button:has-text("Allow")').count())
      await otherPage.click('button:has-text("Allow")');
    await app.next('/cb');
    await elsewhere.close();
  });
});
