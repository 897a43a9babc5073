import * as oidc from 'openid-client';
import { authorizeOverHttp, createHttpBrowser, formAction, formField } from '../support/http-sign-in.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * Forgery, framing and redirection: security headers on every kind of response, cookie flags, CSRF, PKCE, exact
 * redirect URIs, no open redirect, size limits, and guessing limits on client secrets.
 */
let gh: TestGatehouse;
let https: TestGatehouse;
const redirectUri = 'http://127.0.0.1:9/cb';
const user = { email: 'sec@example.com', password: 'security passphrase one' };

beforeAll(async () => {
  gh = await startTestGatehouse({
    config: {
      throttle: {
        clientAuthentication: {
          perClient: {
            maxFailures: 3,
            windowSeconds: 900,
            lockSeconds: 900,
            freeFailures: 10,
            maxDelaySeconds: 1,
          },
          perIp: {
            maxFailures: 1000,
            windowSeconds: 900,
            lockSeconds: 900,
            freeFailures: 1000,
            maxDelaySeconds: 1,
          },
        },
      },
    },
  });
  https = await startTestGatehouse({
    hot: 'memory',
    issuer: 'https://id.gatehouse.test',
    config: { trustProxy: true },
  });
  for (const instance of [gh, https]) {
    await instance.gatehouse.accounts.create(user);
    await instance.gatehouse.clients.create({
      id: 'app',
      secret: 'app-secret-0123456789',
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      public: false,
      firstParty: false,
    });
    await instance.gatehouse.clients.create({
      id: 'spa',
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [],
      grantTypes: [],
      public: true,
      firstParty: true,
    });
  }
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await https?.close();
});

const authUrl = (base: string, params: Record<string, string> = {}) =>
  `${base}/auth?${new URLSearchParams({ client_id: 'app', response_type: 'code', scope: 'openid', redirect_uri: redirectUri, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', ...params })}`;

async function loginPage(base: string, headers: Record<string, string> = {}) {
  const browser = createHttpBrowser();
  const start = await fetch(authUrl(base), { redirect: 'manual', headers });
  browser.jar.store(start);
  const location = new URL(start.headers.get('location')!, base).href;
  const page = await fetch(location, { headers: { ...headers, cookie: browser.jar.header() } });
  return { browser, page, location, html: await page.clone().text() };
}

function expectSecurityHeaders(response: Response) {
  const csp = response.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  expect(response.headers.get('x-frame-options')).toBe('DENY');
}

describe('security headers', () => {
  it.each([
    ['the login page', async () => (await loginPage(gh.url)).page],
    ['an error page', () => fetch(`${gh.url}/auth?client_id=nope`, { headers: { accept: 'text/html' } })],
    [
      'an expired sign-in page',
      () => fetch(`${gh.url}/interaction/nope`, { headers: { accept: 'text/html' } }),
    ],
    ['the logout page', () => fetch(`${gh.url}/session/end`, { headers: { accept: 'text/html' } })],
    ['the device page', () => fetch(`${gh.url}/device`)],
    ['the account page redirect', () => fetch(`${gh.url}/account`, { redirect: 'manual' })],
    ['discovery', () => fetch(`${gh.url}/.well-known/openid-configuration`)],
    ['the token endpoint', () => fetch(`${gh.url}/token`, { method: 'POST' })],
    ['the admin API', () => fetch(`${gh.url}/admin/api/users`)],
    ['a stylesheet', () => fetch(`${gh.url}/assets/gatehouse.css`)],
    [
      'a page that does not exist',
      () => fetch(`${gh.url}/nothing-here`, { headers: { accept: 'text/html' } }),
    ],
  ])('are on %s', async (_name, request) => {
    const response = await request();
    expectSecurityHeaders(response);
    expect(response.headers.get('strict-transport-security')).toBeNull();
  });

  it('add HSTS and Secure cookies when the issuer is https', async () => {
    const { page } = await loginPage(https.url, { 'x-forwarded-proto': 'https' });
    expectSecurityHeaders(page);
    expect(page.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    const start = await fetch(authUrl(https.url), {
      redirect: 'manual',
      headers: { 'x-forwarded-proto': 'https' },
    });
    const cookies = start.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie).toMatch(/; secure/i);
  });

  it('set cookies HttpOnly and SameSite=Lax', async () => {
    const start = await fetch(authUrl(gh.url), { redirect: 'manual' });
    const cookies = start.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) {
      expect(cookie).toMatch(/; httponly/i);
      expect(cookie).toMatch(/; samesite=lax/i);
    }
  });
});

