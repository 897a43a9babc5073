import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { signInWithBrowser } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import { discoverAsClient, startCallbackServer, type CallbackServer } from '../support/relying-party.ts';

/** An editor signs in through the real page; the app and an API see the editor's roles and permissions. */
const editor = { email: 'edith@example.com', password: 'editor passphrase e2e' };
const articles = 'https://api.example.com/articles';

describe('roles and permissions, end to end', () => {
  let gatehouse: GatehouseProcess;
  let app: CallbackServer;
  let browser: Browser;
  let page: Page;
  let rp: oidc.Configuration;

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
      ],
    ];
    for (const step of steps) expect((await gatehouse.cli(...step)).code).toBe(0);
    rp = await discoverAsClient(gatehouse.url, 'cms', 'cms-secret-0123456789');
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
      { scope: 'openid email roles', resource: articles },
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

  it('shows the roles on the account page', async () => {
    await page.goto(`${gatehouse.url}/account`);
    await expect(page.locator('#account-roles').textContent()).resolves.toBe('editor');
  });
});
