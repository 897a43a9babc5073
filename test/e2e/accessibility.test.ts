import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expectAccessible } from '../support/accessibility.ts';
import { launchChromium } from '../support/browser.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import {
  discoverAsClient,
  startAuthorization,
  startCallbackServer,
  type CallbackServer,
} from '../support/relying-party.ts';
import { linkIn, startSmtpPeer, type SmtpPeer } from '../support/smtp-peer.ts';

const chromeOnLinux =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const password = 'accessible passphrase';

/**
 * Every page a person can reach, checked by axe-core against WCAG 2.1 A and AA in the light and the dark colour
 * scheme, and for reflow at 320 CSS pixels (WCAG 1.4.10: no horizontal scrolling).
 */
describe('every page passes axe-core (WCAG 2.1 AA) in light and dark, and reflows at 320 px', () => {
  let gatehouse: GatehouseProcess;
  let smtp: SmtpPeer;
  let apps: CallbackServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let mfaSecret: string;

  beforeAll(async () => {
    smtp = await startSmtpPeer();
    gatehouse = await startGatehouseProcess({
      config: {
        smtp: { url: smtp.url, from: 'Gatehouse <no-reply@example.com>' },
        signUp: { enabled: true },
        emailCode: { enabled: true },
      },
    });
    apps = await startCallbackServer();
    browser = await launchChromium();
    for (const email of ['ada@example.com', 'grace@example.com']) {
      const created = await gatehouse.cli('user', 'create', '--email', email, '--password', password);
      expect(created.code).toBe(0);
    }
    const enrolled = await gatehouse.cli('user', 'enroll-totp', '--email', 'grace@example.com', '--json');
    expect(enrolled.code).toBe(0);
    mfaSecret = enrolled.json<{ secret: string }>().secret;
    const client = await gatehouse.cli(
      'client',
      'create',
      '--id',
      'app',
      '--secret',
      'app-secret-0123456789',
      '--redirect-uri',
      `${apps.origin}/cb`,
    );
    expect(client.code).toBe(0);
    context = await browser.newContext({ userAgent: chromeOnLinux });
    page = await context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await apps?.close();
    await smtp?.close();
    await gatehouse?.cleanup();
  });

  it('the front door', async () => {
    await page.goto(`${gatehouse.url}/`);
    await expect(page.locator('#issuer').textContent()).resolves.toBe(gatehouse.issuer);
    await expectAccessible(page);
  });

  it('the 404 page', async () => {
    const response = await page.goto(`${gatehouse.url}/no-such-page`);
    expect(response?.status()).toBe(404);
    await expect(page.locator('h1').textContent()).resolves.toBe('Not found');
    await expectAccessible(page);
  });

  it('the login page', async () => {
    await page.goto(`${gatehouse.url}/account`);
    await page.waitForSelector('input[name="password"]');
    await expectAccessible(page);
  });

  it('the login page with an error, the error tied to the fields', async () => {
    await page.fill('input[name="email"]', 'ada@example.com');
    await page.fill('input[name="password"]', 'not the password');
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('#form-error');
    await expect(page.locator('#password').getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(page.locator('#password').getAttribute('aria-describedby')).resolves.toBe('form-error');
    await expectAccessible(page);
  });

  it('the account page', async () => {
    await page.fill('input[name="email"]', 'ada@example.com');
    await page.fill('input[name="password"]', password);
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('#account-email');
    await expectAccessible(page);
  });

  it('the sessions page, naming the device from its user agent', async () => {
    await page.goto(`${gatehouse.url}/account/sessions`);
    await expect(page.locator('#sessions').textContent()).resolves.toContain('Chrome 131 on Linux');
    await expectAccessible(page);
  });

  it('the consent page', async () => {
    const rp = await discoverAsClient(gatehouse.url, 'app', 'app-secret-0123456789');
    const pending = await startAuthorization(rp, { redirect_uri: `${apps.origin}/cb` });
    await page.goto(pending.url.href);
    await page.waitForSelector('button:has-text("Allow")');
    await expectAccessible(page);
  });

  it('the second-factor page', async () => {
    expect(mfaSecret).toMatch(/^[A-Z2-7]+=*$/);
    const other = await browser.newContext();
    const mfaPage = await other.newPage();
    await mfaPage.goto(`${gatehouse.url}/account`);
    await mfaPage.fill('input[name="email"]', 'grace@example.com');
    await mfaPage.fill('input[name="password"]', password);
    await mfaPage.click('button:has-text("Sign in")');
    await mfaPage.waitForSelector('input[name="code"]');
    await expectAccessible(mfaPage);
    await other.close();
  });

  it('the forgot-password page', async () => {
    const other = await browser.newContext();
    const forgotPage = await other.newPage();
    await forgotPage.goto(`${gatehouse.url}/account`);
    await forgotPage.click('#forgot-password');
    await forgotPage.waitForSelector('button:has-text("Send me a link")');
    await expectAccessible(forgotPage);
    await other.close();
  });

  it("the sign-up pages: the form, its error tied to the field, the answer, the link's confirmation", async () => {
    const other = await browser.newContext();
    const signUpPage = await other.newPage();
    await signUpPage.goto(`${gatehouse.url}/account`);
    await signUpPage.click('#sign-up');
    await signUpPage.waitForSelector('button:has-text("Create account")');
    await expectAccessible(signUpPage);
    const email = 'marie@example.com';
    await signUpPage.fill('input[name="email"]', email);
    await signUpPage.fill('input[name="new_password"]', 'short');
    await signUpPage.click('button:has-text("Create account")');
    await expect(signUpPage.getAttribute('#new_password', 'aria-invalid')).resolves.toBe('true');
    await expectAccessible(signUpPage);
    await signUpPage.fill('input[name="new_password"]', 'a long enough phrase to sign up with');
    await signUpPage.click('button:has-text("Create account")');
    await signUpPage.waitForSelector('#sign-up-requested');
    await expectAccessible(signUpPage);
    const link = linkIn(
      await smtp.next(email, { subject: /Finish creating your account/ }),
      `${gatehouse.url}/sign-up?token=`,
    );
    await signUpPage.goto(link);
    await expectAccessible(signUpPage);
    await signUpPage.click('button:has-text("Create my account")');
    await signUpPage.waitForSelector('#sign-up-done');
    await expectAccessible(signUpPage);
    await other.close();
  });

  it('the sign-in code page, and a sign-in with the code from the mail', async () => {
    const email = 'emmy@example.com';
    expect((await gatehouse.cli('user', 'create', '--email', email, '--password', password)).code).toBe(0);
    const other = await browser.newContext();
    const codePage = await other.newPage();
    await codePage.goto(`${gatehouse.url}/account`);
    await codePage.fill('input[name="email"]', email);
    await codePage.click('#email-code');
    await codePage.waitForSelector('#email-code-sent');
    await expectAccessible(codePage);
    const mail = await smtp.next(email, { subject: /Your sign-in code/ });
    await codePage.fill(
      'input[name="code"]',
      '000000' === /(\d{6})/.exec(mail.text)![1] ? '000001' : '000000',
    );
    await codePage.click('button:has-text("Sign in")');
    await expect(codePage.getAttribute('#code', 'aria-invalid')).resolves.toBe('true');
    await expectAccessible(codePage);
    await codePage.fill('input[name="code"]', /(\d{6})/.exec(mail.text)![1]!);
    await codePage.click('button:has-text("Sign in")');
    await codePage.waitForURL(`${gatehouse.url}/account`);
    await expect(codePage.locator('#account-email').textContent()).resolves.toBe(email);
    await other.close();
  });

  it('the device code entry page', async () => {
    await page.goto(`${gatehouse.url}/device`);
    await page.waitForSelector('input[name="user_code"]');
    await expectAccessible(page);
  });

  it('the error page (an unknown device code)', async () => {
    await page.fill('input[name="user_code"]', 'BCDF-GHJK');
    await page.click('button:has-text("Continue")');
    await page.waitForSelector('.error, .lead');
    await expectAccessible(page);
  });

  it('the change-email page, its answer, and the confirmation the link opens', async () => {
    // Still signed in as ada from "the account page", a few seconds ago: a recent sign-in.
    await page.goto(`${gatehouse.url}/account`);
    await page.click('#change-email');
    await page.waitForSelector('button:has-text("Send a confirmation link")');
    await expectAccessible(page);
    await page.fill('input[name="email"]', 'ada@example.com');
    await page.click('button:has-text("Send a confirmation link")');
    await expect(page.getAttribute('#email', 'aria-invalid')).resolves.toBe('true');
    await expectAccessible(page);
    await page.fill('input[name="email"]', 'ada.lovelace@example.com');
    await page.click('button:has-text("Send a confirmation link")');
    await page.waitForSelector('#email-change-requested');
    await expectAccessible(page);
    const link = linkIn(
      await smtp.next('ada.lovelace@example.com', { subject: /Confirm the new address/ }),
      `${gatehouse.url}/email-change?token=`,
    );
    await page.goto(link);
    await expectAccessible(page);
    await page.click('button:has-text("Confirm the new address")');
    await page.waitForSelector('#email-changed');
    await expectAccessible(page);
    await page.click('a:has-text("Go to your account")');
    await expect(page.locator('#account-email').textContent()).resolves.toBe('ada.lovelace@example.com');
  });
});
