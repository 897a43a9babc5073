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
    // An address the upstream has not verified is no address: it finds no account (no link offered, no password
    // asked), and the account the sign-in makes has no email for relying parties to take as the person's.
    const { context, page } = await fresh();
    const tokens = await finishAtApp(page, await signInThroughUpstream(page, uma));
    const claims = tokens.claims()!;
    const users = (await downstream.cli('user', 'list', '--json')).json<{ id: string; email: string }[]>();
    const local = users.filter((user) => user.email === uma.email);
    expect(local).toHaveLength(1);
    expect(claims.sub).not.toBe(local[0]!.id);
    expect(claims).toMatchObject({ amr: ['fed'], idp: 'corp' });
    expect(claims.email).toBeUndefined();
    expect(claims.email_verified).toBeUndefined();
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

    // The state is bound to the browser that started the round trip: another browser gets an error page, and the
    // round trip is burnt, so not even the browser that started it can finish it afterwards.
    const stranger = createHttpBrowser();
    const elsewhere = await stranger.get(callback.href);
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.text()).toContain('started in another browser');
    const replayed = await browser.get(callback.href);
    expect(replayed.status).toBe(400);
    expect(await replayed.text()).toContain('This sign-in link is not valid');
  });

  it('finishes the round trip in the browser that started it, and refuses its replay', async () => {
    const browser = createHttpBrowser();
    const callback = await upstreamCallback(browser);
    const done = await browser.get(callback.href);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toMatch(/^\/interaction\/[^/]+\/federation\/done/);
    const replayed = await browser.get(callback.href);
    expect(replayed.status).toBe(400);
    expect(await replayed.text()).toContain('This sign-in link is not valid');
  });

  it('stops the one-click account takeover: a victim completing an attacker’s upstream link signs nobody in', async () => {
    // The victim is signed in at the upstream (Corp ID) in their own browser.
    const victim = await fresh();
    await victim.page.goto(`${upstream.url}/account`);
    await submitLoginIfShown(victim.page, ursula);
    await victim.page.waitForURL(`${upstream.url}/account`);

    // The attacker starts "Continue with Corp ID" in their browser and keeps the upstream link it is sent to.
    const attacker = await fresh();
    const pending = await startAuthorization(rp, { redirect_uri: `${app.origin}/cb` });
    await attacker.page.goto(pending.url.href);
    const loginPage = new URL(attacker.page.url());
    const toUpstream = attacker.page.waitForResponse(
      (response) => response.headers()['location']?.startsWith(`${upstream.url}/`) === true,
    );
    await attacker.page.click('button:has-text("Continue with Corp ID")');
    const upstreamLink = (await toUpstream).headers()['location']!;

    // The victim opens the link and signs in at the upstream, which sends their browser back to Gatehouse.
    const callback = victim.page.waitForResponse(
      (response) => new URL(response.url()).pathname === '/federation/corp/callback',
    );
    await victim.page.goto(upstreamLink);
    await submitLoginIfShown(victim.page, ursula);
    const victimCallback = await callback;

    // Whatever Gatehouse URL the attacker opens afterwards, no code for the victim reaches the attacker's app:
    // the attacker stays on Gatehouse's login page.
    const uid = loginPage.pathname.split('/')[2]!;
    for (const path of [`/interaction/${uid}/federation/done`, `/interaction/${uid}`]) {
      await attacker.page.goto(`${downstream.url}${path}?client_id=app`);
      expect(new URL(attacker.page.url()).origin).toBe(downstream.url);
      await expect(attacker.page.locator('input[name="password"]').count()).resolves.toBe(1);
    }

    // The victim's browser was told what happened, and nothing was signed in.
    expect(victimCallback.status()).toBe(400);
    await expect(victim.page.locator('h1').textContent()).resolves.toContain('started in another browser');
    const refused = (await downstream.cli('audit', '--since', '10m', '--json')).json<{ type: string }[]>();
    expect(refused.some((event) => event.type === 'federation.callback_refused')).toBe(true);
    await attacker.context.close();
    await victim.context.close();
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

  it('stops a role rule from reading a claim users set themselves (GitHub login, OpenID profile claims)', async () => {
    const profileRule = await downstream.cli(
      'idp',
      'create',
      '--id',
      'corp-names',
      '--type',
      'oidc',
      '--issuer',
      upstream.url,
      '--client-id',
      'downstream',
      '--client-secret',
      'downstream-secret-0123',
      '--role-rule',
      'preferred_username=root:admin',
    );
    expect(profileRule.code).toBe(2);
    expect(profileRule.stderr).toContain('"preferred_username"');
    const loginRule = await downstream.cli(
      'idp',
      'create',
      '--id',
      'gh',
      '--type',
      'github',
      '--client-id',
      'x',
      '--client-secret',
      'y',
      '--role-rule',
      'login=octocat:admin',
    );
    expect(loginRule.code).toBe(2);
    expect(loginRule.stderr).toContain('"login"');

    // What rules may read (a GitHub user's `site_admin`), and the operator's word that the upstream verifies emails.
    const created = await downstream.cli(
      'idp',
      'create',
      '--id',
      'gh',
      '--type',
      'github',
      '--client-id',
      'x',
      '--client-secret',
      'y',
      '--link-policy',
      'auto',
      '--trust-email',
      '--role-rule',
      'site_admin=true:admin',
      '--json',
    );
    expect(created.code).toBe(0);
    expect(created.json()).toMatchObject({ id: 'gh', linkPolicy: 'auto', trustEmail: true });
    const listed = (await downstream.cli('idp', 'list', '--json')).json<
      { id: string; trustEmail: boolean }[]
    >();
    expect(listed.map(({ id, trustEmail }) => ({ id, trustEmail }))).toEqual(
      expect.arrayContaining([
        { id: 'corp', trustEmail: false },
        { id: 'gh', trustEmail: true },
      ]),
    );
    expect((await downstream.cli('idp', 'delete', 'gh')).code).toBe(0);
  });
});
