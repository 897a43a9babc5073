import { execFileSync } from 'node:child_process';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
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
 * Several Gatehouse processes behind one issuer, sharing one Postgres and one Redis: a sign-in through one gives
 * single sign-on and refresh through another. The second runs as a node:cluster primary with two workers.
 */
const user = { email: 'multi@example.com', password: 'several processes passphrase' };
const secret = 'multi-secret-0123456789';

describe('several Gatehouse processes', () => {
  let first: GatehouseProcess;
  let second: GatehouseProcess;
  let app: CallbackServer;
  let browser: Browser;

  beforeAll(async () => {
    first = await startGatehouseProcess();
    second = await startGatehouseProcess({
      reuse: first,
      env: { ISSUER: first.url },
      config: { cluster: { workers: 2 } },
    });
    app = await startCallbackServer();
    browser = await launchChromium();
    await first.cli('user', 'create', '--email', user.email, '--password', user.password);
    await first.cli(
      'client',
      'create',
      '--id',
      'shared',
      '--secret',
      secret,
      '--first-party',
      '--redirect-uri',
      `${app.origin}/cb`,
    );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await second?.stop();
    await first?.cleanup();
  });

  const tokenAt = async (origin: string, params: Record<string, string>) => {
    const response = await fetch(`${origin}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`shared:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(params),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };

  it('runs the second process as two workers', () => {
    const children = execFileSync('ps', ['--ppid', String(second.child.pid), '-o', 'pid='], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    expect(children).toHaveLength(2);
  });

  it('signs in through one process and gets single sign-on and refresh through the other', async () => {
    const rp = await discoverAsClient(first.url, 'shared', secret);
    const page = await browser.newPage();
    const signIn = await startAuthorization(rp, {
      redirect_uri: `${app.origin}/cb`,
      scope: 'openid email offline_access',
      prompt: 'consent',
    });
    await page.goto(signIn.url.href);
    expect(await submitLoginIfShown(page, user)).toBe(true);
    const firstCallback = await app.next('/cb');
    await page.waitForURL((url) => url.pathname === '/cb');
    const tokens = await oidc.authorizationCodeGrant(rp, firstCallback, {
      pkceCodeVerifier: signIn.codeVerifier,
      expectedState: signIn.state,
      expectedNonce: signIn.nonce,
    });

    // The same browser, now talking to the other process: no form, a code it can redeem there.
    const sso = await startAuthorization(rp, { redirect_uri: `${app.origin}/cb` });
    await page.goto(`${second.url}/auth${sso.url.search}`);
    expect(await page.locator('input[name="password"]').count()).toBe(0);
    const secondCallback = await app.next('/cb');
    const exchanged = await tokenAt(second.url, {
      grant_type: 'authorization_code',
      code: secondCallback.searchParams.get('code')!,
      redirect_uri: `${app.origin}/cb`,
      code_verifier: sso.codeVerifier,
    });
    expect(exchanged.status).toBe(200);
    expect(
      JSON.parse(Buffer.from(exchanged.body.id_token!.split('.')[1]!, 'base64url').toString()),
    ).toMatchObject({ iss: first.url, email: user.email });

    let refreshToken = tokens.refresh_token!;
    for (let i = 0; i < 4; i += 1) {
      const refreshed = await tokenAt(second.url, {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
      expect(refreshed.status).toBe(200);
      refreshToken = refreshed.body.refresh_token!;
    }
    expect((await oidc.refreshTokenGrant(rp, refreshToken)).access_token).toBeDefined();
    await page.close();
  });
});
