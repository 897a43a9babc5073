import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { acrValues } from '../../src/oidc/acr.ts';
import { totpCodeAt } from '../../src/libraries/totp.ts';
import {
  authorizeOverHttp,
  createHttpBrowser,
  formAction,
  formField,
  type HttpBrowser,
} from '../support/http-sign-in.ts';
import { discoverAsClient } from '../support/relying-party.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * Step-up to a second factor on an existing session: only for an account that has one (never an enrollment without
 * the password), and with an `amr` and `auth_time` that tell what happened.
 */
let gh: TestGatehouse;
const redirectUri = 'http://127.0.0.1:9/cb';
const secret = 'step-up-app-secret-0123456789';

beforeAll(async () => {
  gh = await startTestGatehouse();
  for (const id of ['app', 'strict']) {
    await gh.gatehouse.clients.create({
      id,
      secret,
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [],
      grantTypes: ['authorization_code'],
      public: false,
      firstParty: true,
    });
  }
  await gh.gatehouse.mfa.setClientRequired('strict', true);
}, 60_000);

afterAll(async () => {
  await gh?.close();
});

async function signIn(
  browser: HttpBrowser,
  clientId: string,
  credentials?: { email: string; password: string },
  params: Record<string, string> = {},
  secondFactor?: Parameters<typeof authorizeOverHttp>[3],
) {
  const authorization = await authorizeOverHttp(
    browser,
    { issuer: gh.url, clientId, redirectUri, params },
    credentials,
    secondFactor,
  );
  const config = await discoverAsClient(gh.url, clientId, secret);
  const tokens = await oidc.authorizationCodeGrant(config, authorization.callback, {
    pkceCodeVerifier: authorization.codeVerifier,
    expectedState: authorization.state,
    expectedNonce: authorization.nonce,
  });
  return tokens.claims()!;
}

/** Follows an authorization request until a page: the HTML the browser is shown. */
async function pageFor(
  browser: HttpBrowser,
  clientId: string,
  extra: Record<string, string> = {},
): Promise<string> {
  const params = new URLSearchParams({
    ...extra,
    client_id: clientId,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: redirectUri,
    code_challenge: 'x'.repeat(43),
    code_challenge_method: 'S256',
  });
  let response = await browser.get(`${gh.url}/auth?${params}`);
  for (let hops = 0; hops < 5 && response.headers.get('location'); hops += 1)
    response = await browser.get(new URL(response.headers.get('location')!, gh.url).href);
  return response.text();
}

it('stops someone at an unattended signed-in browser from enrolling their own authenticator through an app that requires a second factor', async () => {
  const user = { email: 'unattended@example.com', password: 'left the desk for coffee' };
  const account = await gh.gatehouse.accounts.create(user);
  const browser = createHttpBrowser();
  await signIn(browser, 'app', user);

  // The stranger at the browser opens an app whose policy requires a second factor the account does not have.
  const html = await pageFor(browser, 'strict');
  expect(html).toContain('name="password"');
  expect(html).not.toContain('mfa/enroll');
  // Posting to the enrollment step directly gets nowhere either.
  const uid = /\/interaction\/([^/"]+)\//.exec(formAction(html, '/login'))![1]!;
  const enroll = await browser.post(`${gh.url}/interaction/${uid}/mfa/enroll`, {
    csrf: formField(html, 'csrf'),
    code: '000000',
  });
  expect([302, 303]).toContain(enroll.status);
  expect(enroll.headers.get('location')).toMatch(new RegExp(`/interaction/${uid}(\\?|$)`));
  expect(await gh.gatehouse.mfa.isEnrolled(account.id)).toBe(false);
});

it('keeps auth_time and the first factor in amr when a password session steps up with a code', async () => {
  const user = { email: 'stepper@example.com', password: 'climbing up the stairs now' };
  const account = await gh.gatehouse.accounts.create(user);
  const browser = createHttpBrowser();
  const first = await signIn(browser, 'app', user);
  expect(first.amr).toEqual(['pwd']);

  // The factor arrives afterwards (provisioned by an operator), and an app asks for it.
  const { secret: seed } = await gh.gatehouse.mfa.provision(account);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const stepped = await signIn(browser, 'app', undefined, { acr_values: acrValues.mfa }, async (b, html) =>
    b.post(new URL(formAction(html, '/mfa'), gh.url).href, {
      csrf: formField(html, 'csrf'),
      code: await totpCodeAt(seed, Math.floor(Date.now() / 1000)),
    }),
  );
  expect(stepped.acr).toBe(acrValues.mfa);
  expect(stepped.amr).toEqual(['pwd', 'otp', 'mfa']);
  // No password was asked: the sign-in is as old as it was.
  expect(stepped.auth_time).toBe(first.auth_time);
});

it('stops a session at the upstream from standing in for the fresh sign-in an app asked for (prompt=login is passed on)', async () => {
  const upstream: Server = createServer((req, res) => {
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    if (req.url !== '/.well-known/openid-configuration') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        issuer: origin,
        authorization_endpoint: `${origin}/authorize`,
        token_endpoint: `${origin}/token`,
        jwks_uri: `${origin}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      }),
    );
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  try {
    await gh.gatehouse.identityProviders.create({
      id: 'corp',
      type: 'oidc',
      issuer: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      clientId: 'gatehouse',
      clientSecret: 'upstream-secret',
      name: 'Corp',
    });
    const startAt = async (params: Record<string, string>) => {
      const browser = createHttpBrowser();
      const html = await pageFor(browser, 'app', params);
      const started = await browser.post(new URL(formAction(html, '/federation/corp'), gh.url).href, {
        csrf: formField(html, 'csrf'),
      });
      return new URL(started.headers.get('location')!);
    };
    expect((await startAt({ prompt: 'login' })).searchParams.get('prompt')).toBe('login');
    expect((await startAt({ max_age: '0' })).searchParams.get('prompt')).toBe('login');
    expect((await startAt({})).searchParams.has('prompt')).toBe(false);
  } finally {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
