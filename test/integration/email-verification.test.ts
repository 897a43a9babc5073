import * as oidc from 'openid-client';
import { adminApiToken } from '../support/admin-access.ts';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { authorizeOverHttp, createHttpBrowser, formField } from '../support/http-sign-in.ts';
import { linkIn, startSmtpPeer, type SmtpPeer } from '../support/smtp-peer.ts';
import {
  registerFirstPartyWebApp,
  startTestGatehouse,
  type TestGatehouse,
} from '../support/test-gatehouse.ts';

/**
 * Address verification: a link mailed by `gatehouse user send-verification` or after an administrator creates an
 * account, opened and confirmed in a browser, sets `email_verified`, which ID tokens then release. A real SMTP peer
 * (smtp-server) receives the mail.
 */
const subject = /Confirm your email address/;
const redirectUri = 'http://127.0.0.1:9/cb';
const clientSecret = 'verify-app-secret-0123456789';

let gh: TestGatehouse;
let smtp: SmtpPeer;
let env: NodeJS.ProcessEnv;
const gatehouse = (...args: string[]) => runCli(args, env);

beforeAll(async () => {
  smtp = await startSmtpPeer();
  gh = await startTestGatehouse({ config: { smtp: { url: smtp.url, from: 'no-reply@example.com' } } });
  env = { ...cliEnvironment(gh.database.url, { smtp: { url: smtp.url } }), ISSUER: gh.url };
  await registerFirstPartyWebApp(gh, { id: 'verify-app', secret: clientSecret, redirectUri });
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await smtp?.close();
});

/** Opens the link as a browser would: the confirmation page, then its button. Returns the final response. */
async function openAndConfirm(link: string): Promise<Response> {
  const browser = createHttpBrowser();
  const page = await browser.get(link);
  if (page.status !== 200) return page;
  const html = await page.text();
  return browser.post(`${gh.url}/email-verification`, {
    csrf: formField(html, 'csrf'),
    token: formField(html, 'token'),
  });
}

async function emailVerifiedClaim(email: string, password: string): Promise<unknown> {
  const rp = await oidc.discovery(
    new URL(gh.url),
    'verify-app',
    undefined,
    oidc.ClientSecretBasic(clientSecret),
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
  const { callback, codeVerifier, state, nonce } = await authorizeOverHttp(
    createHttpBrowser(),
    { issuer: gh.url, clientId: 'verify-app', redirectUri },
    { email, password },
  );
  const tokens = await oidc.authorizationCodeGrant(rp, callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  return tokens.claims()?.email_verified;
}

describe('verifying an address', () => {
  it('verifies an address with the link `gatehouse user send-verification` mails, and ID tokens say so', async () => {
    const email = 'vera@example.com';
    const password = 'a phrase that nobody guesses';
    // Created without mail (no smtp.url for this command): nothing is sent.
    const created = await runCli(['user', 'create', '--email', email, '--password', password, '--json'], {
      ...cliEnvironment(gh.database.url),
      ISSUER: gh.url,
    });
    expect(created.code).toBe(0);
    expect(smtp.countFor(email)).toBe(0);
    expect(await emailVerifiedClaim(email, password)).toBe(false);

    const sent = await gatehouse('user', 'send-verification', '--email', email, '--json');
    expect(sent.code).toBe(0);
    expect(sent.json()).toEqual({ email, outcome: 'sent' });
    const mail = await smtp.next(email, { subject });
    const link = linkIn(mail, `${gh.url}/email-verification?token=`);
    expect(mail.html).toContain('email-verification?token=');

    const confirmed = await openAndConfirm(link);
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('is confirmed as your address');
    expect(await emailVerifiedClaim(email, password)).toBe(true);

    const again = await gatehouse('user', 'send-verification', '--email', email, '--json');
    expect(again.json()).toEqual({ email, outcome: 'already_verified' });
    const audit = (await gatehouse('audit', '--since', '10m', '--email', email, '--json')).json<
      { type: string }[]
    >();
    expect(audit.map((event) => event.type)).toEqual(
      expect.arrayContaining(['email.verification_sent', 'email.verified']),
    );
  });

  it('mails a verification link when an administrator creates an account through the admin API', async () => {
    const token = await adminApiToken(gh);
    const response = await fetch(`${gh.url}/admin/api/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'new.hire@example.com', password: 'the passphrase of a new hire' }),
    });
    expect(response.status).toBe(201);
    const link = linkIn(await smtp.next('new.hire@example.com', { subject }), `${gh.url}/email-verification`);
    expect((await openAndConfirm(link)).status).toBe(200);
    const account = await gh.gatehouse.accounts.getByEmail('new.hire@example.com');
    expect(account.emailVerified).toBe(true);
  });

  it('stops a verification link from being used twice', async () => {
    const email = 'twice.verified@example.com';
    expect(
      (await gatehouse('user', 'create', '--email', email, '--password', 'a passphrase for twice')).code,
    ).toBe(0);
    const link = linkIn(await smtp.next(email, { subject }), `${gh.url}/email-verification`);
    expect((await openAndConfirm(link)).status).toBe(200);
    const second = await openAndConfirm(link);
    expect(second.status).toBe(400);
    expect(await second.text()).toContain('This link no longer works');
  });

  it('stops a forged or altered verification link from verifying anything', async () => {
    const email = 'forged@example.com';
    expect(
      (await gatehouse('user', 'create', '--email', email, '--password', 'a phrase for a forgery test')).code,
    ).toBe(0);
    const link = linkIn(await smtp.next(email, { subject }), `${gh.url}/email-verification`);
    const token = new URL(link).searchParams.get('token')!;
    const altered = `${gh.url}/email-verification?token=${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect((await openAndConfirm(altered)).status).toBe(400);
    expect((await openAndConfirm(`${gh.url}/email-verification?token=nonsense`)).status).toBe(400);
    expect((await gh.gatehouse.accounts.getByEmail(email)).emailVerified).toBe(false);
    // A confirmation posted without the page's CSRF token is refused too.
    const posted = await fetch(`${gh.url}/email-verification`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, csrf: 'forged' }),
    });
    expect(posted.status).toBe(403);
    expect((await gh.gatehouse.accounts.getByEmail(email)).emailVerified).toBe(false);
  });

  it('says so, and exits 1, when mail is off', async () => {
    const offEnv = { ...cliEnvironment(gh.database.url), ISSUER: gh.url };
    const result = await runCli(
      ['user', 'send-verification', '--email', 'vera@example.com', '--json'],
      offEnv,
    );
    expect(result.code).toBe(1);
    expect(result.json()).toEqual({ email: 'vera@example.com', outcome: 'mail_off' });
  });

  it('keeps answering when the SMTP server refuses mail: the account is created, the send is logged as failed', async () => {
    smtp.refuse(true);
    try {
      const created = await gatehouse(
        'user',
        'create',
        '--email',
        'outage@example.com',
        '--password',
        'a phrase while mail is down',
        '--json',
      );
      expect(created.code).toBe(0);
      const sent = await gatehouse('user', 'send-verification', '--email', 'outage@example.com', '--json');
      expect(sent.json()).toEqual({ email: 'outage@example.com', outcome: 'send_failed' });
      expect(sent.code).toBe(1);
    } finally {
      smtp.refuse(false);
    }
  });
});
