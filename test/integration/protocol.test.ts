import * as oidc from 'openid-client';
import { authorizeOverHttp, createHttpBrowser, formAction, formField } from '../support/http-sign-in.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/** The protocol paths a real app uses, over HTTP against Gatehouse with real Postgres and Redis. */
let gh: TestGatehouse;
let rp: oidc.Configuration;
const user = { email: 'ada@example.com', password: 'correct horse battery staple' };
const redirectUri = 'http://127.0.0.1:9/cb';
const secret = 'web-app-secret-0123456789';

beforeAll(async () => {
  gh = await startTestGatehouse({ config: { refreshToken: { reuseGraceSeconds: 2 } } });
  await gh.gatehouse.accounts.create({ ...user, name: 'Ada Lovelace', emailVerified: true });
  await gh.gatehouse.clients.create({
    id: 'web-app',
    secret,
    redirectUris: [redirectUri],
    postLogoutRedirectUris: ['http://127.0.0.1:9/'],
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    scope: 'openid email profile roles offline_access',
    public: false,
    firstParty: false,
  });
  rp = await oidc.discovery(new URL(gh.url), 'web-app', undefined, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });
});

afterAll(() => gh.close());

async function signIn(scope = 'openid email profile offline_access') {
  const browser = createHttpBrowser();
  const flow = await authorizeOverHttp(
    browser,
    {
      issuer: gh.url,
      clientId: 'web-app',
      redirectUri,
      scope,
      params: scope.includes('offline_access') ? { prompt: 'consent' } : {},
    },
    user,
  );
  const tokens = await oidc.authorizationCodeGrant(rp, flow.callback, {
    pkceCodeVerifier: flow.codeVerifier,
    expectedState: flow.state,
    expectedNonce: flow.nonce,
  });
  return { browser, flow, tokens };
}

