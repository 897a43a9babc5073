import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { submitLoginIfShown } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';

/**
 * A newcomer's first `npm start`: embedded storage, an empty database, the demo user seeded. The credentials the
 * server prints must work on the account page it points to.
 */
describe("a newcomer's first start", () => {
  let gatehouse: GatehouseProcess;
  let browser: Browser;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess({ mode: 'embedded', config: { seedDemo: true } });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gatehouse?.cleanup();
  });

  it('prints the account page and demo credentials, and they sign in', async () => {
    const output = gatehouse.output();
    expect(output).toContain(`Account page:  ${gatehouse.url}/account`);
    expect(output).toContain(`Admin console: ${gatehouse.url}/admin`);
    const printed = /Demo sign-in: +(\S+) \/ (\S+)/.exec(output);
    expect(printed).not.toBeNull();
    const [, email, password] = printed!;

    const page = await browser.newPage();
    await page.goto(`${gatehouse.url}/account`);
    expect(await submitLoginIfShown(page, { email: email!, password: password! })).toBe(true);
    await page.waitForURL(`${gatehouse.url}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(email);
    await expect(page.locator('#account-roles').textContent()).resolves.toBe('admin');
  });
});
