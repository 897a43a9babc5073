import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { signInWithBrowser, submitLoginIfShown } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import {
  discoverAsClient,
  startAuthorization,
  startCallbackServer,
  type CallbackServer,
} from '../support/relying-party.ts';

/** An editor signs in through the real page; the app and an API see the editor's roles and permissions. */
const editor = { email: 'edith@example.com', password: 'editor passphrase e2e' };
const articles = 'https://api.example.com/articles';

describe('roles and permissions, end to end', () => {
  let gatehouse: GatehouseProcess;
  let app: CallbackServer;
  let browser: Browser;
  let page: Page;
  let rp: oidc.Configuration;
  let partner: oidc.Configuration;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess();
    app = await startCallbackServer();
    browser = await launchChromium();
    page = await browser.newPage();
    const steps = [
      [
        'role',
        'create',
        'editor',
        '--permission',
        'articles:read',
        '--permission',
        'articles:write',
        '--permission',
        'billing:read',
      ],
      [
        'api',
        'create',
        '--identifier',
        articles,
        '--permission',
        'articles:read',
        '--permission',
        'articles:write',
        '--permission',
        'articles:delete',
        '--name',
        'Articles',
        '--describe',
        'articles:read=Read the articles you can see',
        '--describe',
        'articles:write=Write and edit articles as you',
      ],
      ['user', 'create', '--email', editor.email, '--password', editor.password, '--role', 'editor'],
      [
        'client',
        'create',
        '--id',
        'cms',
        '--secret',
        'cms-secret-0123456789',
        '--redirect-uri',
        `${app.origin}/cb`,
        '--first-party',
        '--api',
        articles,
      ],
      [
        'client',
        'create',
        '--id',
        'partner',
        '--name',
        'Partner Tool',
        '--secret',
        'partner-secret-0123456789',
        '--redirect-uri',
        `${app.origin}/cb`,
        '--api',
        articles,
      ],
    ];
    for (const step of steps) expect((await gatehouse.cli(...step)).code).toBe(0);
    rp = await discoverAsClient(gatehouse.url, 'cms', 'cms-secret-0123456789');
    partner = await discoverAsClient(gatehouse.url, 'partner', 'partner-secret-0123456789');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await gatehouse?.cleanup();
  });

  it('puts the roles in the ID token and userinfo, and the API permissions in a JWT access token', async () => {
    const { tokens } = await signInWithBrowser(
      page,
      rp,
      app,
      editor,
      { scope: 'openid email roles articles:read articles:write articles:delete', resource: articles },
      { resource: articles },
    );
    expect(tokens.claims()).toMatchObject({ email: editor.email, roles: ['editor'] });

    const { payload, protectedHeader } = await jwtVerify(
      tokens.access_token,
      createRemoteJWKSet(new URL(`${gatehouse.url}/jwks`)),
      {
        issuer: gatehouse.url,
        audience: articles,
        typ: 'at+jwt',
      },
    );
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({
      roles: ['editor'],
      permissions: ['articles:read', 'articles:write'],
      client_id: 'cms',
    });

    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toMatchObject({
      active: true,
      roles: ['editor'],
      permissions: ['articles:read', 'articles:write'],
    });

    const session = await signInWithBrowser(page, rp, app, editor, { scope: 'openid email roles' });
    const userinfo = await oidc.fetchUserInfo(rp, session.tokens.access_token, String(payload.sub));
    expect(userinfo).toMatchObject({ roles: ['editor'] });
    expect(await oidc.tokenIntrospection(rp, session.tokens.access_token)).toMatchObject({
      roles: ['editor'],
      permissions: ['articles:read', 'articles:write', 'billing:read'],
    });
  });

  it('stops a third-party app from getting permissions the user did not consent to: the consent page names the app, the API and each permission', async () => {
    const context = await browser.newContext();
    const own = await context.newPage();
    const pending = await startAuthorization(partner, {
      redirect_uri: `${app.origin}/cb`,
      scope: 'openid articles:read articles:write',
      resource: articles,
    });
    await own.goto(pending.url.href);
    await submitLoginIfShown(own, editor);
    await own.waitForSelector('button:has-text("Allow")');
    const text = await own.locator('main, body').first().innerText();
    expect(text).toContain('Partner Tool');
    expect(text).toContain('Articles');
    expect(text).toContain('Read the articles you can see');
    expect(text).toContain('Write and edit articles as you');
    // Denying gives the app nothing.
    const denied = app.next();
    await own.click('button:has-text("Deny")');
    expect((await denied).searchParams.get('error')).toBe('access_denied');

    // Allowing gives exactly what was asked and consented: not articles:delete, which the editor does not hold.
    await own.goto(pending.url.href);
    const allowed = app.next();
    await own.click('button:has-text("Allow")');
    const tokens = await oidc.authorizationCodeGrant(
      partner,
      await allowed,
      { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce },
      { resource: articles },
    );
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      client_id: 'partner',
      permissions: ['articles:read', 'articles:write'],
    });
    await context.close();
  });

  it('shows the roles on the account page', async () => {
    await page.goto(`${gatehouse.url}/account`);
    await expect(page.locator('#account-roles').textContent()).resolves.toBe('editor');
  });
});
