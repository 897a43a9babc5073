import * as oidc from 'openid-client';
import { unlockAccount } from '../../src/libraries/operator-requests.ts';
import { totpCodeAt } from '../../src/libraries/totp.ts';
import { authorizeOverHttp, createHttpBrowser, formAction, formField } from '../support/http-sign-in.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/** Each kind of security event lands in the audit log with who, when and from where, and no secret ever does. */
let gh: TestGatehouse;
let rp: oidc.Configuration;
const redirectUri = 'http://127.0.0.1:9/cb';
const user = { email: 'audited@example.com', password: 'recorded passphrase one' };
const secrets: string[] = [user.password];

beforeAll(async () => {
  gh = await startTestGatehouse({
    config: {
      throttle: {
        password: {
          perAccount: {
            maxFailures: 2,
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
  await gh.gatehouse.accounts.create(user);
  await gh.gatehouse.clients.create({
    id: 'app',
    secret: 'app-secret-0123456789',
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    public: false,
    firstParty: false,
  });
  await gh.gatehouse.clients.create({
    id: 'ops',
    secret: 'ops-secret-0123456789',
    redirectUris: [],
    postLogoutRedirectUris: [],
    grantTypes: ['client_credentials'],
    public: false,
    firstParty: false,
  });
  await gh.gatehouse.rbac.assignToClient('ops', 'admin');
  secrets.push('app-secret-0123456789', 'ops-secret-0123456789');
  rp = await oidc.discovery(
    new URL(gh.url),
    'app',
    undefined,
    oidc.ClientSecretBasic('app-secret-0123456789'),
    { execute: [oidc.allowInsecureRequests] },
  );
}, 60_000);

afterAll(() => gh?.close());

async function wrongPassword() {
  const browser = createHttpBrowser();
  const start = await browser.get(
    `${gh.url}/auth?${new URLSearchParams({ client_id: 'app', response_type: 'code', scope: 'openid', redirect_uri: redirectUri, code_challenge: 'c'.repeat(43), code_challenge_method: 'S256' })}`,
  );
  const html = await (await browser.get(new URL(start.headers.get('location')!, gh.url).href)).text();
  await browser.post(new URL(formAction(html, '/login'), gh.url).href, {
    csrf: formField(html, 'csrf'),
    email: user.email,
    password: 'not the password at all',
  });
}

it('records sign-ins, lockouts, consent, MFA, revocations, sessions, unlocks and admin changes', async () => {
  const account = (await gh.gatehouse.accounts.findByEmail(user.email))!;
  const flow = await authorizeOverHttp(
    createHttpBrowser(),
    {
      issuer: gh.url,
      clientId: 'app',
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
  secrets.push(
    tokens.access_token,
    tokens.refresh_token!,
    tokens.id_token!,
    flow.callback.searchParams.get('code')!,
  );
  await oidc.tokenRevocation(rp, tokens.access_token);

  await wrongPassword();
  await wrongPassword();
  await unlockAccount({ throttles: gh.gatehouse.throttles, audit: gh.gatehouse.audit }, account, 'test');

  const { secret, recoveryCodes } = await gh.gatehouse.mfa.provision(account);
  secrets.push(secret, ...recoveryCodes);
  const mfaFlow = await authorizeOverHttp(
    createHttpBrowser(),
    { issuer: gh.url, clientId: 'app', redirectUri },
    user,
    async (browser, html) => {
      const action = new URL(formAction(html, '/mfa'), gh.url).href;
      await browser.post(action, { csrf: formField(html, 'csrf'), code: '000000' });
      const code = await totpCodeAt(secret, Math.floor(Date.now() / 1000));
      secrets.push(code);
      return browser.post(action, { csrf: formField(html, 'csrf'), code });
    },
  );
  expect(mfaFlow.callback.searchParams.get('code')).toBeTruthy();

  await gh.gatehouse.sessions.signOutEverywhere(account.id, 'test');

  const adminToken = (
    await oidc.clientCredentialsGrant(
      await oidc.discovery(
        new URL(gh.url),
        'ops',
        undefined,
        oidc.ClientSecretBasic('ops-secret-0123456789'),
        { execute: [oidc.allowInsecureRequests] },
      ),
      { resource: `${gh.url}/admin` },
    )
  ).access_token;
  secrets.push(adminToken);
  const created = await fetch(`${gh.url}/admin/api/roles`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'auditor', permissions: ['audit:read'] }),
  });
  expect(created.status).toBe(201);

  const events = (await (
    await fetch(
      `${gh.url}/admin/api/audit?since=${encodeURIComponent(new Date(Date.now() - 600_000).toISOString())}`,
      { headers: { authorization: `Bearer ${adminToken}` } },
    )
  ).json()) as {
    events: { type: string; ip: string | null; actor: string | null; details: Record<string, unknown> }[];
  };
  const types = new Set(events.events.map((event) => event.type));
  for (const type of [
    'signin.succeeded',
    'signin.failed',
    'signin.locked',
    'consent.granted',
    'token.revoked',
    'account.unlocked',
    'mfa.failed',
    'mfa.verified',
    'session.revoked',
    'admin.change',
  ]) {
    expect(types).toContain(type);
  }
  const adminChange = events.events.find((event) => event.type === 'admin.change')!;
  expect(adminChange).toMatchObject({
    actor: 'admin:ops',
    details: {
      action: 'role.create',
      target: 'role:auditor',
      after: { name: 'auditor', permissions: ['audit:read'] },
    },
  });
  expect(events.events.find((event) => event.type === 'signin.failed')!.ip).toMatch(/127\.0\.0\.1/);

  const everything = JSON.stringify(events);
  for (const secretValue of secrets) expect(everything).not.toContain(secretValue);
});

it('filters events by actor, exactly or by kind (an actor ending in ":")', async () => {
  const since = new Date(Date.now() - 600_000);
  await gh.gatehouse.audit.record('admin.change', { actor: 'console:abc', details: { action: 'probe.one' } });
  await gh.gatehouse.audit.record('admin.change', { actor: 'console:abd', details: { action: 'probe.two' } });
  await gh.gatehouse.audit.record('admin.change', { actor: 'cli', details: { action: 'probe.three' } });
  const actions = async (actor: string) =>
    (await gh.gatehouse.audit.list({ since, actor })).map((event) => event.details.action);
  expect(await actions('console:abc')).toEqual(['probe.one']);
  expect(await actions('console:')).toEqual(['probe.one', 'probe.two']);
  expect(await actions('cli')).toEqual(['probe.three']);
  // A kind is only a kind with its colon: "console" names no actor.
  expect(await actions('console')).toEqual([]);
});
