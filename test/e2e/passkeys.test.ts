import * as oidc from 'openid-client';
import pg from 'pg';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { acrValues } from '../../src/oidc/acr.ts';
import { recentSignInSeconds } from '../../src/routes/account/account-session.ts';
import { accountCookieNames } from '../../src/vocabulary/cookie-names.ts';
import { storeKeys } from '../../src/vocabulary/store-keys.ts';
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
 * Passkeys through the real pages in Chromium, with its virtual authenticator (the DevTools WebAuthn domain): made
 * on the account page, used passwordless on the login page and as the second factor after a password, and refused
 * when removed, cloned (a signature counter that went back), forged (a public key that does not match), or used
 * without user verification where it is required. Gatehouse answers on `localhost`: a WebAuthn relying-party id
 * is a host name, never an IP address.
 */
const carol = { email: 'carol@example.com', password: 'orange river passkeys 41' };
const dan = { email: 'dan@example.com', password: 'silver lantern passkeys 42' };
const erin = { email: 'erin@example.com', password: 'quiet harbor passkeys 43' };
const faye = { email: 'faye@example.com', password: 'amber meadow passkeys 44' };

interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
}

interface Authenticator {
  cdp: CDPSession;
  id: string;
  credentials(): Promise<VirtualCredential[]>;
}

