import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { adminApiToken } from '../support/admin-access.ts';
import { authorizeOverHttp, createHttpBrowser, formField } from '../support/http-sign-in.ts';
import { linkIn, startSmtpPeer, type SmtpPeer } from '../support/smtp-peer.ts';
import {
  registerFirstPartyWebApp,
  startTestGatehouse,
  type TestGatehouse,
} from '../support/test-gatehouse.ts';

/**
 * Mail an operator sends from the command line: `gatehouse user send-reset` (the link "Forgot password?" sends)
 * and `gatehouse user invite` (an account without a password, and a single-use link with which the invitee
 * chooses one). A real SMTP peer (smtp-server) receives the mail; the links are opened over HTTP.
 */
const inviteSubject = /You are invited/;
const resetSubject = /Reset your password/;
const redirectUri = 'http://127.0.0.1:9/cb';
const clientSecret = 'invite-app-secret-0123456789';

let gh: TestGatehouse;
let smtp: SmtpPeer;
let env: NodeJS.ProcessEnv;
const gatehouse = (...args: string[]) => runCli(args, env);
/** The same commands without smtp.url. */
const withoutMail = (...args: string[]) =>
  runCli(args, { ...cliEnvironment(gh.database.url), ISSUER: gh.url });

beforeAll(async () => {
  smtp = await startSmtpPeer();
  gh = await startTestGatehouse({
    config: { smtp: { url: smtp.url, from: 'no-reply@example.com' }, invitations: { tokenSeconds: 3600 } },
  });
  env = {
    ...cliEnvironment(gh.database.url, { smtp: { url: smtp.url }, invitations: { tokenSeconds: 3600 } }),
    ISSUER: gh.url,
  };
  await registerFirstPartyWebApp(gh, { id: 'invite-app', secret: clientSecret, redirectUri });
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await smtp?.close();
});

/** Opens an invitation link as a browser would and submits its form with `password`. Returns the final response. */
async function accept(link: string, password: string): Promise<Response> {
  const browser = createHttpBrowser();
  const page = await browser.get(link);
  if (page.status !== 200) return page;
  const html = await page.text();
  return browser.post(`${gh.url}/invitation`, {
    csrf: formField(html, 'csrf'),
    token: formField(html, 'token'),
    new_password: password,
  });
}

/** Signs in to `invite-app` over HTTP; the callback URL, or undefined when the login page refused. */
async function signIn(email: string, password: string): Promise<URL | undefined> {
  try {
    const { callback } = await authorizeOverHttp(
      createHttpBrowser(),
      { issuer: gh.url, clientId: 'invite-app', redirectUri },
      { email, password },
    );
    return callback;
  } catch {
    return undefined;
  }
}

async function auditTypes(email: string) {
  return (await gatehouse('audit', '--since', '10m', '--email', email, '--json')).json<
    { type: string; actor: string | null }[]
  >();
}

describe('gatehouse user send-reset', () => {
  it('mails the link "Forgot password?" sends, opening the same page, audited with actor cli', async () => {
    const email = 'forgetful@example.com';
    expect(
      (await withoutMail('user', 'create', '--email', email, '--password', 'a phrase to forget')).code,
    ).toBe(0);

    const sent = await gatehouse('user', 'send-reset', '--email', email, '--json');
    expect(sent.code).toBe(0);
    expect(sent.json()).toEqual({ email, outcome: 'sent' });
    const link = linkIn(await smtp.next(email, { subject: resetSubject }), `${gh.url}/password-reset?token=`);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="new_password"');

    const events = await auditTypes(email);
    expect(events).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'password.reset_requested', actor: 'cli' })]),
    );
    // The command's output never holds the link.
    expect(sent.stdout + sent.stderr).not.toContain(new URL(link).searchParams.get('token')!);
  });

  it('refuses, exit 2, an address without an active account with a password, and sends nothing', async () => {
    const unknown = await gatehouse('user', 'send-reset', '--email', 'nobody@example.com');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no active account with a password has email nobody@example.com');

    const invited = 'not.yet@example.com';
    expect((await gatehouse('user', 'invite', '--email', invited)).code).toBe(0);
    await smtp.next(invited, { subject: inviteSubject });
    const noPassword = await gatehouse('user', 'send-reset', '--email', invited);
    expect(noPassword.code).toBe(2);
    expect(smtp.countFor(invited, resetSubject)).toBe(0);
  });

  it('refuses, exit 2 naming smtp.url, when mail is off', async () => {
    const result = await withoutMail('user', 'send-reset', '--email', 'forgetful@example.com');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('smtp.url');
  });
});

