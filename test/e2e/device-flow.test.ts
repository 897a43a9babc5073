import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { submitLoginIfShown } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import { discoverAsClient } from '../support/relying-party.ts';

/**
 * Device sign-in (RFC 8628) for a command-line tool: the tool gets a user code, the person enters it on
 * Gatehouse's page in Chromium, signs in, confirms, and the tool's polling gets tokens. Denied and expired codes
 * give the RFC's errors.
 */
const user = { email: 'dev@example.com', password: 'device flow passphrase' };

describe('device sign-in', () => {
  let gatehouse: GatehouseProcess;
  let browser: Browser;
  let cli: oidc.Configuration;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess({ config: { ttl: { deviceCode: 20 } } });
    browser = await launchChromium();
    await gatehouse.cli('user', 'create', '--email', user.email, '--password', user.password);
    const created = await gatehouse.cli(
      'client',
      'create',
      '--id',
      'gh-cli',
      '--name',
      'Gatehouse CLI',
      '--public',
      '--grant-type',
      'urn:ietf:params:oauth:grant-type:device_code',
      '--grant-type',
      'refresh_token',
      '--json',
    );
    expect(created.code).toBe(0);
    cli = await discoverAsClient(gatehouse.url, 'gh-cli');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gatehouse?.cleanup();
  });

  async function enterCode(page: Page, userCode: string) {
    await page.goto(`${gatehouse.url}/device`);
    await page.fill('input[name="user_code"]', userCode);
    await page.click('button:has-text("Continue")');
  }

  it('signs the tool in once the person approves on the page', async () => {
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid email offline_access' });
    expect(device.verification_uri).toBe(`${gatehouse.url}/device`);
    expect(device.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    const page = await browser.newPage();
    await enterCode(page, device.user_code);
    expect(await submitLoginIfShown(page, user)).toBe(true);
    await expect(page.locator('#user-code').textContent()).resolves.toContain(device.user_code);
    await page.click('button:has-text("Confirm and sign in the device")');
    await expect(page.locator('h1').textContent()).resolves.toBe('Device signed in');
    const tokens = await oidc.pollDeviceAuthorizationGrant(cli, device);
    expect(tokens.claims()).toMatchObject({ email: user.email });
    expect(tokens.refresh_token).toBeDefined();
    await page.close();
  });

  it('answers access_denied to the tool when the person cancels', async () => {
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const page = await browser.newPage();
    await enterCode(page, device.user_code);
    await submitLoginIfShown(page, user);
    await page.click('button:has-text("Cancel")');
    await expect(oidc.pollDeviceAuthorizationGrant(cli, device)).rejects.toMatchObject({
      error: 'access_denied',
    });
    await page.close();
  });

  it('shows an error page for an unknown code', async () => {
    const page = await browser.newPage();
    await enterCode(page, 'BCDF-GHJK');
    await expect(page.locator('.error').textContent()).resolves.toContain('not valid or has expired');
    await page.close();
  });

  it('answers expired_token once the code has expired', async () => {
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    await new Promise((resolve) => setTimeout(resolve, 21_000));
    const response = await fetch(`${gatehouse.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: device.device_code,
        client_id: 'gh-cli',
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'expired_token' });
  });
});
