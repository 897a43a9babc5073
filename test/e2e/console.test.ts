import type { Browser, BrowserContext, Page } from 'playwright-core';
import { totpCodeAt } from '../../src/libraries/totp.ts';
import { freshSecondFactorSeconds } from '../../src/routes/console/console-session.ts';
import { consoleCookieNames } from '../../src/vocabulary/cookie-names.ts';
import { storeKeys } from '../../src/vocabulary/store-keys.ts';
import { expectAccessible } from '../support/accessibility.ts';
import { launchChromium } from '../support/browser.ts';
import { submitLoginIfShown } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import { linkIn, startSmtpPeer, type SmtpPeer } from '../support/smtp-peer.ts';

/**
 * The admin console at `/admin` in Chromium: an administrator (role admin, an authenticator app enrolled) signs in
 * through Gatehouse's own pages, registers a client, rotates its secret, disables a user and finds each change in the
 * audit log under `console:<sub>`. Someone without `admin:read` gets a 403 page; a change whose second factor is
 * older than five minutes goes through a step-up first (the sign-in is aged in the stored console session, as five
 * minutes of waiting would); a form without its CSRF token changes nothing. The policy page validates a Cedar
 * policy set before it becomes active, and its "try a decision" form answers as the decision point does. An
 * invitation mailed from the console (to a real SMTP peer) lets the person set a password and sign in.
 */
const password = 'console passphrase 0123';
const now = () => Math.floor(Date.now() / 1000);

interface User {
  id: string;
  email: string;
  totpSecret?: string;
}