describe('gatehouse user invite', () => {
  it('creates an account without a password whose link sets one, verifies the address and lets it sign in', async () => {
    const email = 'invitee@example.com';
    const password = 'a phrase Ivy chose herself';
    expect((await gatehouse('role', 'create', 'staff', '--permission', 'docs:read')).code).toBe(0);
    const invited = await gatehouse(
      'user',
      'invite',
      '--email',
      email,
      '--name',
      'Ivy Invitee',
      '--role',
      'staff',
      '--json',
    );
    expect(invited.code).toBe(0);
    expect(invited.json()).toMatchObject({ email, name: 'Ivy Invitee', roles: ['staff'], invited: true });
    const before = await gh.gatehouse.accounts.getByEmail(email);
    expect(before).toMatchObject({ status: 'active', emailVerified: false, hasPassword: false });

    const mail = await smtp.next(email, { subject: inviteSubject });
    expect(mail.text).toContain('Ivy Invitee');
    expect(mail.text).toContain('within 1 hour');
    expect(mail.html).toContain('invitation?token=');
    const link = linkIn(mail, `${gh.url}/invitation?token=`);
    // Before it is accepted, nobody signs in to the account.
    expect(await signIn(email, password)).toBeUndefined();

    const done = await accept(link, password);
    expect(done.status).toBe(200);
    const html = await done.text();
    expect(html).toContain('id="invitation-accepted"');
    expect(html).toContain(`href="${gh.url}/account"`);

    const after = await gh.gatehouse.accounts.getByEmail(email);
    expect(after).toMatchObject({ emailVerified: true, hasPassword: true });
    expect(await signIn(email, password)).toBeInstanceOf(URL);
    const events = await auditTypes(email);
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'account.invited', actor: 'cli' }),
        expect.objectContaining({ type: 'account.invitation_accepted' }),
      ]),
    );
  });

  it('asks again for a password the rules refuse, and the link keeps working', async () => {
    const email = 'short.password@example.com';
    expect((await gatehouse('user', 'invite', '--email', email)).code).toBe(0);
    const link = linkIn(await smtp.next(email, { subject: inviteSubject }), `${gh.url}/invitation`);
    const refused = await accept(link, 'short');
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('at least 15 characters');
    expect((await gh.gatehouse.accounts.getByEmail(email)).hasPassword).toBe(false);
    expect((await accept(link, 'a long enough phrase at last')).status).toBe(200);
  });

  it('stops an invitation link from being used twice', async () => {
    const email = 'twice.invited@example.com';
    expect((await gatehouse('user', 'invite', '--email', email)).code).toBe(0);
    const link = linkIn(await smtp.next(email, { subject: inviteSubject }), `${gh.url}/invitation`);
    expect((await accept(link, 'the first and only password')).status).toBe(200);

    const again = await accept(link, 'a second password attempt');
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('This link no longer works');
    expect(await signIn(email, 'a second password attempt')).toBeUndefined();
    expect(await signIn(email, 'the first and only password')).toBeInstanceOf(URL);
  });

  it('stops a forged or altered invitation link from setting a password', async () => {
    const email = 'forged.invite@example.com';
    expect((await gatehouse('user', 'invite', '--email', email)).code).toBe(0);
    const link = linkIn(await smtp.next(email, { subject: inviteSubject }), `${gh.url}/invitation`);
    const token = new URL(link).searchParams.get('token')!;
    const altered = `${gh.url}/invitation?token=${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect((await accept(altered, 'a password for a forgery')).status).toBe(400);
    expect((await accept(`${gh.url}/invitation?token=nonsense`, 'a password for a forgery')).status).toBe(
      400,
    );
    // Posted straight at the form: without the page's CSRF token, or with a token that is no invitation's.
    const withoutCsrf = await fetch(`${gh.url}/invitation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, csrf: 'forged', new_password: 'a password for a forgery' }),
    });
    expect(withoutCsrf.status).toBe(403);
    const account = await gh.gatehouse.accounts.getByEmail(email);
    expect(account).toMatchObject({ hasPassword: false, emailVerified: false });
    // A reset or verification link is no invitation: the invitation page refuses it.
    expect(
      (
        await gatehouse(
          'user',
          'create',
          '--email',
          'other@example.com',
          '--password',
          'a phrase for someone else',
        )
      ).code,
    ).toBe(0);
    const verification = linkIn(
      await smtp.next('other@example.com', { subject: /Confirm your email address/ }),
      `${gh.url}/email-verification`,
    );
    const crossed = `${gh.url}/invitation?token=${new URL(verification).searchParams.get('token')!}`;
    expect((await accept(crossed, 'a password for a crossed link')).status).toBe(400);
    // The genuine link still works.
    expect((await accept(link, 'the genuine password here')).status).toBe(200);
  });

  it('refuses, exit 2, an address that already has an account, and roles that do not exist', async () => {
    expect(
      (
        await gatehouse(
          'user',
          'create',
          '--email',
          'taken@example.com',
          '--password',
          'a phrase already in use',
        )
      ).code,
    ).toBe(0);
    const taken = await gatehouse('user', 'invite', '--email', 'TAKEN@example.com');
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain('already exists');
    expect(smtp.countFor('taken@example.com', inviteSubject)).toBe(0);

    const noRole = await gatehouse(
      'user',
      'invite',
      '--email',
      'roleless@example.com',
      '--role',
      'no-such-role',
    );
    expect(noRole.code).toBe(2);
    expect(noRole.stderr).toContain('no role named no-such-role');
    expect(await gh.gatehouse.accounts.findByEmail('roleless@example.com')).toBeUndefined();
  });

  it('refuses, exit 2 naming smtp.url, when mail is off, and creates nothing', async () => {
    const result = await withoutMail('user', 'invite', '--email', 'no.mail@example.com');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('smtp.url');
    expect(await gh.gatehouse.accounts.findByEmail('no.mail@example.com')).toBeUndefined();
  });

  it('undoes an invitation whose mail could not be sent (exit 1), so it can be sent again', async () => {
    const email = 'while.down@example.com';
    smtp.refuse(true);
    try {
      const failed = await gatehouse('user', 'invite', '--email', email);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain('no account was kept');
    } finally {
      smtp.refuse(false);
    }
    expect(await gh.gatehouse.accounts.findByEmail(email)).toBeUndefined();
    expect((await gatehouse('user', 'invite', '--email', email)).code).toBe(0);
    expect(linkIn(await smtp.next(email, { subject: inviteSubject }), `${gh.url}/invitation`)).toBeTruthy();
  });
});

describe('POST /admin/api/invitations', () => {
  it('invites as the CLI does, audited with the acting administrator; a duplicate is a 409', async () => {
    const token = await adminApiToken(gh);
    const invite = (body: unknown) =>
      fetch(`${gh.url}/admin/api/invitations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const email = 'api-invitee@example.com';
    const created = await invite({ email, name: 'Api Invitee' });
    expect(created.status).toBe(201);
    const account = (await created.json()) as { id: string; email: string; roles: string[] };
    expect(account).toMatchObject({ email, roles: [] });
    expect(await gh.gatehouse.accounts.getByEmail(email)).toMatchObject({ hasPassword: false });

    const link = linkIn(await smtp.next(email, { subject: inviteSubject }), `${gh.url}/invitation?token=`);
    expect((await accept(link, 'an api invitee passphrase')).status).toBe(200);
    expect(await auditTypes(email)).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'account.invited', actor: 'admin:operator' })]),
    );

    const again = await invite({ email });
    expect(again.status).toBe(409);
    expect((await invite({ email: 'x@example.com', roles: ['no-such-role'] })).status).toBe(404);
  });
});
