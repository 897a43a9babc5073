import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import {
  createHttpBrowser,
  formField,
  signInToAccountPage,
  type HttpBrowser,
} from '../support/http-sign-in.ts';
import { linkIn, startSmtpPeer, type SmtpPeer } from '../support/smtp-peer.ts';
import { startTestGatehouse, testLimit, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * Changing the email on the account page: a link mailed to the new address moves the account when it is used, and
 * the old address is told. A real SMTP peer (smtp-server) receives the mail; the pages are driven over HTTP.
 */
const changeSubject = /Confirm the new address of your account/;
const changedSubject = /The address of your account was changed/;
const password = 'a phrase to keep through the move';

let gh: TestGatehouse;
let smtp: SmtpPeer;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  smtp = await startSmtpPeer();
  gh = await startTestGatehouse({
    config: {
      smtp: { url: smtp.url, from: 'no-reply@example.com' },
      throttle: { emailChange: testLimit(3) },
    },
  });
  env = { ...cliEnvironment(gh.database.url, { smtp: { url: smtp.url } }), ISSUER: gh.url };
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await smtp?.close();
});

/** A new account, signed in to the account page in a browser of its own. */
async function signedIn(email: string): Promise<HttpBrowser> {
  const created = await runCli(['user', 'create', '--email', email, '--password', password], env);
  expect(created.code).toBe(0);
  // Administrator-created accounts get a verification mail: taken here so later waits see only what they expect.
  await smtp.next(email, { subject: /Confirm your email address/ });
  const browser = createHttpBrowser();
  await signInToAccountPage(browser, gh.url, { email, password });
  return browser;
}

/** Asks for `newEmail` on /account/email; the answer's status and HTML. */
async function requestChange(browser: HttpBrowser, newEmail: string) {
  const page = await browser.get(`${gh.url}/account/email`);
  expect(page.status).toBe(200);
  const html = await page.text();
  const answer = await browser.post(`${gh.url}/account/email`, {
    csrf: formField(html, 'csrf'),
    email: newEmail,
  });
  return { status: answer.status, html: await answer.text(), headers: answer.headers };
}

/** Opens a confirmation link and presses its button, in a browser of its own (a phone, say). */
async function confirm(link: string): Promise<Response> {
  const browser = createHttpBrowser();
  const page = await browser.get(link);
  if (page.status !== 200) return page;
  const html = await page.text();
  return browser.post(`${gh.url}/email-change`, {
    csrf: formField(html, 'csrf'),
    token: formField(html, 'token'),
  });
}

const emailOf = async (id: string) => (await gh.gatehouse.accounts.get(id)).email;

