import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { submitLoginIfShown } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';

/**
 * A deployment whose ISSUER names a host other than the address it listens on (a DNS name, a proxy in front).
 * Gatehouse's own account page reaches the provider over loopback; the browsers it redirects must still only ever
 * see the issuer's origin, never this machine's loopback address (which is the end user's own machine for them).
 */
describe('Gatehouse behind a public issuer host', () => {
  const publicHost = 'gatehouse.test';
  const user = { email: 'ada@example.com', password: 'violet-harbour-lantern-93' };
  let gatehouse: GatehouseProcess;
  let browser: Browser;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess({ publicHost });
    const created = await gatehouse.cli('user', 'create', '--email', user.email, '--password', user.password);
    expect(created.code).toBe(0);
    browser = await launchChromium([`--host-resolver-rules=MAP ${publicHost} 127.0.0.1`]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gatehouse?.cleanup();
  });

  it('never sends a browser to the internal loopback address (account page behind a public issuer host)', async () => {
    const issuerOrigin = new URL(gatehouse.issuer).origin;
    expect(issuerOrigin).toBe(`http://${publicHost}:${gatehouse.port}`);

    const page = await browser.newPage();
    const visited: string[] = [];
    page.on('request', (request) => visited.push(request.url()));
    page.on('framenavigated', (frame) => visited.push(frame.url()));

    await page.goto(`${gatehouse.issuer}/account`);
    expect(await submitLoginIfShown(page, user)).toBe(true);
    await page.waitForURL(`${gatehouse.issuer}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(user.email);

    // Signing out goes through the end-session endpoint, another URL taken from the provider's metadata.
    await page.click('button:has-text("Sign out")');
    await page.click('button:has-text("Yes, sign me out")');
    await page.waitForURL(`${gatehouse.issuer}/account/signed-out`);

    const elsewhere = visited.filter((url) => new URL(url).origin !== issuerOrigin);
    expect(elsewhere).toEqual([]);
    expect(visited.some((url) => new URL(url).pathname === '/auth')).toBe(true);
    expect(visited.some((url) => new URL(url).pathname.startsWith('/session/end'))).toBe(true);
  });

  it('never redirects /account/login to the internal loopback address (plain HTTP, public issuer host)', async () => {
    const response = await fetch(`${gatehouse.url}/account/login`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin).toBe(new URL(gatehouse.issuer).origin);
    expect(location.pathname).toBe('/auth');
  });
});
