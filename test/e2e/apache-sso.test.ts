import type { Browser } from 'playwright-core';
import { startApacheRelyingParty, type ApacheRelyingParty } from '../support/apache.ts';
import { launchChromium } from '../support/browser.ts';
import { submitLoginIfShown } from '../support/browser-sign-in.ts';
import { freePort, startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';

/** The README's Apache mod_auth_openidc configuration, end to end: a page behind Apache, signed in through Gatehouse. */
const user = { email: 'wiki-reader@example.com', password: 'apache passphrase sso', name: 'Wiki Reader' };

describe('Apache mod_auth_openidc in front of an internal page', () => {
  let gatehouse: GatehouseProcess;
  let apache: ApacheRelyingParty;
  let browser: Browser;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess();
    const port = await freePort();
    const redirectUri = `http://127.0.0.1:${port}/protected/redirect_uri`;
    await gatehouse.cli('role', 'create', 'reader');
    await gatehouse.cli(
      'user',
      'create',
      '--email',
      user.email,
      '--password',
      user.password,
      '--name',
      user.name,
      '--role',
      'reader',
    );
    await gatehouse.cli(
      'client',
      'create',
      '--id',
      'apache-wiki',
      '--secret',
      'apache-wiki-secret-0123',
      '--first-party',
      '--redirect-uri',
      redirectUri,
      '--scope',
      'openid email profile roles',
    );
    apache = await startApacheRelyingParty({
      issuer: gatehouse.url,
      clientId: 'apache-wiki',
      clientSecret: 'apache-wiki-secret-0123',
      port,
    });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await apache?.stop();
    await gatehouse?.cleanup();
  });

  it('sends the visitor through Gatehouse sign-in and then serves the page with their claims', async () => {
    const page = await browser.newPage();
    await page.goto(`${apache.origin}/protected/`);
    expect(page.url()).toContain(`${gatehouse.url}/interaction/`);
    expect(await submitLoginIfShown(page, user)).toBe(true);
    await page.waitForURL(`${apache.origin}/protected/`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Team wiki');

    const info = await page.goto(`${apache.redirectUri}?info=json`);
    const session = (await info!.json()) as {
      id_token: Record<string, unknown>;
      userinfo: Record<string, unknown>;
    };
    expect(session.id_token).toMatchObject({
      iss: gatehouse.url,
      aud: 'apache-wiki',
      email: user.email,
      roles: ['reader'],
    });
    expect(session.userinfo).toMatchObject({ email: user.email, name: user.name });
  });
});
