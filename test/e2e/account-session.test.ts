import * as oidc from 'openid-client';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { signInWithBrowser, submitLoginIfShown } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import { discoverAsClient, startCallbackServer, type CallbackServer } from '../support/relying-party.ts';

/**
 * The account page (`/account`) is an app of Gatehouse's own with a cookie of its own. It must end with the Gatehouse
 * session it was signed in through and with its account: whoever ends a user's sessions (the CLI, the admin API,
 * another browser, a password change elsewhere, an operator disabling or deleting the account) also ends what an
 * attacker sees on the account page, at its next request.
 */
const password = 'account page passphrase';
const opsSecret = 'ops-secret-0123456789';
const appSecret = 'app-secret-0123456789';

describe('the account page session', () => {
  let gatehouse: GatehouseProcess;
  let apps: CallbackServer;
  let browser: Browser;
  let ops: oidc.Configuration;
  let app: oidc.Configuration;
  let tool: oidc.Configuration;
  let users = 0;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess();
    apps = await startCallbackServer();
    browser = await launchChromium();
    const opsClient = await gatehouse.cli(
      'client',
      'create',
      '--id',
      'ops',
      '--secret',
      opsSecret,
      '--grant-type',
      'client_credentials',
      '--role',
      'admin',
    );
    expect(opsClient.code).toBe(0);
    // A third-party app: its consent is an interaction, after which oidc-provider gives the session a new id; and a
    // first-party one, which signs in without asking.
    const appClient = await gatehouse.cli(
      'client',
      'create',
      '--id',
      'app',
      '--secret',
      appSecret,
      '--redirect-uri',
      `${apps.origin}/cb`,
      '--post-logout-redirect-uri',
      `${apps.origin}/bye`,
    );
    expect(appClient.code).toBe(0);
    const toolClient = await gatehouse.cli(
      'client',
      'create',
      '--id',
      'tool',
      '--secret',
      appSecret,
      '--first-party',
      '--redirect-uri',
      `${apps.origin}/cb`,
    );
    expect(toolClient.code).toBe(0);
    ops = await discoverAsClient(gatehouse.url, 'ops', opsSecret);
    app = await discoverAsClient(gatehouse.url, 'app', appSecret);
    tool = await discoverAsClient(gatehouse.url, 'tool', appSecret);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await apps?.close();
    await gatehouse?.cleanup();
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });

  async function adminApi(method: string, path: string, body?: unknown): Promise<Response> {
    const token = (await oidc.clientCredentialsGrant(ops, { resource: `${gatehouse.url}/admin` }))
      .access_token;
    return fetch(`${gatehouse.url}/admin/api${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  /** A user of this test alone: signing one out must not touch the others. */
  async function newUser(): Promise<{ id: string; email: string; password: string }> {
    users += 1;
    const email = `user${users}@example.com`;
    const response = await adminApi('POST', '/users', { email, password });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    return { id, email, password };
  }

  /** A browser of its own (cookies and all), signed in to the account page. */
  async function signedInAccountPage(user: { email: string; password: string }): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${gatehouse.url}/account`);
    await submitLoginIfShown(page, user);
    await page.waitForURL(`${gatehouse.url}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(user.email);
    return page;
  }

  /** Opens the account page until it asks for the password instead (within `withinMs`); false if it never did. */
  async function accountPageAsksToSignIn(page: Page, withinMs = 0): Promise<boolean> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      await page.goto(`${gatehouse.url}/account`);
      const asks =
        new URL(page.url()).pathname.startsWith('/interaction/') &&
        (await page.locator('input[name="password"]').count()) === 1 &&
        (await page.locator('#account-email').count()) === 0;
      if (asks || Date.now() >= deadline) return asks;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function withDatabase<T>(run: (db: pg.Client) => Promise<T>): Promise<T> {
    const db = new pg.Client({ connectionString: gatehouse.database!.url });
    await db.connect();
    try {
      return await run(db);
    } finally {
      await db.end();
    }
  }

  it('ends the account page when the user is signed out everywhere from the CLI', async () => {
    const user = await newUser();
    const page = await signedInAccountPage(user);
    const result = await gatehouse.cli('user', 'sign-out-everywhere', '--email', user.email, '--json');
    expect(result.json()).toMatchObject({ queued: false, sessions: 1 });
    expect(await accountPageAsksToSignIn(page)).toBe(true);
  });

  it('ends the account page when the user is signed out everywhere through the admin API', async () => {
    const user = await newUser();
    const page = await signedInAccountPage(user);
    expect((await adminApi('DELETE', `/users/${user.id}/sessions`)).status).toBe(200);
    expect(await accountPageAsksToSignIn(page)).toBe(true);
  });

  it('ends the account page when an operator disables the account', async () => {
    const user = await newUser();
    const page = await signedInAccountPage(user);
    expect((await adminApi('PATCH', `/users/${user.id}`, { status: 'disabled' })).status).toBe(200);
    expect(await accountPageAsksToSignIn(page)).toBe(true);
  });

  it('ends the account page when the account is disabled straight in the database, its sessions left running', async () => {
    const user = await newUser();
    const page = await signedInAccountPage(user);
    await withDatabase((db) => db.query("UPDATE accounts SET status = 'disabled' WHERE id = $1", [user.id]));
    // Other processes notice an account changed within one poll of the config versions (500 ms by default).
    expect(await accountPageAsksToSignIn(page, 5000)).toBe(true);
  });

  it('ends the account page when the account is deleted from the database', async () => {
    const user = await newUser();
    const page = await signedInAccountPage(user);
    await withDatabase((db) => db.query('DELETE FROM accounts WHERE id = $1', [user.id]));
    expect(await accountPageAsksToSignIn(page, 5000)).toBe(true);
  });

  it('ends the account page when its session is revoked from the account page of another browser', async () => {
    const user = await newUser();
    const stolen = await signedInAccountPage(user);
    const owner = await signedInAccountPage(user);
    await owner.goto(`${gatehouse.url}/account/sessions`);
    await expect(owner.locator('#sessions li').count()).resolves.toBe(2);
    await owner.click('#sessions li:not(:has-text("this browser")) button:has-text("Sign out this session")');
    await owner.waitForURL(`${gatehouse.url}/account/sessions`);
    await expect(owner.locator('#sessions li').count()).resolves.toBe(1);
    expect(await accountPageAsksToSignIn(stolen)).toBe(true);
    expect(await accountPageAsksToSignIn(owner)).toBe(false);
  });

  it('ends the account page when the password is changed in another session, keeping the session that changed it', async () => {
    const user = await newUser();
    const stolen = await signedInAccountPage(user);
    const owner = await signedInAccountPage(user);
    await owner.goto(`${gatehouse.url}/account/password`);
    await owner.fill('input[name="current_password"]', user.password);
    await owner.fill('input[name="new_password"]', 'a brand new account page passphrase');
    await owner.click('button:has-text("Change password")');
    await expect(owner.locator('[role="status"]').textContent()).resolves.toContain(
      'Your other sessions were signed out',
    );
    expect(await accountPageAsksToSignIn(stolen)).toBe(true);
    expect(await accountPageAsksToSignIn(owner)).toBe(false);
    await expect(owner.locator('#account-email').textContent()).resolves.toBe(user.email);
  });

  it('ends the account page when the user signs out of another app in the same browser', async () => {
    const user = await newUser();
    const page = await signedInAccountPage(user);
    const { tokens } = await signInWithBrowser(page, app, apps, user, { scope: 'openid email' });
    const bye = apps.next('/bye');
    await page.goto(
      oidc.buildEndSessionUrl(app, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: `${apps.origin}/bye`,
      }).href,
    );
    await page.click('button:has-text("Yes, sign me out")');
    await bye;
    expect(await accountPageAsksToSignIn(page)).toBe(true);
  });

  it('ends the account page of the previous user when someone else signs in on the same browser', async () => {
    const previous = await newUser();
    const next = await newUser();
    const page = await signedInAccountPage(previous);
    await signInWithBrowser(page, tool, apps, next, { scope: 'openid email', prompt: 'login' });
    await page.goto(`${gatehouse.url}/account`);
    await page.waitForURL(`${gatehouse.url}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(next.email);
  });

  it('keeps the account page while its session signs in to other apps (their consent renews the session id)', async () => {
    const user = await newUser();
    const page = await signedInAccountPage(user);
    const sessionCookie = async () =>
      (await page.context().cookies(gatehouse.url)).find((cookie) => cookie.name === 'gh_session')?.value;
    const before = await sessionCookie();
    const { tokens } = await signInWithBrowser(page, app, apps, user, { scope: 'openid email' });
    expect(tokens.claims()!.sub).toBe(user.id);
    expect(await sessionCookie()).not.toBe(before);
    expect(await accountPageAsksToSignIn(page)).toBe(false);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(user.email);
  });
});
