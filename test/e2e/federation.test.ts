import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { submitLoginIfShown } from '../support/browser-sign-in.ts';
import { createHttpBrowser, formAction, formField, type HttpBrowser } from '../support/http-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import {
  discoverAsClient,
  startAuthorization,
  startCallbackServer,
  type CallbackServer,
} from '../support/relying-party.ts';

/**
 * "Login with <an OpenID provider>": the upstream is a second Gatehouse (on `localhost`, so the two keep their
 * cookies apart), driven through both login pages in Chromium.
 */
const ursula = { email: 'ursula@example.com', password: 'upstream user passphrase' };
const victor = {
  email: 'victor@example.com',
  password: 'upstream second passphrase',
  local: 'downstream local passphrase',
};
const uma = { email: 'uma@example.com', password: 'unverified at upstream pass' };

describe('signing in through an upstream OpenID provider', () => {
  let upstream: GatehouseProcess;
  let downstream: GatehouseProcess;
  let app: CallbackServer;
  let browser: Browser;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    upstream = await startGatehouseProcess({ host: 'localhost' });
    downstream = await startGatehouseProcess();
    app = await startCallbackServer();
    browser = await launchChromium();
    await upstream.cli(
      'user',
      'create',
      '--email',
      ursula.email,
      '--password',
      ursula.password,
      '--name',
      'Ursula Upstream',
      '--email-verified',
    );
    await upstream.cli(
      'user',
      'create',
      '--email',
      victor.email,
      '--password',
      victor.password,
      '--email-verified',
    );
    await upstream.cli('user', 'create', '--email', uma.email, '--password', uma.password);
    await upstream.cli(
      'client',
      'create',
      '--id',
      'downstream',
      '--secret',
      'downstream-secret-0123',
      '--first-party',
      '--scope',
      'openid email profile',
      '--redirect-uri',
      `${downstream.url}/federation/corp/callback`,
    );
    await downstream.cli(
      'user',
      'create',
      '--email',
      victor.email,
      '--password',
      victor.local,
      '--name',
      'Victor Local',
    );
    await downstream.cli('user', 'create', '--email', uma.email, '--password', 'downstream uma passphrase');
    await downstream.cli(
      'client',
      'create',
      '--id',
      'app',
      '--secret',
      'app-secret-0123456789',
      '--first-party',
      '--redirect-uri',
      `${app.origin}/cb`,
    );
    rp = await discoverAsClient(downstream.url, 'app', 'app-secret-0123456789');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await downstream?.cleanup();
    await upstream?.cleanup();
  });

  it('registers the upstream through discovery and prints the callback URL to give it', async () => {
    const created = await downstream.cli(
      'idp',
      'create',
      '--id',
      'corp',
      '--type',
      'oidc',
      '--issuer',
      upstream.url,
      '--client-id',
      'downstream',
      '--client-secret',
      'downstream-secret-0123',
      '--name',
      'Corp ID',
      '--json',
    );
    expect(created.code).toBe(0);
    expect(created.json()).toMatchObject({
      id: 'corp',
      type: 'oidc',
      name: 'Corp ID',
      redirect_uri: `${downstream.url}/federation/corp/callback`,
    });
    const unreachable = await downstream.cli(
      'idp',
      'create',
      '--id',
      'ghost',
      '--type',
      'oidc',
      '--issuer',
      'http://127.0.0.1:9',
      '--client-id',
      'x',
      '--client-secret',
      'y',
    );
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain('could not read the OpenID configuration');
  });

  /** From the app, through "Continue with Corp ID", the upstream's login page and back. */
  async function signInThroughUpstream(page: Page, who: { email: string; password: string }) {
    const pending = await startAuthorization(rp, {
      redirect_uri: `${app.origin}/cb`,
      scope: 'openid email profile',
    });
    await page.goto(pending.url.href);
    await page.click('button:has-text("Continue with Corp ID")');
    await page.waitForURL((url) => url.host === new URL(upstream.url).host);
    await submitLoginIfShown(page, who);
    return pending;
  }

  async function finishAtApp(page: Page, pending: Awaited<ReturnType<typeof startAuthorization>>) {
    const callback = await app.next('/cb');
    await page.waitForURL((url) => url.pathname === '/cb');
    return oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
  }

  async function fresh(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    return { context, page: await context.newPage() };
  }

  let ursulaSub: string;

  it('creates and links an account on the first sign-in, with amr "fed" and the idp claim', async () => {
    const { context, page } = await fresh();
    const tokens = await finishAtApp(page, await signInThroughUpstream(page, ursula));
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      email: ursula.email,
      name: 'Ursula Upstream',
      amr: ['fed'],
      idp: 'corp',
      acr: 'urn:gatehouse:acr:federated',
    });
    ursulaSub = claims.sub;
    const users = (await downstream.cli('user', 'list', '--json')).json<{ email: string }[]>();
    expect(users.filter((user) => user.email === ursula.email)).toHaveLength(1);
    await context.close();
  });

  it('finds the same account on the next sign-in', async () => {
    const { context, page } = await fresh();
    const tokens = await finishAtApp(page, await signInThroughUpstream(page, ursula));
    expect(tokens.claims()!.sub).toBe(ursulaSub);
    expect(
      (await downstream.cli('user', 'list', '--json'))
        .json<{ email: string }[]>()
        .filter((user) => user.email === ursula.email),
    ).toHaveLength(1);
    await context.close();
  });

  it('links an existing account with the same verified email only after its password confirms it', async () => {
    const { context, page } = await fresh();
    const pending = await signInThroughUpstream(page, victor);
    await expect(page.locator('.notice').textContent()).resolves.toContain(
      'Sign in with your password once to link it to Corp ID',
    );
    expect(await page.inputValue('input[name="email"]')).toBe(victor.email);
    await page.fill('input[name="password"]', victor.local);
    await page.click('button[type="submit"]:has-text("Sign in")');
    const tokens = await finishAtApp(page, pending);
    const local = (await downstream.cli('user', 'list', '--json'))
      .json<{ id: string; email: string }[]>()
      .find((user) => user.email === victor.email)!;
    expect(tokens.claims()).toMatchObject({ sub: local.id, name: 'Victor Local' });
    await context.close();

    const again = await fresh();
    const direct = await finishAtApp(again.page, await signInThroughUpstream(again.page, victor));
    expect(direct.claims()).toMatchObject({ sub: local.id, amr: ['fed'], idp: 'corp' });
    await again.context.close();
  });

  it('does not link an existing account to an upstream that has not verified the email', async () => {
    const { context, page } = await fresh();
    await signInThroughUpstream(page, uma);
    await expect(page.locator('.error').textContent()).resolves.toContain('has not verified uma@example.com');
    await expect(page.locator('input[name="password"]').count()).resolves.toBe(1);
    await context.close();
  });

  /**
   * The round trip over plain HTTP up to the moment the upstream sends the browser back: returns the callback URL
   * (with the upstream's code and Gatehouse's state) without following it.
   */
  async function upstreamCallback(browser: HttpBrowser): Promise<URL> {
    const pending = await startAuthorization(rp, { redirect_uri: `${app.origin}/cb` });
    let response = await browser.get(pending.url.href);
    let html = await (
      await browser.get(new URL(response.headers.get('location')!, downstream.url).href)
    ).text();
    response = await browser.post(new URL(formAction(html, '/federation/corp'), downstream.url).href, {
      csrf: formField(html, 'csrf'),
    });
    for (let hops = 0; hops < 10; hops += 1) {
      const location = response.headers.get('location');
      if (location) {
        const next = new URL(location, upstream.url);
        if (next.pathname === '/federation/corp/callback') return next;
        response = await browser.get(next.href);
        continue;
      }
      html = await response.text();
      response = await browser.post(new URL(formAction(html, '/login'), upstream.url).href, {
        csrf: formField(html, 'csrf'),
        email: ursula.email,
        password: ursula.password,
      });
    }
    throw new Error('the upstream did not send the browser back');
  }

  it('rejects a callback with a tampered state, or from another browser, or replayed', async () => {
    const browser = createHttpBrowser();
    const callback = await upstreamCallback(browser);
    const tampered = new URL(callback);
    tampered.searchParams.set('state', `${callback.searchParams.get('state')}x`);
    const refused = await browser.get(tampered.href);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('This sign-in link is not valid');

    // The state is bound to the interaction: in a browser without its cookie, the round trip cannot finish.
    const stranger = createHttpBrowser();
    const done = await stranger.get(callback.href);
    expect(done.status).toBe(303);
    const elsewhere = await stranger.get(new URL(done.headers.get('location')!, downstream.url).href);
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.text()).toContain('This sign-in page has expired');

    // And once used, the same callback is refused everywhere, including in the browser that started it.
    const replayed = await browser.get(callback.href);
    expect(replayed.status).toBe(400);
  });

  it('ends a cancelled upstream sign-in on the login page, with the other ways to sign in', async () => {
    const { context, page } = await fresh();
    const pending = await startAuthorization(rp, { redirect_uri: `${app.origin}/cb` });
    await page.goto(pending.url.href);
    await page.click('button:has-text("Continue with Corp ID")');
    await page.click('button:has-text("Cancel")');
    await expect(page.locator('.error').textContent()).resolves.toContain(
      'You did not allow Corp ID to sign you in',
    );
    await expect(page.locator('input[name="password"]').count()).resolves.toBe(1);
    await expect(page.locator('button:has-text("Continue with Corp ID")').count()).resolves.toBe(1);
    await context.close();
  });

  it('lists linked identities on the account page and keeps the last way to sign in', async () => {
    const { context, page } = await fresh();
    await page.goto(`${downstream.url}/account/identities`);
    await page.click('button:has-text("Continue with Corp ID")');
    await submitLoginIfShown(page, ursula);
    await page.waitForURL(`${downstream.url}/account/identities`);
    await expect(page.locator('#identities li').textContent()).resolves.toContain('Corp ID');
    await page.click('#identities button:has-text("Remove")');
    await expect(page.locator('.error').textContent()).resolves.toContain('only way to sign in');
    await context.close();
  });
});
