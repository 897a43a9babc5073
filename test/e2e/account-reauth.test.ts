import { decodeJwt } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { totpCodeAt } from '../../src/libraries/totp.ts';
import { recentSignInSeconds } from '../../src/routes/account/account-session.ts';
import { storeKeys } from '../../src/vocabulary/store-keys.ts';
import { accountCookieNames } from '../../src/vocabulary/cookie-names.ts';
import { launchChromium } from '../support/browser.ts';
import { submitLoginIfShown } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';

/**
 * Sensitive changes on the account page (password, second factor, recovery codes, linked identities) take a sign-in
 * no older than `recentSignInSeconds`: a browser left signed in and unattended does not let whoever sits at it
 * change how the account is protected. An older sign-in signs in again through Gatehouse's own login (`max_age=0`:
 * the password, and the second factor when the account has one) and comes back to the form; a post that arrived
 * with an old sign-in changed nothing. A sign-in is made old by moving its `auth_time` back in the account page's
 * stored session (in the process's Redis), as five minutes of waiting would.
 */
const password = 'reauth passphrase 0123';
const now = () => Math.floor(Date.now() / 1000);

interface User {
  id: string;
  email: string;
  password: string;
  totpSecret?: string;
}

interface StoredAccountSession {
  sub: string;
  idToken: string;
  authTime?: number;
  amr?: string[];
}

