import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { totpCodeAt } from '../../src/libraries/totp.ts';
import { launchChromium } from '../support/browser.ts';
import { signInWithBrowser, submitLoginIfShown } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import {
  discoverAsClient,
  startAuthorization,
  startCallbackServer,
  type CallbackServer,
} from '../support/relying-party.ts';
import { linkIn, startSmtpPeer, type SmtpPeer } from '../support/smtp-peer.ts';

/**
 * "Forgot password?" as a person lives it: the real login page in Chromium, Gatehouse as its own process sending
 * mail over SMTP to a real SMTP peer (smtp-server), the app is openid-client.
 */
const secret = 'e2e-client-secret-0123456789';
const tokenSeconds = 20;
const resetSubject = /Reset your password/;
const changedSubject = /Your password was changed/;
const now = () => Math.floor(Date.now() / 1000);

describe('a way back in when a password is forgotten', () => {
  let gatehouse: GatehouseProcess;
  let smtp: SmtpPeer;
  let app: CallbackServer;
  let browser: Browser;
  let rp: oidc.Configuration;
  const contexts: BrowserContext[] = [];

  async function freshPage(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    return context.newPage();
  }

  async function createUser(email: string, password: string) {
    const created = await gatehouse.cli('user', 'create', '--email', email, '--password', password, '--json');
    expect(created.code).toBe(0);
  }

  /** Opens the app's sign-in in `page` (the login page of a new interaction); resolves with what finishes it. */
  async function openSignIn(page: Page) {
    const pending = await startAuthorization(rp, { redirect_uri: `${app.origin}/cb` });
    await page.goto(pending.url.href);
    await page.waitForSelector('input[name="password"]');
    return pending;
  }

  /** From the login page: "Forgot password?", the address, the answer page. Returns the answer's text. */
  async function askForLink(page: Page, email: string): Promise<string> {
    await page.click('#forgot-password');
    await page.fill('input[name="email"]', email);
    await page.click('button:has-text("Send me a link")');
    await page.waitForSelector('#reset-requested, .error');
    return (await page.locator('main').textContent()) ?? '';
  }

  async function finishAtApp(page: Page, pending: Awaited<ReturnType<typeof openSignIn>>) {
    const arrival = app.next('/cb');
    if (await page.locator('button:has-text("Allow")').count()) await page.click('button:has-text("Allow")');
    const callback = await arrival;
    await page.waitForURL((url) => url.href.startsWith(`${app.origin}/cb`));
    return oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
  }

  beforeAll(async () => {
    smtp = await startSmtpPeer();
    gatehouse = await startGatehouseProcess({
      config: {
        smtp: { url: smtp.url, from: 'Gatehouse <no-reply@example.com>' },
        passwordReset: { tokenSeconds },
        throttle: {
          passwordReset: {
            perAddress: {
              maxFailures: 3,
              windowSeconds: 600,
              lockSeconds: 600,
              freeFailures: 3,
              maxDelaySeconds: 1,
            },
            perIp: {
              maxFailures: 200,
              windowSeconds: 600,
              lockSeconds: 600,
              freeFailures: 200,
              maxDelaySeconds: 1,
            },
          },
        },
      },
    });
    app = await startCallbackServer();
    browser = await launchChromium();
    const client = await gatehouse.cli(
      'client',
      'create',
      '--id',
      'reset-app',
      '--secret',
      secret,
      '--redirect-uri',
      `${app.origin}/cb`,
      '--grant-type',
      'authorization_code',
      '--grant-type',
      'refresh_token',
      '--first-party',
      '--json',
    );
    expect(client.code).toBe(0);
    rp = await discoverAsClient(gatehouse.url, 'reset-app', secret);
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await app?.close();
    await gatehouse?.cleanup();
    await smtp?.close();
  });

  it('mails a single-use link that sets a new password, ends every session and returns to the app', async () => {
    const user = { email: 'ada@example.com', password: 'the old passphrase of ada' };
    const newPassword = 'a brand new passphrase for ada';
    await createUser(user.email, user.password);

    // A session elsewhere (another browser), signed in with the old password.
    const elsewhere = await freshPage();
    const before = await signInWithBrowser(elsewhere, rp, app, user);
    expect(before.tokens.access_token).toBeTruthy();

    const page = await freshPage();
    const pending = await openSignIn(page);
    const answer = await askForLink(page, user.email);
    expect(answer).toContain('If an account has this address, we sent a link to it.');
    const mail = await smtp.next(user.email, { subject: resetSubject });
    expect(mail.from).toContain('no-reply@example.com');
    const link = linkIn(mail, `${gatehouse.url}/password-reset?token=`);
    expect(mail.html).toContain('password-reset?token=');

    await page.goto(link);
    await page.fill('input[name="new_password"]', newPassword);
    await page.click('button:has-text("Set new password")');
    await page.waitForSelector('#password-reset-done');
    const notice = await smtp.next(user.email, { subject: changedSubject });
    expect(notice.text).not.toContain('token');

    // Back to the sign-in page of the same authorization request: the old password no longer works...
    await page.click('a:has-text("Continue signing in")');
    await submitLoginIfShown(page, user);
    await expect(page.locator('.error').textContent()).resolves.toContain('Wrong email or password');
    // ...the new one does, and the browser lands in the app.
    await submitLoginIfShown(page, { email: user.email, password: newPassword });
    const tokens = await finishAtApp(page, pending);
    expect(tokens.claims()?.sub).toBeTruthy();

    // The other browser's session was ended: the app's next sign-in there asks for a password again.
    const again = await startAuthorization(rp, { redirect_uri: `${app.origin}/cb` });
    await elsewhere.goto(again.url.href);
    await expect(elsewhere.locator('input[name="password"]').count()).resolves.toBe(1);

    const audit = (await gatehouse.cli('audit', '--since', '10m', '--email', user.email, '--json')).json<
      { type: string }[]
    >();
    expect(audit.map((event) => event.type)).toEqual(
      expect.arrayContaining(['password.reset_requested', 'password.reset', 'session.revoked']),
    );
    // Neither the link nor its token is in the log.
    const token = new URL(link).searchParams.get('token')!;
    expect(gatehouse.output()).not.toContain(token);
  });

  it('stops a reset link from being used twice', async () => {
    const user = { email: 'twice@example.com', password: 'the first phrase of this test' };
    await createUser(user.email, user.password);
    const page = await freshPage();
    await openSignIn(page);
    await askForLink(page, user.email);
    const link = linkIn(
      await smtp.next(user.email, { subject: resetSubject }),
      `${gatehouse.url}/password-reset`,
    );
    await page.goto(link);
    // A password the rules refuse is said so, and the link still works.
    await page.fill('input[name="new_password"]', 'short');
    await page.click('button:has-text("Set new password")');
    await expect(page.locator('.error').textContent()).resolves.toContain('at least 15 characters');
    await page.fill('input[name="new_password"]', 'the second passphrase here');
    await page.click('button:has-text("Set new password")');
    await page.waitForSelector('#password-reset-done');

    const response = await page.goto(link);
    expect(response?.status()).toBe(400);
    await expect(page.locator('main').textContent()).resolves.toContain('This link no longer works');
    // A form kept open from before is refused as well, and changes nothing.
    const posted = await fetch(`${gatehouse.url}/password-reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: new URL(link).searchParams.get('token')!,
        csrf: 'x',
        new_password: 'x',
      }),
    });
    expect(posted.status).toBeGreaterThanOrEqual(400);
  });

  it('stops an earlier reset link from working once a later one was used', async () => {
    const user = { email: 'earlier@example.com', password: 'a phrase set at the start' };
    await createUser(user.email, user.password);
    const page = await freshPage();
    await openSignIn(page);
    await askForLink(page, user.email);
    const first = linkIn(
      await smtp.next(user.email, { subject: resetSubject }),
      `${gatehouse.url}/password-reset`,
    );
    await page.goBack();
    await page.fill('input[name="email"]', user.email);
    await page.click('button:has-text("Send me a link")');
    const second = linkIn(
      await smtp.next(user.email, { subject: resetSubject }),
      `${gatehouse.url}/password-reset`,
    );
    expect(second).not.toBe(first);
    await page.goto(second);
    await page.fill('input[name="new_password"]', 'a later passphrase is set');
    await page.click('button:has-text("Set new password")');
    await page.waitForSelector('#password-reset-done');
    expect((await page.goto(first))?.status()).toBe(400);
  });

  it('stops someone who knows only an email address from learning whether it has an account', async () => {
    const known = { email: 'known@example.com', password: 'a phrase everybody uses' };
    await createUser(known.email, known.password);
    const page = await freshPage();
    await openSignIn(page);
    const started = Date.now();
    const forUnknown = await askForLink(page, 'nobody@example.com');
    const unknownMs = Date.now() - started;
    await page.goBack();
    const startedKnown = Date.now();
    await page.fill('input[name="email"]', known.email);
    await page.click('button:has-text("Send me a link")');
    await page.waitForSelector('#reset-requested');
    const forKnown = (await page.locator('main').textContent()) ?? '';
    const knownMs = Date.now() - startedKnown;
    expect(forUnknown).toBe(forKnown);
    // The work happens after the answer for both: neither answer waits for the mail.
    expect(Math.abs(unknownMs - knownMs)).toBeLessThan(1500);
    await smtp.next(known.email, { subject: resetSubject });
    expect(smtp.countFor('nobody@example.com')).toBe(0);
  });

  it('answers the same when the mail server refuses mail, and logs no link', async () => {
    const user = { email: 'outage@example.com', password: 'a phrase while mail is down' };
    await createUser(user.email, user.password);
    const page = await freshPage();
    await openSignIn(page);
    smtp.refuse(true);
    try {
      await expect(askForLink(page, user.email)).resolves.toContain(
        'If an account has this address, we sent a link to it.',
      );
      const deadline = Date.now() + 10_000;
      while (!gatehouse.output().includes('mail could not be sent') && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(gatehouse.output()).toContain('mail could not be sent');
      expect(gatehouse.output()).not.toContain('password-reset?token=');
      expect(gatehouse.output()).not.toContain(user.email);
    } finally {
      smtp.refuse(false);
    }
  });

  it('stops a reset link from working after it expired', async () => {
    const user = { email: 'late@example.com', password: 'a phrase for someone slow' };
    await createUser(user.email, user.password);
    const page = await freshPage();
    await openSignIn(page);
    await askForLink(page, user.email);
    const link = linkIn(
      await smtp.next(user.email, { subject: resetSubject }),
      `${gatehouse.url}/password-reset`,
    );
    await new Promise((resolve) => setTimeout(resolve, (tokenSeconds + 1) * 1000));
    const response = await page.goto(link);
    expect(response?.status()).toBe(400);
    await expect(page.locator('main').textContent()).resolves.toContain('This link no longer works');
    await expect(page.locator('input[name="new_password"]').count()).resolves.toBe(0);
  }, 60_000);

  it('stops anyone from flooding a mailbox with reset links', async () => {
    const user = { email: 'flood@example.com', password: 'a phrase for a busy mailbox' };
    await createUser(user.email, user.password);
    const page = await freshPage();
    await openSignIn(page);
    for (let request = 0; request < 3; request += 1) {
      await expect(askForLink(page, user.email)).resolves.toContain('If an account has this address');
      await page.goBack();
      await page.goBack();
    }
    await page.click('#forgot-password');
    await page.fill('input[name="email"]', user.email);
    const [response] = await Promise.all([
      page.waitForResponse((candidate) => candidate.request().method() === 'POST'),
      page.click('button:has-text("Send me a link")'),
    ]);
    expect(response.status()).toBe(429);
    await expect(page.locator('.error').textContent()).resolves.toContain('Too many requests');
    for (let mail = 0; mail < 3; mail += 1) await smtp.next(user.email, { subject: resetSubject });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smtp.countFor(user.email, resetSubject)).toBe(3);
  });

  it('stops a reset from bypassing the second factor (a link opened in another browser works once)', async () => {
    const user = { email: 'totp@example.com', password: 'a phrase with a code after it' };
    const newPassword = 'a new phrase with a code after';
    await createUser(user.email, user.password);
    const enrolled = await gatehouse.cli('user', 'enroll-totp', '--email', user.email, '--json');
    const { secret: totpSecret } = enrolled.json<{ secret: string }>();

    const page = await freshPage();
    const pending = await openSignIn(page);
    await askForLink(page, user.email);
    const link = linkIn(
      await smtp.next(user.email, { subject: resetSubject }),
      `${gatehouse.url}/password-reset`,
    );

    // The link is opened on another device (a bearer link), where the new password is set.
    const phone = await freshPage();
    await phone.goto(link);
    await phone.fill('input[name="new_password"]', newPassword);
    await phone.click('button:has-text("Set new password")');
    await phone.waitForSelector('#password-reset-done');

    // Back in the first browser: the new password leads to the second factor, not into the app.
    await page.goBack();
    await page.click('a:has-text("Back to sign in")');
    await submitLoginIfShown(page, { email: user.email, password: newPassword });
    await page.waitForSelector('input[name="code"]');
    await page.fill('input[name="code"]', await totpCodeAt(totpSecret, now()));
    await page.click('button[type="submit"]:has-text("Verify")');
    const tokens = await finishAtApp(page, pending);
    expect(tokens.claims()?.amr).toEqual(expect.arrayContaining(['mfa']));
  });
});
