import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { submitLoginIfShown } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import {
  discoverAsClient,
  startAuthorization,
  startCallbackServer,
  type CallbackServer,
} from '../support/relying-party.ts';

/**
 * Single sign-on across internal tools: one Gatehouse session serves every app, `prompt=login` forces the form,
 * signing out of one app signs out of all (back-channel logout tokens to each app that registered for them,
 * front-channel iframes to the others), and a session revoked on the account page takes its refresh tokens along.
 */
const user = { email: 'sam@example.com', password: 'single sign-on passphrase' };

describe('single sign-on', () => {
  let gatehouse: GatehouseProcess;
  let apps: CallbackServer;
  let browser: Browser;
  let page: Page;
  const rp: Record<string, oidc.Configuration> = {};

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess();
    apps = await startCallbackServer();
    browser = await launchChromium();
    page = await browser.newPage();
    expect(
      (await gatehouse.cli('user', 'create', '--email', user.email, '--password', user.password)).code,
    ).toBe(0);
    for (const name of ['wiki', 'dashboard', 'tickets']) {
      const args = [
        'client',
        'create',
        '--id',
        name,
        '--secret',
        `${name}-secret-0123456789`,
        '--first-party',
      ];
      args.push(
        '--redirect-uri',
        `${apps.origin}/${name}/cb`,
        '--post-logout-redirect-uri',
        `${apps.origin}/${name}/bye`,
      );
      if (name !== 'tickets') args.push('--backchannel-logout-uri', `${apps.origin}/${name}/backchannel`);
      else args.push('--frontchannel-logout-uri', `${apps.origin}/${name}/frontchannel`);
      expect((await gatehouse.cli(...args)).code).toBe(0);
      rp[name] = await discoverAsClient(gatehouse.url, name, `${name}-secret-0123456789`);
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await apps?.close();
    await gatehouse?.cleanup();
  });

  /** Runs an app's authorization in the browser; `showsForm` tells whether the login form appeared. */
  async function authorize(app: string, params: Record<string, string> = {}) {
    const pending = await startAuthorization(rp[app]!, {
      redirect_uri: `${apps.origin}/${app}/cb`,
      ...params,
    });
    await page.goto(pending.url.href);
    const showsForm = await submitLoginIfShown(page, user);
    const callback = await apps.next(`/${app}/cb`);
    // The app's server sees the request before the browser has settled on the page: wait for both.
    await page.waitForURL((url) => url.pathname === `/${app}/cb`);
    const tokens = await oidc.authorizationCodeGrant(rp[app]!, callback, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
    return { showsForm, tokens };
  }

  it('signs in once: the second and third apps get their codes without the form', async () => {
    expect((await authorize('wiki')).showsForm).toBe(true);
    expect((await authorize('dashboard')).showsForm).toBe(false);
    expect((await authorize('tickets')).showsForm).toBe(false);
  });

  it('shows the form again when an app asks for prompt=login', async () => {
    expect((await authorize('dashboard', { prompt: 'login' })).showsForm).toBe(true);
  });

  it('lists the session with its apps for the CLI', async () => {
    const listed = (await gatehouse.cli('user', 'sessions', '--email', user.email, '--json')).json<{
      sessions: { clients: string[]; ip: string; userAgent: string }[];
    }>();
    expect(listed.sessions).toHaveLength(1);
    expect(listed.sessions[0]!.clients).toEqual(['dashboard', 'tickets', 'wiki']);
    expect(listed.sessions[0]!.ip).toMatch(/127\.0\.0\.1/);
  });

  it('signs out of every app at once, telling each by back-channel or front-channel logout', async () => {
    const { tokens } = await authorize('wiki');
    const wikiLogout = apps.nextPost('/wiki/backchannel');
    const dashboardLogout = apps.nextPost('/dashboard/backchannel');
    const ticketsFrame = apps.next('/tickets/frontchannel');
    const bye = apps.next('/wiki/bye');
    await page.goto(
      oidc.buildEndSessionUrl(rp.wiki!, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: `${apps.origin}/wiki/bye`,
      }).href,
    );
    await page.click('button:has-text("Yes, sign me out")');

    const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/jwks`));
    for (const [client, delivery] of [
      ['wiki', wikiLogout],
      ['dashboard', dashboardLogout],
    ] as const) {
      const logoutToken = (await delivery).get('logout_token')!;
      expect(decodeProtectedHeader(logoutToken).typ).toBe('logout+jwt');
      const { payload } = await jwtVerify(logoutToken, jwks, { issuer: gatehouse.url, audience: client });
      expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
      expect(payload.sub).toBe(tokens.claims()!.sub);
      expect(payload.sid).toEqual(expect.any(String));
      expect(payload).not.toHaveProperty('nonce');
    }
    const frame = await ticketsFrame;
    expect(frame.searchParams.get('iss')).toBe(gatehouse.url);
    expect(frame.searchParams.get('sid')).toEqual(expect.any(String));
    await bye;
    await page.waitForURL((url) => url.pathname === '/wiki/bye');
    expect((await authorize('dashboard')).showsForm).toBe(true);
  });

  it('ends a session from the account page, and with it that session’s refresh tokens', async () => {
    const { tokens } = await authorize('wiki', { scope: 'openid email offline_access', prompt: 'consent' });
    expect((await oidc.refreshTokenGrant(rp.wiki!, tokens.refresh_token!)).access_token).toBeDefined();
    await page.goto(`${gatehouse.url}/account/sessions`);
    await submitLoginIfShown(page, user);
    await page.waitForURL(`${gatehouse.url}/account/sessions`);
    await expect(page.locator('#sessions li').count()).resolves.toBe(1);
    await expect(page.locator('#sessions li').textContent()).resolves.toContain('this browser');
    await page.click('#sessions button:has-text("Sign out this session")');
    // The account page was signed in through that session: it ends with it and asks for the password again.
    await page.waitForURL((url) => url.pathname.startsWith('/interaction/'));
    await expect(page.locator('input[name="password"]').count()).resolves.toBe(1);
    await expect(oidc.refreshTokenGrant(rp.wiki!, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect((await authorize('dashboard')).showsForm).toBe(true);
  });

  it('signs a user out everywhere from the CLI while the server runs', async () => {
    const { tokens } = await authorize('wiki', { scope: 'openid email offline_access', prompt: 'consent' });
    const result = await gatehouse.cli('user', 'sign-out-everywhere', '--email', user.email, '--json');
    expect(result.json()).toMatchObject({ queued: false, sessions: 1 });
    await expect(oidc.refreshTokenGrant(rp.wiki!, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect((await oidc.tokenIntrospection(rp.wiki!, tokens.access_token)).active).toBe(false);
    expect((await authorize('wiki')).showsForm).toBe(true);
  });
});

describe('session lifetimes', () => {
  let gatehouse: GatehouseProcess;
  let apps: CallbackServer;
  let browser: Browser;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess({ config: { ttl: { sessionIdle: 2 } } });
    apps = await startCallbackServer();
    browser = await launchChromium();
    await gatehouse.cli('user', 'create', '--email', user.email, '--password', user.password);
    await gatehouse.cli(
      'client',
      'create',
      '--id',
      'wiki',
      '--secret',
      'wiki-secret-0123456789',
      '--first-party',
      '--redirect-uri',
      `${apps.origin}/cb`,
    );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await apps?.close();
    await gatehouse?.cleanup();
  });

  it('ends a session left idle longer than the idle timeout', async () => {
    const rp = await discoverAsClient(gatehouse.url, 'wiki', 'wiki-secret-0123456789');
    const page = await browser.newPage();
    const first = await startAuthorization(rp, { redirect_uri: `${apps.origin}/cb` });
    await page.goto(first.url.href);
    expect(await submitLoginIfShown(page, user)).toBe(true);
    await apps.next('/cb');
    await page.waitForURL((url) => url.pathname === '/cb');
    const again = await startAuthorization(rp, { redirect_uri: `${apps.origin}/cb` });
    await page.goto(again.url.href);
    expect(await page.locator('input[name="password"]').count()).toBe(0);
    await apps.next('/cb');
    await page.waitForURL((url) => url.pathname === '/cb');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const late = await startAuthorization(rp, { redirect_uri: `${apps.origin}/cb` });
    await page.goto(late.url.href);
    expect(await page.locator('input[name="password"]').count()).toBe(1);
  });
});
