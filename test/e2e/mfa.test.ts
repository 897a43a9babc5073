import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { acrValues } from '../../src/oidc/acr.ts';
import { totpCodeAt } from '../../src/libraries/totp.ts';
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
 * Two-step verification through the real pages in Chromium: enrollment on the account page (the test reads the
 * secret from the page and computes codes with otplib), step-up, TOTP and recovery codes, replay, the wrong-code
 * limit, and the admin-role policy forcing enrollment during sign-in.
 */
const alice = { email: 'alice@example.com', password: 'first user passphrase mfa' };
const bob = { email: 'bob@example.com', password: 'bob passphrase admin' };
const dave = { email: 'dave@example.com', password: 'fourth user passphrase mfa' };
const now = () => Math.floor(Date.now() / 1000);

describe('two-step verification', () => {
  let gatehouse: GatehouseProcess;
  let app: CallbackServer;
  let browser: Browser;
  let rp: oidc.Configuration;
  let aliceSecret: string;
  let aliceRecoveryCodes: string[];
  let enrollmentCode: string;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess({
      config: {
        throttle: {
          secondFactor: {
            perAccount: {
              maxFailures: 5,
              windowSeconds: 900,
              lockSeconds: 900,
              freeFailures: 2,
              maxDelaySeconds: 1,
            },
            perIp: {
              maxFailures: 100,
              windowSeconds: 900,
              lockSeconds: 900,
              freeFailures: 50,
              maxDelaySeconds: 1,
            },
          },
        },
      },
    });
    app = await startCallbackServer();
    browser = await launchChromium();
    for (const user of [alice, bob, dave]) {
      expect(
        (await gatehouse.cli('user', 'create', '--email', user.email, '--password', user.password)).code,
      ).toBe(0);
    }
    expect((await gatehouse.cli('user', 'assign-role', '--email', bob.email, '--role', 'admin')).code).toBe(
      0,
    );
    expect(
      (
        await gatehouse.cli(
          'client',
          'create',
          '--id',
          'bank',
          '--secret',
          'bank-secret-0123456789',
          '--redirect-uri',
          `${app.origin}/cb`,
          '--first-party',
        )
      ).code,
    ).toBe(0);
    rp = await discoverAsClient(gatehouse.url, 'bank', 'bank-secret-0123456789');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await gatehouse?.cleanup();
  });

  /** Starts an authorization in the page; returns a function completing it once the app has the code. */
  async function authorize(page: Page, params: Record<string, string> = {}) {
    const pending = await startAuthorization(rp, {
      redirect_uri: `${app.origin}/cb`,
      scope: 'openid email',
      ...params,
    });
    await page.goto(pending.url.href);
    // Waits for the app's callback only when the flow is meant to complete (an early arrival is kept).
    return async () => {
      const callback = await app.next('/cb');
      await page.waitForURL((url) => url.href.startsWith(`${app.origin}/cb`));
      return oidc.authorizationCodeGrant(rp, callback, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
      });
    };
  }

  async function submitCode(page: Page, code: string) {
    await page.fill('input[name="code"]', code);
    await page.click('button[type="submit"]:has-text("Verify")');
  }

  async function freshPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    return { context, page: await context.newPage() };
  }

  let alicePage: Page;

  it('enrolls an authenticator app from the account page, showing ten recovery codes once', async () => {
    ({ page: alicePage } = await freshPage());
    await alicePage.goto(`${gatehouse.url}/account/mfa`);
    await submitLoginIfShown(alicePage, alice);
    await alicePage.waitForURL(`${gatehouse.url}/account/mfa`);
    await alicePage.click('button:has-text("Set up an authenticator app")');
    aliceSecret = (await alicePage.locator('#totp-secret').textContent())!;
    expect(aliceSecret).toMatch(/^[A-Z2-7]{32}$/);
    expect(await alicePage.locator('img.qr').getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
    enrollmentCode = await totpCodeAt(aliceSecret, now());
    await alicePage.fill('input[name="code"]', enrollmentCode);
    await alicePage.click('button:has-text("Turn on two-step verification")');
    aliceRecoveryCodes = await alicePage.locator('#recovery-codes code').allTextContents();
    expect(aliceRecoveryCodes).toHaveLength(10);
    await alicePage.goto(`${gatehouse.url}/account/mfa`);
    await expect(alicePage.locator('#recovery-remaining').textContent()).resolves.toBe('10');
  });

  it('steps up a password session to MFA when the app asks with acr_values, without the password, refusing a replayed code', async () => {
    const complete = await authorize(alicePage, { acr_values: acrValues.mfa });
    expect(await alicePage.locator('input[name="password"]').count()).toBe(0);
    await submitCode(alicePage, enrollmentCode);
    await expect(alicePage.locator('.error').textContent()).resolves.toContain('That code is not right');
    await submitCode(alicePage, await totpCodeAt(aliceSecret, now() + 30));
    const tokens = await complete();
    expect(tokens.claims()).toMatchObject({ acr: acrValues.mfa, amr: ['pwd', 'otp', 'mfa'] });
  });

  it('signs in with a recovery code, which then no longer works', async () => {
    const first = await freshPage();
    const complete = await authorize(first.page);
    await submitLoginIfShown(first.page, alice);
    await submitCode(first.page, aliceRecoveryCodes[0]!);
    expect((await complete()).claims()).toMatchObject({ acr: acrValues.mfa, amr: ['pwd', 'mfa'] });
    await first.context.close();

    const second = await freshPage();
    await authorize(second.page);
    await submitLoginIfShown(second.page, alice);
    await submitCode(second.page, aliceRecoveryCodes[0]!);
    await expect(second.page.locator('.error').textContent()).resolves.toContain('That code is not right');
    await second.context.close();
  });

  it('slows down and then locks wrong codes, and audits it', async () => {
    const enrolled = await gatehouse.cli('user', 'enroll-totp', '--email', dave.email, '--json');
    const { secret, otpauth_uri: uri } = enrolled.json<{ secret: string; otpauth_uri: string }>();
    expect(uri).toContain(`secret=${secret}`);
    const { page, context } = await freshPage();
    await authorize(page);
    await submitLoginIfShown(page, dave);
    for (const code of ['000000', '123456']) {
      await submitCode(page, code);
      await expect(page.locator('.error').textContent()).resolves.toContain('That code is not right');
    }
    await submitCode(page, 'abcdef');
    await submitCode(page, '999999');
    await expect(page.locator('.error').textContent()).resolves.toMatch(/wait 1 second/);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await submitCode(page, '111111');
    }
    await submitCode(page, await totpCodeAt(secret, now()));
    await expect(page.locator('.error').textContent()).resolves.toMatch(/locked/);
    await context.close();

    const audit = (await gatehouse.cli('audit', '--since', '10m', '--email', dave.email, '--json')).json<
      { type: string; ip: string }[]
    >();
    expect(audit.map((event) => event.type)).toEqual(
      expect.arrayContaining(['mfa.enrolled', 'mfa.failed', 'mfa.locked']),
    );
    expect(audit.find((event) => event.type === 'mfa.failed')?.ip).toBeTruthy();
  });

  it('makes a holder of a role that requires MFA enroll during sign-in', async () => {
    expect((await gatehouse.cli('role', 'update', 'admin', '--require-mfa')).code).toBe(0);
    const { page, context } = await freshPage();
    const complete = await authorize(page);
    await submitLoginIfShown(page, bob);
    const secret = (await page.locator('#totp-secret').textContent())!;
    await page.fill('input[name="code"]', await totpCodeAt(secret, now()));
    await page.click('button:has-text("Turn on two-step verification")');
    await expect(page.locator('#recovery-codes code').count()).resolves.toBe(10);
    await page.click('button:has-text("I saved them, continue")');
    const tokens = await complete();
    expect(tokens.claims()).toMatchObject({ acr: acrValues.mfa, amr: ['pwd', 'otp', 'mfa'] });
    expect(decodeJwt(tokens.id_token!).auth_time).toBeGreaterThan(now() - 60);
    await context.close();
  });

  it('resets a factor from the CLI, recorded in the audit log', async () => {
    const reset = await gatehouse.cli('user', 'reset-mfa', '--email', dave.email, '--json');
    expect(reset.json()).toEqual({ email: dave.email, removed: true });
    const audit = (await gatehouse.cli('audit', '--since', '10m', '--type', 'mfa.removed', '--json')).json<
      { actor: string }[]
    >();
    expect(audit).toEqual([expect.objectContaining({ actor: 'cli' })]);
  });
});