describe('the admin console', () => {
  let gatehouse: GatehouseProcess;
  let smtp: SmtpPeer;
  let browser: Browser;
  let admin: User;
  let adminPage: Page;
  const contexts: BrowserContext[] = [];

  async function newUser(email: string, options: { admin?: boolean; totp?: boolean } = {}): Promise<User> {
    const created = await gatehouse.cli(
      'user',
      'create',
      '--email',
      email,
      '--password',
      password,
      ...(options.admin ? ['--role', 'admin'] : []),
      '--json',
    );
    expect(created.code).toBe(0);
    const { id } = created.json<{ id: string }>();
    if (!options.totp) return { id, email };
    const enrolled = await gatehouse.cli('user', 'enroll-totp', '--email', email, '--json');
    expect(enrolled.code).toBe(0);
    return { id, email, totpSecret: enrolled.json<{ secret: string }>().secret };
  }

  /** A TOTP code of a time step not used yet (a code is accepted once, within one step of now). */
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

  /** Gatehouse's sign-in pages: the password, then the code when the account has an authenticator. */
  async function signIn(page: Page, user: User): Promise<void> {
    await page.waitForLoadState();
    expect(await submitLoginIfShown(page, { email: user.email, password })).toBe(true);
    if (user.totpSecret) {
      await page.waitForSelector('input[name="code"]');
      await page.fill('input[name="code"]', await nextCode(user));
      await page.click('button[type="submit"]:has-text("Verify")');
    }
  }

  async function newPage(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    return context.newPage();
  }

  async function signedInConsole(user: User): Promise<Page> {
    const page = await newPage();
    await page.goto(`${gatehouse.url}/admin`);
    await signIn(page, user);
    await page.waitForURL(`${gatehouse.url}/admin`);
    return page;
  }

  /** Makes the console's sign-in older than a change allows, in the process's Redis. */
  async function ageSignIn(page: Page): Promise<void> {
    const cookie = (await page.context().cookies(`${gatehouse.url}/admin`)).find(
      (candidate) => candidate.name === consoleCookieNames.session,
    );
    expect(cookie).toBeDefined();
    const key = `${gatehouse.redis!.prefix}kv:{${storeKeys.consoleSession(cookie!.value)}}`;
    const session = JSON.parse((await gatehouse.redis!.client.get(key))!) as { authTime: number };
    session.authTime = now() - freshSecondFactorSeconds - 60;
    expect(await gatehouse.redis!.client.set(key, JSON.stringify(session), 'KEEPTTL')).toBe('OK');
  }

  async function clientCredentials(clientId: string, secret: string): Promise<number> {
    const response = await fetch(`${gatehouse.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    return response.status;
  }

  async function passwordAccepted(user: User): Promise<boolean> {
    const page = await newPage();
    await page.goto(`${gatehouse.url}/account`);
    await submitLoginIfShown(page, { email: user.email, password });
    await page.waitForLoadState();
    return (await page.locator('.error').count()) === 0;
  }

  beforeAll(async () => {
    smtp = await startSmtpPeer();
    gatehouse = await startGatehouseProcess({
      config: { smtp: { url: smtp.url, from: 'Gatehouse <no-reply@example.com>' } },
    });
    browser = await launchChromium();
    admin = await newUser('console-admin@example.com', { admin: true, totp: true });
    adminPage = await signedInConsole(admin);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    await browser?.close();
    await gatehouse?.cleanup();
    await smtp?.close();
  });

  it('signs an administrator in through Gatehouse and leaves the admin API where it was', async () => {
    await expect(adminPage.locator('#console-admin').textContent()).resolves.toBe(admin.email);
    await expect(adminPage.locator('#count-users').textContent()).resolves.toBe('1');
    const api = await fetch(`${gatehouse.url}/admin/api/users`);
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('shows every section to an administrator, accessible, without JavaScript or inline styles', async () => {
    const sections: Record<string, string> = {
      '/admin/users': 'Users',
      '/admin/clients': 'Clients',
      '/admin/roles': 'Roles and permissions',
      '/admin/groups': 'Groups',
      '/admin/apis': 'APIs',
      '/admin/providers': 'Upstream providers',
      '/admin/keys': 'Signing keys',
      '/admin/audit': 'Audit log',
      '/admin/policies': 'Policies',
      [`/admin/users/${admin.id}`]: admin.email,
      '/admin/clients/gatehouse-console': 'Gatehouse admin console (gatehouse-console)',
    };
    for (const [path, title] of Object.entries(sections)) {
      const response = await adminPage.goto(`${gatehouse.url}${path}`);
      expect(response!.status()).toBe(200);
      expect(response!.headers()['cache-control']).toBe('no-store');
      await expect(adminPage.locator('h1').textContent()).resolves.toBe(title);
      expect(await adminPage.locator('script, style, [style]').count()).toBe(0);
      // WCAG 2.1 AA in light and dark, no sideways scrolling at 320 px (test/support/accessibility.ts).
      await expectAccessible(adminPage);
    }
    await expect(adminPage.locator('#client-apis').textContent()).resolves.toBe('none');
  });

  it('registers a client and rotates its secret: the new one works for client_credentials, the old one is refused', async () => {
    const page = adminPage;
    await page.goto(`${gatehouse.url}/admin/clients`);
    await page.fill('#client-id', 'console-made-service');
    await page.fill('#client-name', 'Made in the console');
    await page.uncheck('input[name="grant_types"][value="authorization_code"]');
    await page.uncheck('input[name="grant_types"][value="refresh_token"]');
    await page.check('input[name="grant_types"][value="client_credentials"]');
    await page.click('button:has-text("Register client")');
    const first = await page.locator('#client-secret').inputValue();
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(await clientCredentials('console-made-service', first)).toBe(200);

    await page.goto(`${gatehouse.url}/admin/clients/console-made-service`);
    await page.click('button:has-text("Rotate secret")');
    const second = await page.locator('#client-secret').inputValue();
    expect(second).not.toBe(first);
    expect(await clientCredentials('console-made-service', second)).toBe(200);
    expect(await clientCredentials('console-made-service', first)).toBe(401);
  });

  it('disables a user, who can then no longer sign in', async () => {
    const carol = await newUser('carol-console@example.com');
    expect(await passwordAccepted(carol)).toBe(true);
    const page = adminPage;
    await page.goto(`${gatehouse.url}/admin/users?email=${encodeURIComponent(carol.email)}`);
    await page.click(`a:has-text("${carol.email}")`);
    await page.waitForURL(`${gatehouse.url}/admin/users/${carol.id}`);
    await page.click('button:has-text("Disable user")');
    await page.waitForURL(`${gatehouse.url}/admin/users/${carol.id}?done=disabled`);
    await expect(page.locator('#user-status').textContent()).resolves.toBe('disabled');
    expect(await passwordAccepted(carol)).toBe(false);
  });

  it('shows the changes in the audit log under the acting administrator', async () => {
    const page = adminPage;
    const actor = `console:${admin.id}`;
    await page.goto(`${gatehouse.url}/admin/audit?type=admin.change&actor=${encodeURIComponent(actor)}`);
    const actors = await page.locator('#audit .event-actor').allTextContents();
    const details = (await page.locator('#audit .event-details').allTextContents()).join('\n');
    expect(actors.length).toBeGreaterThanOrEqual(3);
    expect(new Set(actors)).toEqual(new Set([actor]));
    for (const action of ['client.create', 'client.secret_rotated', 'user.disabled'])
      expect(details).toContain(`"action":"${action}"`);
    // Secrets never reach the audit log.
    expect(details).not.toContain('secret":');
  });

  it('answers someone without admin:read with a 403 page, not a new sign-in', async () => {
    const dan = await newUser('dan-console@example.com');
    const page = await newPage();
    await page.goto(`${gatehouse.url}/admin/users`);
    await signIn(page, dan);
    await page.waitForURL(`${gatehouse.url}/admin/users`);
    await expect(page.locator('#forbidden').textContent()).resolves.toContain('admin:read');
    const again = await page.goto(`${gatehouse.url}/admin/clients`);
    expect(again!.status()).toBe(403);
    expect(page.url()).toBe(`${gatehouse.url}/admin/clients`);
  });

  it('sends a change whose second factor is not fresh through a step-up first', async () => {
    const page = adminPage;
    await page.goto(`${gatehouse.url}/admin/roles`);
    await page.fill('#role-name', 'console-auditor');
    await page.fill('#role-permissions', 'reports:read');
    await ageSignIn(page);
    await page.click('button:has-text("Create role")');

    // Nothing is created yet: Gatehouse asks for the password and the code again.
    await page.waitForURL((url) => url.pathname.startsWith('/interaction/'));
    await expect(page.locator('input[name="email"]').inputValue()).resolves.toBe(admin.email);
    const roles = await gatehouse.cli('role', 'list', '--json');
    expect(roles.json<{ name: string }[]>().map((role) => role.name)).not.toContain('console-auditor');
    await signIn(page, admin);
    await page.waitForURL(`${gatehouse.url}/admin/roles?stepped_up=1`);
    await expect(page.locator('.notice').textContent()).resolves.toContain('Nothing was changed yet');

    await page.fill('#role-name', 'console-auditor');
    await page.fill('#role-permissions', 'reports:read');
    await page.click('button:has-text("Create role")');
    await page.waitForURL(`${gatehouse.url}/admin/roles?done=created`);
    await expect(page.locator('tr[data-role="console-auditor"]').textContent()).resolves.toContain(
      'reports:read',
    );
  });

  it('refuses a form posted without its CSRF token, or with another one', async () => {
    const page = adminPage;
    // Without a token the form is malformed (400 naming the field); with another one it is forbidden (403).
    const attempts: { form: Record<string, string>; status: number; says: string }[] = [
      { form: { name: 'forged-role' }, status: 400, says: 'csrf' },
      {
        form: { name: 'forged-role', csrf: 'not-the-token' },
        status: 403,
        says: 'This form has expired or was not sent from Gatehouse',
      },
    ];
    for (const { form, status, says } of attempts) {
      const response = await page.request.post(`${gatehouse.url}/admin/roles`, { form, maxRedirects: 0 });
      expect(response.status()).toBe(status);
      await expect(response.text()).resolves.toContain(says);
    }
    const roles = await gatehouse.cli('role', 'list', '--json');
    expect(roles.json<{ name: string }[]>().map((role) => role.name)).not.toContain('forged-role');
  });

  it('edits the Cedar policy set: one that does not parse changes nothing, a valid one decides at once', async () => {
    const page = adminPage;
    await page.goto(`${gatehouse.url}/admin/policies`);
    const before = Number(await page.locator('#policy-version').textContent());

    await page.fill('#policy-text', 'permit(principal, action, resource) when { nonsense');
    await page.click('button:has-text("Validate and activate")');
    await expect(page.locator('#policy-error').textContent()).resolves.toMatch(/\S/);
    await expect(page.locator('#policy-text').getAttribute('aria-invalid')).resolves.toBe('true');
    // The text stays in the form, and the active version does not move.
    await expect(page.locator('#policy-text').inputValue()).resolves.toContain('nonsense');
    expect(Number(await page.locator('#policy-version').textContent())).toBe(before);

    await page.fill(
      '#policy-text',
      `@id("console-plan") permit(principal == user::"${admin.id}", action == Action::"read", resource == document::"plan");`,
    );
    await page.click('button:has-text("Validate and activate")');
    await page.waitForURL(`${gatehouse.url}/admin/policies?done=saved`);
    expect(Number(await page.locator('#policy-version').textContent())).toBe(before + 1);
    await expect(page.locator('#policy-history tbody tr').first().textContent()).resolves.toContain(
      `console:${admin.id}`,
    );

    // "Try a decision" answers as the decision point does, with the policy that decided.
    const decide = async (subject: string) => {
      await page.fill('#try-subject', subject);
      await page.fill('#try-action', 'read');
      await page.fill('#try-resource', 'document:plan');
      await page.click('button:has-text("Decide")');
      await page.waitForSelector('#decision-value');
      return [
        await page.locator('#decision-value').textContent(),
        await page.locator('#decision-policies').textContent(),
      ];
    };
    expect(await decide(`user:${admin.id}`)).toEqual(['PERMIT', 'console-plan']);
    expect((await decide('user:someone-else'))[0]).toBe('DENY');
    const decided = await gatehouse.cli(
      'authz',
      'check',
      '--subject',
      `user:${admin.id}`,
      '--action',
      'read',
      '--resource',
      'document:plan',
      '--json',
    );
    expect(decided.json<{ decision: boolean }>().decision).toBe(true);
  });

  it('invites a user by email: the link sets a password, and the account then signs in', async () => {
    const erin: User = { id: '', email: 'erin-console@example.com' };
    const page = adminPage;
    await page.goto(`${gatehouse.url}/admin/users`);
    await page.fill('#invite-email', erin.email);
    await page.click('button:has-text("Send invitation")');
    await page.waitForURL(
      (url) => url.pathname.startsWith('/admin/users/') && url.search === '?done=invited',
    );
    await expect(page.locator('h1').textContent()).resolves.toBe(erin.email);
    // Invited, not yet able to sign in: the account has no password until the link is used.
    expect(await passwordAccepted(erin)).toBe(false);

    const link = linkIn(await smtp.next(erin.email), `${gatehouse.url}/invitation?`);
    const invitee = await newPage();
    await invitee.goto(link);
    await invitee.fill('#new_password', password);
    await invitee.click('button:has-text("Accept and set password")');
    await invitee.waitForSelector('#invitation-accepted');
    expect(await passwordAccepted(erin)).toBe(true);
  });
});