describe('changing the email on the account page', () => {
  it('moves the account only when the link mailed to the new address is used, and tells the old address', async () => {
    const browser = await signedIn('old.address@example.com');
    const account = await gh.gatehouse.accounts.getByEmail('old.address@example.com');
    expect(await (await browser.get(`${gh.url}/account`)).text()).toContain('href="/account/email"');

    const answer = await requestChange(browser, 'new.address@example.com');
    expect(answer.status).toBe(200);
    expect(answer.html).toContain('id="email-change-requested"');
    const link = linkIn(
      await smtp.next('new.address@example.com', { subject: changeSubject }),
      `${gh.url}/email-change?token=`,
    );
    // Nothing moves before the new mailbox answers; a link scanner's GET changes nothing either.
    expect((await fetch(link)).status).toBe(200);
    expect(await emailOf(account.id)).toBe('old.address@example.com');

    const done = await confirm(link);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('id="email-changed"');
    expect(await gh.gatehouse.accounts.get(account.id)).toMatchObject({
      email: 'new.address@example.com',
      emailVerified: true,
    });
    const notice = await smtp.next('old.address@example.com', { subject: changedSubject });
    expect(notice.text).toContain('n**********@example.com');
    expect(notice.text).not.toContain('new.address@example.com');
    // The account page shows the new address at once, without signing in again.
    expect(await (await browser.get(`${gh.url}/account`)).text()).toContain('new.address@example.com');
    // The account signs in with its new address, not with the old one.
    await expect(
      signInToAccountPage(createHttpBrowser(), gh.url, { email: 'new.address@example.com', password }),
    ).resolves.toContain('new.address@example.com');
    await expect(
      signInToAccountPage(createHttpBrowser(), gh.url, { email: 'old.address@example.com', password }),
    ).rejects.toThrow('sign-in refused');
    const audit = await runCli(
      ['audit', '--since', '10m', '--email', 'new.address@example.com', '--json'],
      env,
    );
    expect(audit.json<{ type: string }[]>().map((event) => event.type)).toEqual(
      expect.arrayContaining(['email.change_requested', 'email.changed']),
    );
  });

  it('account takeover through the old mailbox: a reset link sent there before the move stops working', async () => {
    const browser = await signedIn('leaky.mailbox@example.com');
    expect((await runCli(['user', 'send-reset', '--email', 'leaky.mailbox@example.com'], env)).code).toBe(0);
    const reset = linkIn(
      await smtp.next('leaky.mailbox@example.com', { subject: /Reset your password/ }),
      `${gh.url}/password-reset?token=`,
    );
    expect((await fetch(reset)).status).toBe(200);

    await requestChange(browser, 'safe.mailbox@example.com');
    const link = linkIn(
      await smtp.next('safe.mailbox@example.com', { subject: changeSubject }),
      `${gh.url}/email-change?token=`,
    );
    expect((await confirm(link)).status).toBe(200);
    expect((await fetch(reset)).status).toBe(400);
  });

  it('address enumeration: a new address that has an account gets the same answer and no link', async () => {
    const browser = await signedIn('curious@example.com');
    expect(
      (
        await runCli(
          ['user', 'create', '--email', 'taken@example.com', '--password', 'a phrase of the holder'],
          env,
        )
      ).code,
    ).toBe(0);
    await smtp.next('taken@example.com', { subject: /Confirm your email address/ });
    const taken = await requestChange(browser, 'taken@example.com');
    const free = await requestChange(browser, 'free@example.com');
    expect(taken.status).toBe(free.status);
    const words = (html: string, address: string) =>
      /<main[^>]*>([\s\S]*)<\/main>/
        .exec(html)![1]!
        .replaceAll(address, 'ADDRESS')
        .replace(/value="[^"]*"/g, '');
    expect(words(taken.html, 'taken@example.com')).toBe(words(free.html, 'free@example.com'));
    await smtp.next('free@example.com', { subject: changeSubject });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.countFor('taken@example.com', changeSubject)).toBe(0);
  });

  it('asks again for an address it cannot use (400 naming why), and a post from another site is refused', async () => {
    const browser = await signedIn('careful@example.com');
    const malformed = await requestChange(browser, 'not an address');
    expect(malformed.status).toBe(400);
    expect(malformed.html).toContain('is not an email address');
    const same = await requestChange(browser, 'Careful@example.com');
    expect(same.status).toBe(400);
    expect(same.html).toContain('already the address of your account');
    const placeholder = await requestChange(browser, 'someone@users.noreply.invalid');
    expect(placeholder.status).toBe(400);
    const forged = await browser.post(`${gh.url}/account/email`, {
      csrf: 'forged',
      email: 'attacker@example.com',
    });
    expect(forged.status).toBe(403);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.countFor('attacker@example.com')).toBe(0);
  });

  it('stops a link from being used twice or forged, and from taking an address another account got meanwhile', async () => {
    const browser = await signedIn('mover@example.com');
    const account = await gh.gatehouse.accounts.getByEmail('mover@example.com');
    await requestChange(browser, 'destination@example.com');
    const link = linkIn(
      await smtp.next('destination@example.com', { subject: changeSubject }),
      `${gh.url}/email-change?token=`,
    );
    const token = new URL(link).searchParams.get('token')!;
    expect(
      (await confirm(`${gh.url}/email-change?token=${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`))
        .status,
    ).toBe(400);
    // Someone else gets the address first: the link changes nothing, and says why.
    expect(
      (
        await runCli(
          ['user', 'create', '--email', 'destination@example.com', '--password', 'a phrase of the holder'],
          env,
        )
      ).code,
    ).toBe(0);
    const late = await confirm(link);
    expect(late.status).toBe(409);
    expect(await emailOf(account.id)).toBe('mover@example.com');
    expect((await confirm(link)).status).toBe(400);
  });

  it('mailbox flooding: limits change requests per account (429 with Retry-After)', async () => {
    const browser = await signedIn('eager@example.com');
    for (let request = 0; request < 3; request += 1)
      expect((await requestChange(browser, `target${request}@example.com`)).status).toBe(200);
    const refused = await requestChange(browser, 'target3@example.com');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    await smtp.next('target2@example.com', { subject: changeSubject });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.countFor('target3@example.com')).toBe(0);
  });
});

describe('changing the email without mail', () => {
  it('offers no page: the address can only be changed where a link can confirm it', async () => {
    const off = await startTestGatehouse();
    try {
      const offEnv = { ...cliEnvironment(off.database.url), ISSUER: off.url };
      expect(
        (await runCli(['user', 'create', '--email', 'nomail@example.com', '--password', password], offEnv))
          .code,
      ).toBe(0);
      const browser = createHttpBrowser();
      const html = await signInToAccountPage(browser, off.url, { email: 'nomail@example.com', password });
      expect(html).not.toContain('/account/email');
      expect((await browser.get(`${off.url}/account/email`)).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});