describe('signing in again for sensitive changes on the account page', () => {
  let gatehouse: GatehouseProcess;
  let browser: Browser;
  let users = 0;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gatehouse?.cleanup();
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });

  async function newUser(options: { totp?: boolean } = {}): Promise<User> {
    users += 1;
    const email = `reauth${users}@example.com`;
    const created = await gatehouse.cli('user', 'create', '--email', email, '--password', password, '--json');
    expect(created.code).toBe(0);
    const { id } = created.json<{ id: string }>();
    if (!options.totp) return { id, email, password };
    const enrolled = await gatehouse.cli('user', 'enroll-totp', '--email', email, '--json');
    expect(enrolled.code).toBe(0);
    return { id, email, password, totpSecret: enrolled.json<{ secret: string }>().secret };
  }

  /**
   * A TOTP code of a time step not used yet: a code is accepted once, within one step of now, so a third sign-in in
   * the same 30 seconds waits for the next step.
   */
  const lastSteps = new Map<string, number>();
  async function nextCode(user: User): Promise<string> {
    for (;;) {
      const current = Math.floor(Date.now() / 30_000);
      const step = Math.max(current, (lastSteps.get(user.email) ?? current - 2) + 1);
      if (step <= current + 1) {
        lastSteps.set(user.email, step);
        return totpCodeAt(user.totpSecret!, step * 30);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async function submitCode(page: Page, user: User): Promise<void> {
    await page.fill('input[name="code"]', await nextCode(user));
    await page.click('button[type="submit"]:has-text("Verify")');
  }

  /** A browser of its own, signed in to the account page (with the second factor when the account has one). */
  async function signedInAccountPage(user: User): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${gatehouse.url}/account`);
    await submitLoginIfShown(page, user);
    if (user.totpSecret) await submitCode(page, user);
    await page.waitForURL(`${gatehouse.url}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(user.email);
    return page;
  }

  /** The Redis key of this browser's account page session. */
  async function accountSessionKey(page: Page): Promise<string> {
    const cookie = (await page.context().cookies(`${gatehouse.url}/account`)).find(
      (candidate) => candidate.name === accountCookieNames.session,
    );
    expect(cookie).toBeDefined();
    return `${gatehouse.redis!.prefix}kv:{${storeKeys.accountSession(cookie!.value)}}`;
  }

  async function storedSession(page: Page): Promise<StoredAccountSession> {
    const stored = await gatehouse.redis!.client.get(await accountSessionKey(page));
    expect(stored).toBeTruthy();
    return JSON.parse(stored!) as StoredAccountSession;
  }

  /** Makes the account page's sign-in as old as a browser left alone for longer than the recent-sign-in window. */
  async function leaveUnattended(page: Page): Promise<void> {
    const key = await accountSessionKey(page);
    const session = await storedSession(page);
    session.authTime = now() - recentSignInSeconds - 60;
    expect(await gatehouse.redis!.client.set(key, JSON.stringify(session), 'KEEPTTL')).toBe('OK');
  }

  /** Gatehouse's sign-in page asks for the password (of `email`, filled in for the person). */
  async function asksForPassword(page: Page, email: string): Promise<boolean> {
    await page.waitForLoadState();
    if (!new URL(page.url()).pathname.startsWith('/interaction/')) return false;
    if ((await page.locator('input[name="password"]').count()) !== 1) return false;
    return (await page.locator('input[name="email"]').inputValue()) === email;
  }

  async function signInAgain(page: Page, user: User): Promise<void> {
    await page.fill('input[name="password"]', user.password);
    await page.click('button[type="submit"]:has-text("Sign in")');
  }

  async function auditTypes(user: User): Promise<string[]> {
    const audit = await gatehouse.cli('audit', '--since', '10m', '--email', user.email, '--json');
    return audit.json<{ type: string }[]>().map((event) => event.type);
  }

  async function signsInWith(user: User, candidate: string): Promise<boolean> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${gatehouse.url}/account`);
    await submitLoginIfShown(page, { email: user.email, password: candidate });
    await page.waitForLoadState();
    return (await page.locator('.error').count()) === 0;
  }

  it('stops someone at an unattended signed-in browser from changing the password without signing in again', async () => {
    const user = await newUser();
    const page = await signedInAccountPage(user);
    const signedInAt = (await storedSession(page)).authTime!;
    expect(signedInAt).toBeGreaterThan(now() - 60);
    await page.goto(`${gatehouse.url}/account/password`);
    await page.fill('input[name="current_password"]', user.password);
    await page.fill('input[name="new_password"]', 'the passphrase of whoever sat down');
    await leaveUnattended(page);
    await page.click('button:has-text("Change password")');

    // Nothing changed: the browser is asked for the password again, and the old one still signs in.
    expect(await asksForPassword(page, user.email)).toBe(true);
    expect(await auditTypes(user)).not.toContain('password.changed');
    expect(await signsInWith(user, user.password)).toBe(true);
    expect(await auditTypes(user)).toContain('account.reauth_required');

    // The owner signs in again and lands back on the form, which says the change was not made yet.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await signInAgain(page, user);
    await page.waitForURL(`${gatehouse.url}/account/password?signed_in_again=1`);
    await expect(page.locator('.notice').textContent()).resolves.toContain('Nothing was changed yet');
    // The account page's sign-in is the new one, and its ID token says so truthfully: a password, just now.
    const session = await storedSession(page);
    expect(session.authTime).toBeGreaterThan(signedInAt);
    expect(session.amr).toEqual(['pwd']);
    expect(decodeJwt(session.idToken)).toMatchObject({ auth_time: session.authTime, amr: ['pwd'] });
    expect(await auditTypes(user)).toContain('account.reauthenticated');

    await page.fill('input[name="current_password"]', user.password);
    await page.fill('input[name="new_password"]', 'the owner chose this new passphrase');
    await page.click('button:has-text("Change password")');
    await expect(page.locator('[role="status"]').textContent()).resolves.toContain(
      'Your password is changed',
    );
  });

  it('stops someone at an unattended signed-in browser from turning off the second factor, even knowing the password', async () => {
    const user = await newUser({ totp: true });
    const page = await signedInAccountPage(user);
    const signedInAt = (await storedSession(page)).authTime!;
    await page.goto(`${gatehouse.url}/account/mfa`);
    await expect(page.locator('.lead').textContent()).resolves.toContain('is on');
    await leaveUnattended(page);
    await page.click('button:has-text("Turn off two-step verification")');

    // The password alone is not enough to sign in again: the second factor is asked, and nothing changed.
    expect(await asksForPassword(page, user.email)).toBe(true);
    await signInAgain(page, user);
    await page.waitForURL((url) => url.pathname.endsWith('/mfa') && url.pathname.startsWith('/interaction/'));
    await expect(page.locator('input[name="code"]').count()).resolves.toBe(1);
    expect(await auditTypes(user)).not.toContain('mfa.removed');
    await page.goto(`${gatehouse.url}/account/mfa`);
    expect(await asksForPassword(page, user.email)).toBe(true);

    // With both factors the owner is back on the page, the factor still on; the sign-in is new and says how.
    await signInAgain(page, user);
    await submitCode(page, user);
    await page.waitForURL(`${gatehouse.url}/account/mfa`);
    await expect(page.locator('.lead').textContent()).resolves.toContain('is on');
    const session = await storedSession(page);
    expect(session.authTime).toBeGreaterThanOrEqual(signedInAt);
    expect(session.authTime).toBeGreaterThan(now() - 60);
    expect(decodeJwt(session.idToken)).toMatchObject({
      auth_time: session.authTime,
      amr: ['pwd', 'otp', 'mfa'],
    });

    await page.click('button:has-text("Turn off two-step verification")');
    await expect(page.locator('.notice').textContent()).resolves.toBe('Two-step verification is off.');
    expect(await auditTypes(user)).toContain('mfa.removed');
  });

  it('stops someone at an unattended signed-in browser from opening the password, two-step and linked-accounts pages', async () => {
    const user = await newUser();
    const page = await signedInAccountPage(user);
    await leaveUnattended(page);
    for (const path of ['/account/password', '/account/mfa', '/account/identities']) {
      await page.goto(`${gatehouse.url}${path}`);
      expect(await asksForPassword(page, user.email)).toBe(true);
    }
    // The overview and the session list need no new sign-in.
    await page.goto(`${gatehouse.url}/account/sessions`);
    await page.waitForURL(`${gatehouse.url}/account/sessions`);
    // Signing in again leads back to the page that asked for it.
    await page.goto(`${gatehouse.url}/account/identities`);
    await signInAgain(page, user);
    await page.waitForURL(`${gatehouse.url}/account/identities`);
  });

  it('stops someone at an unattended signed-in browser from setting up their own authenticator, getting new recovery codes or removing a linked identity', async () => {
    const enrolled = await newUser({ totp: true });
    const plain = await newUser();
    const posts: Record<string, { user: User; path: string; fields?: Record<string, string> }> = {
      'set up an authenticator': { user: plain, path: '/account/mfa/setup' },
      'confirm an authenticator': { user: plain, path: '/account/mfa/confirm', fields: { code: '123456' } },
      'new recovery codes': { user: enrolled, path: '/account/mfa/recovery-codes' },
      'remove a linked identity': { user: plain, path: '/account/identities/github/remove' },
    };
    for (const [what, { user, path, fields }] of Object.entries(posts)) {
      const page = await signedInAccountPage(user);
      await page.goto(`${gatehouse.url}/account/password`);
      const csrf = await page.locator('input[name="csrf"]').first().getAttribute('value');
      await leaveUnattended(page);
      // A form of the account page, posted as the page would (its CSRF token is valid).
      await page.evaluate(
        ({ action, values }) => {
          const form = document.createElement('form');
          form.method = 'post';
          form.action = action;
          for (const [name, value] of Object.entries(values)) {
            const input = document.createElement('input');
            input.type = 'hidden';
            input.name = name;
            input.value = value;
            form.append(input);
          }
          document.body.append(form);
          form.submit();
        },
        { action: path, values: { csrf: csrf!, ...fields } },
      );
      await page.waitForURL((url) => url.pathname.startsWith('/interaction/'));
      expect([what, await asksForPassword(page, user.email)]).toEqual([what, true]);
    }
    const types = await auditTypes(enrolled);
    expect(types).not.toContain('mfa.recovery_codes_regenerated');
    // No enrollment was started for the account without a factor.
    const plainPage = await signedInAccountPage(plain);
    await plainPage.goto(`${gatehouse.url}/account/mfa`);
    await expect(plainPage.locator('.lead').textContent()).resolves.toContain('is off');
  });

  it('refuses a stale post from another site (bad CSRF token) instead of turning it into a sign-in', async () => {
    const user = await newUser();
    const page = await signedInAccountPage(user);
    await leaveUnattended(page);
    const status = await page.evaluate(async () => {
      const response = await fetch('/account/mfa/setup', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'csrf=forged',
        redirect: 'manual',
      });
      return response.status;
    });
    expect(status).toBe(403);
  });

  it('stops someone at an unattended browser, signed in at the upstream too, from removing a linked identity by signing in again through the upstream', async () => {
    // The upstream is a second Gatehouse (on `localhost`, so the two keep their cookies apart).
    const upstream = await startGatehouseProcess({ host: 'localhost' });
    try {
      const upstreamPassword = 'upstream reauth passphrase';
      const user = await newUser();
      expect(
        (
          await upstream.cli(
            'user',
            'create',
            '--email',
            user.email,
            '--password',
            upstreamPassword,
            '--email-verified',
          )
        ).code,
      ).toBe(0);
      const clientSecret = 'downstream-secret-0123';
      expect(
        (
          await upstream.cli(
            'client',
            'create',
            '--id',
            'downstream',
            '--secret',
            clientSecret,
            '--first-party',
            '--scope',
            'openid email profile',
            '--redirect-uri',
            `${gatehouse.url}/federation/corp/callback`,
          )
        ).code,
      ).toBe(0);
      expect(
        (
          await gatehouse.cli(
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
            clientSecret,
            '--name',
            'Corp ID',
          )
        ).code,
      ).toBe(0);

      // The owner links Corp ID (its password confirms the link) and is signed in at both.
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${gatehouse.url}/account/identities`);
      await page.click('button:has-text("Continue with Corp ID")');
      await submitLoginIfShown(page, { email: user.email, password: upstreamPassword });
      await page.waitForURL(
        (url) => url.origin === gatehouse.url && url.pathname.startsWith('/interaction/'),
      );
      await page.fill('input[name="password"]', user.password);
      await page.click('button[type="submit"]:has-text("Sign in")');
      await page.waitForURL(`${gatehouse.url}/account/identities`);
      await expect(page.locator('#identities li').textContent()).resolves.toContain('Corp ID');

      // Whoever sits at the browser later is asked to sign in again, and Corp ID would sign them in without asking
      // anything: that does not count as signing in again for an account that has a password.
      await leaveUnattended(page);
      await page.click('#identities button:has-text("Remove")');
      expect(await asksForPassword(page, user.email)).toBe(true);
      await page.click('button:has-text("Continue with Corp ID")');
      // Corp ID is asked for a fresh sign-in too (prompt=login), so its session does not stand in for one...
      await page.waitForURL((url) => url.origin === upstream.url);
      await expect(page.locator('input[name="password"]').isVisible()).resolves.toBe(true);
      // ...and even someone who knows the Corp ID password has not signed in again with the account's own.
      await submitLoginIfShown(page, { email: user.email, password: upstreamPassword });
      await page.waitForURL((url) => url.origin === gatehouse.url && url.pathname === '/account/callback');
      await expect(page.locator('h1').textContent()).resolves.toBe('Sign-in did not complete');
      await expect(page.locator('main').textContent()).resolves.toContain('sign in again with your password');
      expect(await auditTypes(user)).not.toContain('federation.unlinked');

      // The owner signs in again with the password and removes the link.
      await page.goto(`${gatehouse.url}/account/identities`);
      expect(await asksForPassword(page, user.email)).toBe(true);
      await signInAgain(page, user);
      await page.waitForURL(`${gatehouse.url}/account/identities`);
      await page.click('#identities button:has-text("Remove")');
      await page.waitForURL(`${gatehouse.url}/account/identities`);
      await expect(page.locator('#identities li').count()).resolves.toBe(0);
      expect(await auditTypes(user)).toContain('federation.unlinked');
    } finally {
      await upstream.cleanup();
    }
  });

  it('offers to sign out the other sessions once a second factor is turned on, keeping this one', async () => {
    const user = await newUser();
    const elsewhere = await signedInAccountPage(user);
    const page = await signedInAccountPage(user);
    await page.goto(`${gatehouse.url}/account/mfa`);
    await page.click('button:has-text("Set up an authenticator app")');
    const secret = (await page.locator('#totp-secret').textContent())!;
    await page.fill('input[name="code"]', await totpCodeAt(secret, now()));
    await page.click('button:has-text("Turn on two-step verification")');
    await expect(page.locator('#recovery-codes code').count()).resolves.toBe(10);

    await page.click('button:has-text("Sign out your other sessions")');
    await page.waitForURL(`${gatehouse.url}/account/sessions?others_signed_out=1`);
    await expect(page.locator('.notice').textContent()).resolves.toBe('Your other sessions were signed out.');
    await expect(page.locator('#sessions li').count()).resolves.toBe(1);
    await expect(page.locator('#sessions li').textContent()).resolves.toContain('this browser');

    // The other browser, signed in with the password alone, is signed out; this one is still in.
    await elsewhere.goto(`${gatehouse.url}/account`);
    expect(await asksForPassword(elsewhere, '')).toBe(true);
    await page.goto(`${gatehouse.url}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(user.email);
    const audit = await gatehouse.cli('audit', '--since', '10m', '--email', user.email, '--json');
    expect(audit.json<{ type: string; details: Record<string, unknown> }[]>()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'session.revoked',
          details: expect.objectContaining({ sessions: 1, keptCurrent: true }) as unknown,
        }),
      ]),
    );
  });
});
