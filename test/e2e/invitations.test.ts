import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { submitLoginIfShown } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import { createHttpBrowser } from '../support/http-sign-in.ts';
import { linkIn, startSmtpPeer, type SmtpPeer } from '../support/smtp-peer.ts';

/**
 * Invitations and the development mailbox as a person lives them: Gatehouse as its own process, its real pages in
 * Chromium; invitation mail goes to a real SMTP peer (smtp-server), or, on a development server without an SMTP
 * server, to the development mailbox at /dev/mailbox.
 */
let browser: Browser;
const contexts: BrowserContext[] = [];

async function freshPage(): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  return context.newPage();
}

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
});

describe('an invitation, and an account a person creates', () => {
  let gatehouse: GatehouseProcess;
  let smtp: SmtpPeer;

  beforeAll(async () => {
    smtp = await startSmtpPeer();
    gatehouse = await startGatehouseProcess({
      config: {
        smtp: { url: smtp.url, from: 'Gatehouse <no-reply@example.com>' },
        signUp: { enabled: true },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await gatehouse?.cleanup();
    await smtp?.close();
  });

  it('lets the invitee choose a password from the mailed link and sign in to the account page with it', async () => {
    const email = 'grace@example.com';
    const password = 'a phrase chosen on the page';
    const invited = await gatehouse.cli('user', 'invite', '--email', email, '--name', 'Grace', '--json');
    expect(invited.code).toBe(0);
    const link = linkIn(
      await smtp.next(email, { subject: /You are invited/ }),
      `${gatehouse.url}/invitation?token=`,
    );

    const page = await freshPage();
    await page.goto(link);
    await expect(page.locator('main').textContent()).resolves.toContain(email);
    await page.fill('input[name="new_password"]', password);
    await page.click('button:has-text("Accept and set password")');
    await page.waitForSelector('#invitation-accepted');

    // On to the account page, which signs in through Gatehouse's login page with the new password.
    await page.click('a:has-text("Sign in to your account")');
    await submitLoginIfShown(page, { email, password });
    await page.waitForURL(`${gatehouse.url}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(email);

    // The link is spent: opened again, it says so.
    const again = await page.goto(link);
    expect(again?.status()).toBe(400);
    await expect(page.locator('main').textContent()).resolves.toContain('This link no longer works');
    // Neither the link nor its token is in the log.
    expect(gatehouse.output()).not.toContain(new URL(link).searchParams.get('token')!);
  });

  it('lets a person create an account from the login page, confirm it from the mail and land signed in', async () => {
    const email = 'katherine@example.com';
    const password = 'a phrase picked when signing up';
    const page = await freshPage();
    // The account page signs in through the login page, which offers "Create an account" when sign-up is on.
    await page.goto(`${gatehouse.url}/account`);
    await page.click('#sign-up');
    await page.fill('input[name="email"]', email);
    await page.fill('input[name="name"]', 'Katherine');
    await page.fill('input[name="new_password"]', password);
    await page.click('button:has-text("Create account")');
    await expect(page.locator('#sign-up-requested').textContent()).resolves.toContain(email);

    const link = linkIn(
      await smtp.next(email, { subject: /Finish creating your account/ }),
      `${gatehouse.url}/sign-up?token=`,
    );
    // Opened in the same browser, as a person clicking the link in their mail would.
    await page.goto(link);
    await page.click('button:has-text("Create my account")');
    await page.waitForSelector('#sign-up-done');
    // "Continue signing in" resumes the sign-in that was interrupted: the password chosen at sign-up is the one.
    await page.click('a:has-text("Continue signing in")');
    await submitLoginIfShown(page, { email, password });
    await page.waitForURL(`${gatehouse.url}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(email);
    expect(gatehouse.output()).not.toContain(new URL(link).searchParams.get('token')!);
    expect(gatehouse.output()).not.toContain(password);
  });
});

describe('the development mailbox', () => {
  let gatehouse: GatehouseProcess;

  beforeAll(async () => {
    // A development server (NODE_ENV=development) without smtp.url.
    gatehouse = await startGatehouseProcess({
      env: { NODE_ENV: 'development' },
      config: { seedDemo: false, smtp: { url: null, devMailbox: true } },
    });
  }, 120_000);

  afterAll(async () => {
    await gatehouse?.cleanup();
  });

  it('keeps the mail a development server would send, with working links, and logs where, never the link', async () => {
    const email = 'dev.person@example.com';
    const newPassword = 'a new phrase from the mailbox';
    expect(
      (await gatehouse.cli('user', 'create', '--email', email, '--password', 'the forgotten phrase')).code,
    ).toBe(0);
    const page = await freshPage();
    await page.goto(`${gatehouse.url}/dev/mailbox`);
    await page.waitForSelector('#mailbox-empty');

    // "Forgot password?" is on (mail goes to the mailbox).
    await page.goto(`${gatehouse.url}/account`);
    await page.waitForSelector('input[name="password"]');
    await page.click('#forgot-password');
    await page.fill('input[name="email"]', email);
    await page.click('button:has-text("Send me a link")');
    await page.waitForSelector('#reset-requested');

    // The mail is sent after the answer: the mailbox shows it once it is there.
    let link: string | null = null;
    for (let tries = 0; tries < 40 && !link; tries++) {
      await page.goto(`${gatehouse.url}/dev/mailbox`);
      link = await page
        .locator(`a[href^="${gatehouse.url}/password-reset?token="]`)
        .first()
        .getAttribute('href', { timeout: 250 })
        .catch(() => null);
    }
    expect(link).toBeTruthy();
    const main = (await page.locator('main').textContent()) ?? '';
    expect(main).toContain('Reset your password');
    expect(main).toContain(email);

    await page.click(`a[href^="${gatehouse.url}/password-reset?token="]`);
    await page.fill('input[name="new_password"]', newPassword);
    await page.click('button:has-text("Set new password")');
    await page.waitForSelector('#password-reset-done');
    await page.goto(`${gatehouse.url}/account`);
    await submitLoginIfShown(page, { email, password: newPassword });
    await page.waitForURL(`${gatehouse.url}/account`);

    const token = new URL(link!).searchParams.get('token')!;
    expect(gatehouse.output()).toContain(`is in the development mailbox at ${gatehouse.url}/dev/mailbox`);
    expect(gatehouse.output()).not.toContain(token);
    expect(gatehouse.output()).not.toContain(email);
  });

  it('exists only where there is no SMTP server: a CLI process (another process) still says mail is off', async () => {
    const invited = await gatehouse.cli('user', 'invite', '--email', 'cli.invite@example.com');
    expect(invited.code).toBe(2);
    expect(invited.stderr).toContain('smtp.url');
  });
});

describe('in production', () => {
  let prepared: GatehouseProcess;
  let gatehouse: GatehouseProcess;

  beforeAll(async () => {
    // Production never migrates by itself: a start in test mode prepares the database first.
    prepared = await startGatehouseProcess({});
    await prepared.stop();
    gatehouse = await startGatehouseProcess({
      reuse: prepared,
      env: { NODE_ENV: 'production' },
      config: { cluster: { workers: 1 }, smtp: { url: null, devMailbox: true } },
    });
  }, 120_000);

  afterAll(async () => {
    await gatehouse?.cleanup();
    await prepared?.cleanup();
  });

  it('has no development mailbox, and what needs mail stays off without smtp.url', async () => {
    const response = await fetch(`${gatehouse.url}/dev/mailbox`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(404);
    // The login page (reached from the account page) has no "Forgot password?".
    const http = createHttpBrowser();
    let page = await http.get(`${gatehouse.url}/account`);
    for (let hops = 0; hops < 10 && page.status >= 300 && page.status < 400; hops++)
      page = await http.get(new URL(page.headers.get('location')!, gatehouse.url).href);
    const html = await page.text();
    expect(html).toContain('name="password"');
    expect(html).not.toContain('forgot-password');
  });
});