describe('passkeys', () => {
  let gatehouse: GatehouseProcess;
  let app: CallbackServer;
  let browser: Browser;
  let shop: oidc.Configuration;
  let vault: oidc.Configuration;
  let db: pg.Client;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess({ host: 'localhost' });
    app = await startCallbackServer();
    browser = await launchChromium();
    for (const user of [carol, dan, erin, faye]) {
      const created = await gatehouse.cli(
        'user',
        'create',
        '--email',
        user.email,
        '--password',
        user.password,
      );
      expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    }
    for (const [id, extra] of [
      ['shop', []],
      ['vault', ['--require-mfa']],
    ] as const)
      expect(
        (
          await gatehouse.cli(
            'client',
            'create',
            '--id',
            id,
            '--secret',
            `${id}-secret-0123456789`,
            '--redirect-uri',
            `${app.origin}/cb`,
            '--first-party',
            ...extra,
          )
        ).code,
      ).toBe(0);
    shop = await discoverAsClient(gatehouse.url, 'shop', 'shop-secret-0123456789');
    vault = await discoverAsClient(gatehouse.url, 'vault', 'vault-secret-0123456789');
    db = new pg.Client({ connectionString: gatehouse.database!.url });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await db?.end();
    await browser?.close();
    await app?.close();
    await gatehouse?.cleanup();
  });

  /** A browser of its own with a virtual platform authenticator (resident keys, user verification) in its page. */
  async function browserWithAuthenticator(
    copy: VirtualCredential[] = [],
  ): Promise<{ page: Page; authenticator: Authenticator }> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    for (const credential of copy) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
    const authenticator: Authenticator = {
      cdp,
      id: authenticatorId,
      credentials: async () =>
        (await cdp.send('WebAuthn.getCredentials', { authenticatorId }))
          .credentials as unknown as VirtualCredential[],
    };
    return { page, authenticator };
  }

  /**
   * The account's passkey page, signed in with the password (a recent sign-in), and the passkey the page's
   * authenticator holds when the account has one.
   */
  async function openPasskeyPage(page: Page, user: typeof carol): Promise<void> {
    await page.goto(`${gatehouse.url}/account/passkeys`);
    await submitLoginIfShown(page, user);
    await page.waitForURL((url) => url.pathname === '/account/passkeys' || url.pathname.endsWith('/mfa'));
    if (new URL(page.url()).pathname.endsWith('/mfa')) await page.click('#passkey-verify');
    await page.waitForURL(`${gatehouse.url}/account/passkeys`);
  }

  async function addPasskey(page: Page, name: string): Promise<void> {
    await page.fill('#passkey-name', name);
    await page.click('#passkey-add');
    await page.waitForSelector(`.notice:has-text('Passkey "${name}" added.')`);
  }

  /** Starts an authorization in the page; the returned function completes it once the app has the code. */
  async function authorize(page: Page, rp: oidc.Configuration, params: Record<string, string> = {}) {
    const pending = await startAuthorization(rp, {
      redirect_uri: `${app.origin}/cb`,
      scope: 'openid email',
      ...params,
    });
    await page.goto(pending.url.href);
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

  async function auditTypes(email: string): Promise<string[]> {
    const audit = await gatehouse.cli('audit', '--since', '10m', '--email', email, '--json');
    return audit.json<{ type: string }[]>().map((event) => event.type);
  }

  async function refusal(page: Page): Promise<string> {
    await page.waitForLoadState();
    return (await page.locator('.error[role="alert"]:not([hidden])').first().textContent()) ?? '';
  }

  let carolCredential: VirtualCredential;

  it('registers a passkey on the account page after a recent sign-in, and lists it', async () => {
    const { page, authenticator } = await browserWithAuthenticator();
    await openPasskeyPage(page, carol);
    await expect(page.locator('#no-passkeys').count()).resolves.toBe(1);
    await addPasskey(page, 'Carol laptop');
    await expect(page.locator('#passkeys .passkey-name').allTextContents()).resolves.toEqual([
      'Carol laptop',
    ]);
    const [credential] = await authenticator.credentials();
    expect(credential).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
    carolCredential = credential!;
    const { rows } = await db.query(
      `SELECT p.credential_id, p.device_type FROM passkeys p JOIN accounts a ON a.id = p.account_id
       WHERE a.email = $1`,
      [carol.email],
    );
    expect(rows).toEqual([
      {
        credential_id: Buffer.from(credential!.credentialId, 'base64').toString('base64url'),
        device_type: 'singleDevice',
      },
    ]);
  });

  it('signs in passwordless with a discoverable passkey: amr hwk, user and mfa, the MFA acr', async () => {
    const { page } = await browserWithAuthenticator([carolCredential]);
    const complete = await authorize(page, shop);
    await page.click('#passkey-sign-in');
    const tokens = await complete();
    const claims = tokens.claims()!;
    expect(claims.email).toBe(carol.email);
    expect(claims.amr).toEqual(['hwk', 'user', 'mfa']);
    expect(claims.acr).toBe(acrValues.mfa);
  });

  it('refuses a cloned passkey whose signature counter went back (counter not above the stored one)', async () => {
    const stored = await db.query<{ counter: string }>(
      `SELECT p.counter FROM passkeys p JOIN accounts a ON a.id = p.account_id WHERE a.email = $1`,
      [carol.email],
    );
    expect(Number(stored.rows[0]!.counter)).toBeGreaterThan(carolCredential.signCount);
    // The copy taken at registration: it signs with the counter the server has already seen.
    const { page } = await browserWithAuthenticator([carolCredential]);
    await authorize(page, shop);
    await page.click('#passkey-sign-in');
    await page.waitForURL((url) => url.pathname.endsWith('/passkey'));
    await expect(refusal(page)).resolves.toContain('could not be verified');
  });

  it('refuses a passwordless sign-in without user verification, even from a page altered not to ask for it', async () => {
    const { page, authenticator } = await browserWithAuthenticator([
      { ...carolCredential, signCount: carolCredential.signCount + 100 },
    ]);
    await authenticator.cdp.send('WebAuthn.setUserVerified', {
      authenticatorId: authenticator.id,
      isUserVerified: false,
    });
    await authorize(page, shop);
    // A browser asked to verify the person refuses on its own; a script (or an extension) that changes the options
    // gets an answer without verification, which the server must refuse: it remembers what it asked for.
    await page.$eval('form[data-passkey]', (form) =>
      form.setAttribute(
        'data-options',
        form
          .getAttribute('data-options')!
          .replace('"userVerification":"required"', '"userVerification":"discouraged"'),
      ),
    );
    expect(await page.getAttribute('form[data-passkey]', 'data-options')).toContain('discouraged');
    await page.click('#passkey-sign-in');
    await page.waitForURL((url) => url.pathname.endsWith('/passkey'));
    await expect(refusal(page)).resolves.toContain('could not be verified');
    await expect(page.locator('input[name="password"]').count()).resolves.toBe(1);
  });

  let danPage: Page;
  let danCredential: VirtualCredential;

  it('steps up a password session with a passkey (acr_values): the session keeps pwd, adds hwk, user, mfa', async () => {
    const made = await browserWithAuthenticator();
    danPage = made.page;
    await openPasskeyPage(danPage, dan);
    await addPasskey(danPage, 'Dan key');
    [danCredential] = await made.authenticator.credentials();
    const complete = await authorize(danPage, shop, { acr_values: acrValues.mfa });
    await danPage.waitForURL((url) => url.pathname.endsWith('/mfa'));
    await danPage.click('#passkey-verify');
    const claims = (await complete()).claims()!;
    expect(claims.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
    expect(claims.acr).toBe(acrValues.mfa);
  });

  it('takes a passkey as the second factor after the password, for a client that requires MFA', async () => {
    const { page } = await browserWithAuthenticator([
      { ...danCredential, signCount: danCredential.signCount + 10 },
    ]);
    const complete = await authorize(page, vault);
    await submitLoginIfShown(page, dan);
    await page.waitForURL((url) => url.pathname.endsWith('/mfa'));
    // Dan has no authenticator app: the page offers the passkey alone.
    await expect(page.locator('input[name="code"]').count()).resolves.toBe(0);
    await page.click('#passkey-verify');
    const claims = (await complete()).claims()!;
    expect(claims.email).toBe(dan.email);
    expect(claims.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
    expect(claims.acr).toBe(acrValues.mfa);
  });

  it('refuses a passkey whose signature does not match the stored public key (forged or swapped key)', async () => {
    // Dan's row gets Carol's public key: Dan's authenticator still signs with Dan's private key.
    await db.query(
      `UPDATE passkeys SET public_key = (SELECT p.public_key FROM passkeys p JOIN accounts a ON a.id = p.account_id
                                          WHERE a.email = $2)
       WHERE account_id = (SELECT id FROM accounts WHERE email = $1)`,
      [dan.email, carol.email],
    );
    const { page } = await browserWithAuthenticator([
      { ...danCredential, signCount: danCredential.signCount + 20 },
    ]);
    await authorize(page, vault);
    await submitLoginIfShown(page, dan);
    await page.waitForURL((url) => url.pathname.endsWith('/mfa'));
    await page.click('#passkey-verify');
    await page.waitForURL((url) => url.pathname.endsWith('/mfa/passkey'));
    await expect(refusal(page)).resolves.toContain('could not be verified');
  });

  it('refuses a passkey removed from the account page', async () => {
    // Carol has a password and this passkey: the account page asks for both, and she may remove it.
    const { page } = await browserWithAuthenticator([
      { ...carolCredential, signCount: carolCredential.signCount + 200 },
    ]);
    await openPasskeyPage(page, carol);
    await page.click('#passkeys li button:has-text("Remove")');
    await page.waitForSelector('.notice:has-text("The passkey was removed.")');
    await expect(page.locator('#no-passkeys').count()).resolves.toBe(1);

    const other = await browserWithAuthenticator([
      { ...carolCredential, signCount: carolCredential.signCount + 300 },
    ]);
    await authorize(other.page, shop);
    await other.page.click('#passkey-sign-in');
    await other.page.waitForURL((url) => url.pathname.endsWith('/passkey'));
    await expect(refusal(other.page)).resolves.toContain('not registered with Gatehouse');
  });

  it('keeps the last way to sign in: an account without a password cannot remove its only passkey', async () => {
    const { page } = await browserWithAuthenticator();
    await openPasskeyPage(page, erin);
    await addPasskey(page, 'Erin phone');
    await db.query('UPDATE accounts SET password_hash = NULL WHERE email = $1', [erin.email]);
    const removal = page.waitForResponse((response) => response.url().endsWith('/remove'));
    await page.click('#passkeys li button:has-text("Remove")');
    expect((await removal).status()).toBe(409);
    await expect(refusal(page)).resolves.toContain('only way to sign in');
    await expect(page.locator('#passkeys .passkey-name').allTextContents()).resolves.toEqual(['Erin phone']);
    const types = await auditTypes(erin.email);
    expect(types).toContain('passkey.registered');
    expect(types).not.toContain('passkey.removed');
    expect(await auditTypes(carol.email)).toEqual(
      expect.arrayContaining(['passkey.removed', 'passkey.failed']),
    );
  });

  it('takes a passwordless passkey sign-in (user verified) as signing in again for a sensitive change', async () => {
    const { page } = await browserWithAuthenticator();
    await openPasskeyPage(page, faye);
    await addPasskey(page, 'Faye laptop');
    // The account page's sign-in grows old, as a browser left unattended for longer than the recent window.
    const cookie = (await page.context().cookies(`${gatehouse.url}/account`)).find(
      (candidate) => candidate.name === accountCookieNames.session,
    );
    const key = `${gatehouse.redis!.prefix}kv:{${storeKeys.accountSession(cookie!.value)}}`;
    const session = JSON.parse((await gatehouse.redis!.client.get(key))!) as { authTime: number };
    session.authTime = Math.floor(Date.now() / 1000) - recentSignInSeconds - 60;
    expect(await gatehouse.redis!.client.set(key, JSON.stringify(session), 'KEEPTTL')).toBe('OK');

    await page.goto(`${gatehouse.url}/account/passkeys`);
    await page.waitForURL((url) => url.pathname.startsWith('/interaction/'));
    await expect(page.locator('input[name="email"]').inputValue()).resolves.toBe(faye.email);
    await page.click('#passkey-sign-in');
    await page.waitForURL(`${gatehouse.url}/account/passkeys`);
    await expect(page.locator('#passkeys .passkey-name').allTextContents()).resolves.toEqual(['Faye laptop']);
    expect(await auditTypes(faye.email)).toContain('account.reauthenticated');
  });
});