describe('cross-site request forgery', () => {
  it('refuses a login form posted without, or with another page’s, CSRF token', async () => {
    const { browser, html } = await loginPage(gh.url);
    const action = new URL(formAction(html, '/login'), gh.url).href;
    const missing = await browser.post(action, { email: user.email, password: user.password } as Record<
      string,
      string
    >);
    expect(missing.status).toBe(400);
    const other = await loginPage(gh.url);
    const forged = await browser.post(action, {
      email: user.email,
      password: user.password,
      csrf: formField(other.html, 'csrf'),
    });
    expect(forged.status).toBe(403);
  });

  it('refuses a consent form without its token', async () => {
    const browser = createHttpBrowser();
    await expect(
      authorizeOverHttp(browser, { issuer: gh.url, clientId: 'app', redirectUri }, user),
    ).resolves.toBeDefined();
    const response = await browser.get(authUrl(gh.url, { scope: 'openid email', prompt: 'consent' }));
    const page = await browser.get(new URL(response.headers.get('location')!, gh.url).href);
    const html = await page.text();
    const refused = await browser.post(new URL(formAction(html, '/confirm'), gh.url).href, {
      csrf: 'not-it',
    });
    expect(refused.status).toBe(403);
  });
});

describe('PKCE and redirects', () => {
  it('requires PKCE from public clients and refuses a code without, or with the wrong, verifier', async () => {
    const noChallenge = await fetch(
      `${gh.url}/auth?${new URLSearchParams({ client_id: 'spa', response_type: 'code', scope: 'openid', redirect_uri: redirectUri })}`,
      { redirect: 'manual' },
    );
    expect(new URL(noChallenge.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');

    const flow = await authorizeOverHttp(
      createHttpBrowser(),
      { issuer: gh.url, clientId: 'app', redirectUri },
      user,
    );
    const code = flow.callback.searchParams.get('code')!;
    const token = (params: Record<string, string>) =>
      fetch(`${gh.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('app:app-secret-0123456789').toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          ...params,
        }),
      }).then(async (response) => ({
        status: response.status,
        body: (await response.json()) as { error?: string },
      }));
    // Downgrade: the code was bound to an S256 challenge; leaving out the verifier does not get around it.
    expect(await token({})).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await token({ code_verifier: 'w'.repeat(43) })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  });

  it.each([
    `${redirectUri}/`,
    'http://127.0.0.1:9/CB',
    'HTTP://127.0.0.1:9/cb/..',
    `${redirectUri}?extra=1`,
    `${redirectUri}#fragment`,
    'http://127.0.0.1:10/cb',
    'http://localhost:9/cb',
  ])('refuses the redirect URI variant %s without redirecting', async (variant) => {
    const response = await fetch(authUrl(gh.url, { redirect_uri: variant }), {
      redirect: 'manual',
      headers: { accept: 'text/html' },
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('only returns to account pages after signing in there (no open redirect)', async () => {
    for (const target of [
      'https://evil.example.com',
      '//evil.example.com',
      '/account/../evil',
      '/accountx',
    ]) {
      const browser = createHttpBrowser();
      await browser.get(`${gh.url}/account/login?return_to=${encodeURIComponent(target)}`);
      expect(browser.jar.header()).toContain('gh_account_login');
    }
    // The stored destination is only read back at the callback; check the rule itself.
    const { accountPath } = await import('../../src/routes/account/account-router.ts');
    expect(
      ['https://evil.example.com', '//evil.example.com', '/account/../evil', '/accountx'].map(accountPath),
    ).toEqual(['/account', '/account', '/account', '/account']);
    expect(accountPath('/account/mfa')).toBe('/account/mfa');
  });

  it('refuses a post-logout redirect URI the client did not register', async () => {
    const response = await fetch(
      `${gh.url}/session/end?client_id=app&post_logout_redirect_uri=${encodeURIComponent('https://evil.example.com/')}`,
      { headers: { accept: 'text/html' } },
    );
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('post_logout_redirect_uri');
  });
});

describe('limits', () => {
  it('refuses request bodies over the limit with 413', async () => {
    const response = await fetch(`${gh.url}/admin/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
      body: JSON.stringify({ email: 'a'.repeat(200_000) }),
    });
    expect([401, 413]).toContain(response.status);
    const { html, browser } = await loginPage(gh.url);
    const big = await browser.post(new URL(formAction(html, '/login'), gh.url).href, {
      csrf: formField(html, 'csrf'),
      email: 'x',
      password: 'p'.repeat(100_000),
    });
    expect(big.status).toBe(413);
  });

  it('refuses oversized headers with 431', async () => {
    const response = await fetch(`${gh.url}/healthz`, { headers: { 'x-filler': 'y'.repeat(20_000) } });
    expect(response.status).toBe(431);
  });

  it('answers 429 with Retry-After once a client secret has been guessed wrong too often from one address', async () => {
    const attempt = (secret: string) =>
      fetch(`${gh.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`app:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
    for (let i = 0; i < 3; i += 1) expect((await attempt(`wrong-${i}`)).status).toBe(401);
    const locked = await attempt('app-secret-0123456789');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await locked.json()).toMatchObject({ error: 'invalid_client' });
    const rp = await oidc.discovery(new URL(gh.url), 'spa', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    expect(rp.serverMetadata().issuer).toBe(gh.url);
  });
  describe('path spellings oidc-provider routes to a client-authenticating endpoint', () => {
    const basicPost = (path: string, clientId: string, secret: string, body: string) =>
      fetch(`${gh.url}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body,
      });
    const createClient = (id: string) =>
      gh.gatehouse.clients.create({
        id,
        secret: `${id}-secret-0123456789`,
        redirectUris: [redirectUri],
        postLogoutRedirectUris: [],
        grantTypes: ['client_credentials'],
        public: false,
        firstParty: false,
      });

    it('stops a client-secret guesser from dodging the throttle with path spellings (/TOKEN, /token/, /Token/)', async () => {
      await createClient('guessed');
      const spellings = ['/TOKEN', '/token/', '/Token/'];
      // Before the limit, each spelling reaches the token endpoint and its failure counts: three failures, one per
      // spelling, reach the limit of 3.
      for (const path of spellings) {
        expect((await basicPost(path, 'guessed', 'wrong', 'grant_type=client_credentials')).status).toBe(401);
      }
      const statuses: number[] = [];
      for (let i = 0; i < 27; i += 1) {
        const path = spellings[i % spellings.length]!;
        statuses.push(
          (await basicPost(path, 'guessed', `wrong-${i}`, 'grant_type=client_credentials')).status,
        );
      }
      expect(statuses.filter((status) => status === 401)).toHaveLength(0);
      expect(new Set(statuses)).toEqual(new Set([429]));
      const right = await basicPost(
        '/token',
        'guessed',
        'guessed-secret-0123456789',
        'grant_type=client_credentials',
      );
      expect(right.status).toBe(429);
      expect(await right.json()).toMatchObject({ error: 'invalid_client' });
    });

    it('counts failures and refuses a locked client at spellings of introspection and revocation', async () => {
      await createClient('guessed-introspector');
      const secret = 'guessed-introspector-secret-0123456789';
      for (const path of ['/TOKEN/INTROSPECTION', '/token/introspection/', '/Token/Revocation/']) {
        expect((await basicPost(path, 'guessed-introspector', 'wrong', 'token=x')).status).toBe(401);
      }
      for (const path of [
        '/token/introspection',
        '/token/revocation',
        '/Token/Introspection/',
        '/TOKEN/REVOCATION',
      ]) {
        expect((await basicPost(path, 'guessed-introspector', secret, 'token=x')).status).toBe(429);
      }
    });
  });
});