async function postToken(
  params: Record<string, string>,
  auth = `Basic ${Buffer.from(`web-app:${secret}`).toString('base64')}`,
) {
  const response = await fetch(`${gh.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
    body: new URLSearchParams(params),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('discovery and keys', () => {
  it('advertises the code flow with S256 PKCE only', async () => {
    const metadata = rp.serverMetadata();
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.introspection_endpoint).toBe(`${gh.url}/token/introspection`);
    expect(metadata.revocation_endpoint).toBe(`${gh.url}/token/revocation`);
    expect(metadata.pushed_authorization_request_endpoint).toBe(`${gh.url}/request`);
    expect(metadata.dpop_signing_alg_values_supported).toContain('ES256');
    expect(metadata.acr_values_supported).toEqual([
      'urn:gatehouse:acr:password',
      'urn:gatehouse:acr:federated',
      'urn:gatehouse:acr:email-code',
      'urn:gatehouse:acr:mfa',
    ]);
  });

  it('publishes RS256 and ES256 public keys and no private parts', async () => {
    const jwks = (await (await fetch(`${gh.url}/jwks`)).json()) as { keys: Record<string, string>[] };
    expect(jwks.keys.map((key) => key.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
  });
});

describe('signing in with a password', () => {
  it('issues an ID token for the signed-in account with the requested nonce, and userinfo agrees', async () => {
    const { tokens, flow } = await signIn('openid email profile');
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      iss: gh.url,
      aud: 'web-app',
      nonce: flow.nonce,
      email: user.email,
      name: 'Ada Lovelace',
    });
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ sub: claims.sub, email: user.email, email_verified: true });
  });

  it('shows the form again with a message and no redirect after a wrong password', async () => {
    const browser = createHttpBrowser();
    const start = await browser.get(
      `${gh.url}/auth?${new URLSearchParams({ client_id: 'web-app', redirect_uri: redirectUri, response_type: 'code', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`,
    );
    const page = await browser.get(new URL(start.headers.get('location')!, gh.url).href);
    const html = await page.text();
    const response = await browser.post(new URL(formAction(html, '/login'), gh.url).href, {
      csrf: formField(html, 'csrf'),
      email: user.email,
      password: 'wrong password entirely',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('location')).toBeNull();
    const again = await response.text();
    expect(again).toContain('Wrong email or password.');
    expect(again).toContain(`value="${user.email}"`);
  });

  it('answers an unknown email exactly like a wrong password', async () => {
    const browser = createHttpBrowser();
    const start = await browser.get(
      `${gh.url}/auth?${new URLSearchParams({ client_id: 'web-app', redirect_uri: redirectUri, response_type: 'code', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`,
    );
    const html = await (await browser.get(new URL(start.headers.get('location')!, gh.url).href)).text();
    const response = await browser.post(new URL(formAction(html, '/login'), gh.url).href, {
      csrf: formField(html, 'csrf'),
      email: 'nobody@example.com',
      password: 'whatever password',
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Wrong email or password.');
  });

  it('refuses a login form without its CSRF token', async () => {
    const browser = createHttpBrowser();
    const start = await browser.get(
      `${gh.url}/auth?${new URLSearchParams({ client_id: 'web-app', redirect_uri: redirectUri, response_type: 'code', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`,
    );
    const html = await (await browser.get(new URL(start.headers.get('location')!, gh.url).href)).text();
    const response = await browser.post(new URL(formAction(html, '/login'), gh.url).href, {
      email: user.email,
      password: user.password,
      csrf: 'forged',
    });
    expect(response.status).toBe(403);
  });

  it('ends an expired or unknown sign-in page on a page that restarts sign-in', async () => {
    const response = await fetch(`${gh.url}/interaction/no-such-interaction?client_id=web-app`, {
      headers: { accept: 'text/html' },
    });
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toContain('This sign-in page has expired');
    expect(html).toContain('href="http://127.0.0.1:9/"');
  });
});

describe('codes and refresh tokens', () => {
  it('refuses a code used twice and revokes the tokens issued from it', async () => {
    const { flow, tokens } = await signIn();
    const replay = await postToken({
      grant_type: 'authorization_code',
      code: flow.callback.searchParams.get('code')!,
      redirect_uri: redirectUri,
      code_verifier: flow.codeVerifier,
    });
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const introspection = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(introspection.active).toBe(false);
  });

  it('rotates refresh tokens: the old one is refused once the reuse grace has passed, and its reuse ends the grant', async () => {
    const { tokens } = await signIn();
    const first = tokens.refresh_token!;
    const refreshed = await oidc.refreshTokenGrant(rp, first);
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(first);
    // Lengths tell the stores apart (see bitsOfOpaqueRandomness): and introspection by either kind still works.
    expect([first.length, refreshed.refresh_token!.length, refreshed.access_token.length]).toEqual([
      43, 43, 44,
    ]);
    expect((await oidc.tokenIntrospection(rp, refreshed.refresh_token!)).active).toBe(true);
    expect((await oidc.tokenIntrospection(rp, refreshed.access_token)).active).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const reuse = await postToken({ grant_type: 'refresh_token', refresh_token: first });
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // Reuse of a rotated token is treated as theft: the whole grant goes, including the newest token.
    const newest = await postToken({ grant_type: 'refresh_token', refresh_token: refreshed.refresh_token! });
    expect(newest).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('answers a concurrent refresh within the reuse grace instead of ending the session', async () => {
    const { tokens } = await signIn();
    const [a, b] = await Promise.all([
      postToken({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
      postToken({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const next = await postToken({
      grant_type: 'refresh_token',
      refresh_token: String(b.body.refresh_token),
    });
    expect(next.status).toBe(200);
  });

  it('keeps refresh tokens working after Redis loses everything', async () => {
    const { tokens } = await signIn();
    await gh.redis!.flush();
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(refreshed.access_token).toBeDefined();
    expect(refreshed.claims()?.email).toBe(user.email);
  });
});

describe('tokens for APIs and services', () => {
  it('issues client_credentials tokens, introspects them as active, and inactive after revocation', async () => {
    const tokens = await oidc.clientCredentialsGrant(rp, {});
    const active = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(active).toMatchObject({ active: true, client_id: 'web-app', token_type: 'Bearer' });
    await oidc.tokenRevocation(rp, tokens.access_token);
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).active).toBe(false);
  });

  it('binds tokens to a DPoP key (RFC 9449) when the client proves possession', async () => {
    const DPoP = oidc.getDPoPHandle(rp, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(rp, {}, { DPoP });
    expect(tokens.token_type).toBe('dpop');
    const introspection = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(introspection).toMatchObject({
      active: true,
      token_type: 'DPoP',
      cnf: { jkt: expect.any(String) },
    });
  });

  it('introspects a user access token as active until revoked', async () => {
    const { tokens } = await signIn('openid email');
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toMatchObject({
      active: true,
      sub: tokens.claims()!.sub,
    });
    await oidc.tokenRevocation(rp, tokens.access_token);
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).active).toBe(false);
  });
});

describe('bad input at the token endpoint', () => {
  it.each([
    [{}, 400, 'invalid_request'],
    [{ grant_type: 'password', username: 'a', password: 'b' }, 400, 'unsupported_grant_type'],
    [
      {
        grant_type: 'authorization_code',
        code: 'garbage',
        redirect_uri: redirectUri,
        code_verifier: 'v'.repeat(43),
      },
      400,
      'invalid_grant',
    ],
    [{ grant_type: 'refresh_token', refresh_token: 'garbage' }, 400, 'invalid_grant'],
  ])('answers %j with %i %s', async (params, status, error) => {
    const response = await postToken(params as Record<string, string>);
    expect(response).toMatchObject({ status, body: { error } });
  });

  it('answers a wrong client secret with 401 invalid_client', async () => {
    const response = await postToken(
      { grant_type: 'client_credentials' },
      `Basic ${Buffer.from('web-app:wrong').toString('base64')}`,
    );
    expect(response).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses duplicated parameters', async () => {
    const response = await fetch(`${gh.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`web-app:${secret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials&grant_type=client_credentials',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('bad input at the authorization endpoint', () => {
  it('shows an error page, not a redirect, for an unknown client', async () => {
    const response = await fetch(
      `${gh.url}/auth?client_id=nope&response_type=code&redirect_uri=${encodeURIComponent(redirectUri)}`,
      {
        redirect: 'manual',
        headers: { accept: 'text/html' },
      },
    );
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toContain('invalid_client');
    expect(html).not.toMatch(/at .*\.js:\d+/);
  });

  it('shows an error page for a redirect URI that is not registered exactly', async () => {
    for (const variant of [
      `${redirectUri}/`,
      'http://127.0.0.1:9/CB',
      `${redirectUri}?x=1`,
      'http://127.0.0.1:10/cb',
    ]) {
      const response = await fetch(
        `${gh.url}/auth?client_id=web-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(variant)}`,
        {
          redirect: 'manual',
        },
      );
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
    }
  });

  it('sends the plain PKCE method back to the client as invalid_request', async () => {
    const response = await fetch(
      `${gh.url}/auth?${new URLSearchParams({ client_id: 'web-app', response_type: 'code', scope: 'openid', redirect_uri: redirectUri, code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' })}`,
      { redirect: 'manual' },
    );
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });
});

describe('sessions', () => {
  it('gives a new session id at sign-in, whatever session cookie the browser brought (no fixation)', async () => {
    const browser = createHttpBrowser();
    const planted = 'attacker-chosen-session-id';
    const start = await fetch(
      `${gh.url}/auth?${new URLSearchParams({ client_id: 'web-app', response_type: 'code', scope: 'openid', redirect_uri: redirectUri, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`,
      {
        redirect: 'manual',
        headers: { cookie: `gh_session=${planted}` },
      },
    );
    browser.jar.store(start);
    await authorizeOverHttp(browser, { issuer: gh.url, clientId: 'web-app', redirectUri }, user);
    const session = /gh_session=([^;]+)/.exec(browser.jar.header())?.[1];
    expect(session).toBeDefined();
    expect(session).not.toBe(planted);
  });
});

describe('health', () => {
  it('is live and ready while Postgres and Redis answer', async () => {
    expect((await fetch(`${gh.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gh.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });
});
