import * as oidc from 'openid-client';
import { authorizeOverHttp, createHttpBrowser } from '../support/http-sign-in.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * Refresh token rotation with a reuse grace (RFC 9700 section 4.14.2), over HTTP: a rotated token answered again
 * within the grace must not start a second chain that lives on its own.
 */
let gh: TestGatehouse;
let rp: oidc.Configuration;
const user = { email: 'grace@example.com', password: 'correct horse battery staple' };
const redirectUri = 'http://127.0.0.1:9/cb';
const secret = 'reuse-app-secret-0123456789';

beforeAll(async () => {
  gh = await startTestGatehouse({ config: { refreshToken: { reuseGraceSeconds: 5 } } });
  await gh.gatehouse.accounts.create({ ...user, name: 'Grace Hopper', emailVerified: true });
  await gh.gatehouse.clients.create({
    id: 'reuse-app',
    secret,
    redirectUris: [redirectUri],
    postLogoutRedirectUris: ['http://127.0.0.1:9/'],
    grantTypes: ['authorization_code', 'refresh_token'],
    scope: 'openid email offline_access',
    public: false,
    firstParty: false,
  });
  rp = await oidc.discovery(new URL(gh.url), 'reuse-app', undefined, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });
});

afterAll(() => gh.close());

async function firstRefreshToken(): Promise<string> {
  const flow = await authorizeOverHttp(
    createHttpBrowser(),
    {
      issuer: gh.url,
      clientId: 'reuse-app',
      redirectUri,
      scope: 'openid email offline_access',
      params: { prompt: 'consent' },
    },
    user,
  );
  const tokens = await oidc.authorizationCodeGrant(rp, flow.callback, {
    pkceCodeVerifier: flow.codeVerifier,
    expectedState: flow.state,
    expectedNonce: flow.nonce,
  });
  return tokens.refresh_token!;
}

async function refresh(refreshToken: string) {
  const response = await fetch(`${gh.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`reuse-app:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  const body = (await response.json()) as { refresh_token?: string; error?: string };
  return { status: response.status, error: body.error, refreshToken: body.refresh_token };
}

async function rotate(refreshToken: string): Promise<string> {
  const answer = await refresh(refreshToken);
  expect(answer).toMatchObject({ status: 200, refreshToken: expect.any(String) });
  return answer.refreshToken!;
}

const refused = { status: 400, error: 'invalid_grant' };

describe('refresh token reuse within the grace window', () => {
  it('stops a stolen refresh token raced within the grace window from keeping a chain of its own', async () => {
    const stolen = await firstRefreshToken();
    const legitimate = await rotate(stolen); // the client rotates R0 -> R1
    const attackers = await rotate(stolen); // the attacker replays R0 within the grace -> R1'
    expect(attackers).not.toBe(legitimate);

    // The client goes on (R1 -> R2): the attacker's successor is now reuse, and its use ends the grant for both.
    const next = await rotate(legitimate);
    expect(await refresh(attackers)).toMatchObject(refused);
    expect(await refresh(next)).toMatchObject(refused);
  });

  it('ends the client chain too when the attacker uses the raced successor first', async () => {
    const stolen = await firstRefreshToken();
    const legitimate = await rotate(stolen);
    const attackers = await rotate(stolen);

    const attackersNext = await rotate(attackers); // the attacker wins the family...
    expect(await refresh(legitimate)).toMatchObject(refused); // ...until the client shows up
    expect(await refresh(attackersNext)).toMatchObject(refused);
  });

  it('lets at most one of two successors raced at once keep refreshing', async () => {
    const stolen = await firstRefreshToken();
    const [one, other] = [await rotate(stolen), await rotate(stolen)];
    const raced = await Promise.all([refresh(one), refresh(other)]);
    const minted = raced.flatMap((answer) => (answer.status === 200 ? [answer.refreshToken!] : []));
    expect(minted.length).toBeGreaterThan(0);
    const stillRefreshing = [];
    for (const token of minted) if ((await refresh(token)).status === 200) stillRefreshing.push(token);
    expect(stillRefreshing.length).toBeLessThanOrEqual(1);
  });

  it('refuses a replay within the grace once a successor has been used, and ends the grant', async () => {
    const stolen = await firstRefreshToken();
    const legitimate = await rotate(stolen);
    const next = await rotate(legitimate);
    expect(await refresh(stolen)).toMatchObject(refused);
    expect(await refresh(next)).toMatchObject(refused);
  });

  it('still answers a client that retries after a lost response, and its retry chain keeps working', async () => {
    const first = await firstRefreshToken();
    await rotate(first); // the answer is lost on the way
    const retried = await rotate(first);
    const next = await rotate(retried);
    expect(await rotate(next)).toEqual(expect.any(String));
  });
});
