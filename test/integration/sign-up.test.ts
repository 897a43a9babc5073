import * as oidc from 'openid-client';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import {
  authorizeOverHttp,
  createHttpBrowser,
  formAction,
  formField,
  type HttpBrowser,
} from '../support/http-sign-in.ts';
import { linkIn, startSmtpPeer, type SmtpPeer } from '../support/smtp-peer.ts';
import {
  registerFirstPartyWebApp,
  startTestGatehouse,
  testLimit,
  type TestGatehouse,
} from '../support/test-gatehouse.ts';

/**
 * Self-service sign-up (`signUp.enabled`): "Create an account" on the login page, an account only once the mailed
 * link is used. A real SMTP peer (smtp-server) receives the mail; the pages are driven over HTTP as a browser would.
 */
const signUpSubject = /Finish creating your account/;
const existingSubject = /You already have an account/;
const redirectUri = 'http://127.0.0.1:9/cb';
const clientSecret = 'sign-up-app-secret-0123456789';
const strangerPassword = 'the stranger chose this passphrase';

let gh: TestGatehouse;
let smtp: SmtpPeer;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  smtp = await startSmtpPeer();
  gh = await startTestGatehouse({
    config: {
      smtp: { url: smtp.url, from: 'no-reply@example.com' },
      signUp: { enabled: true, tokenSeconds: 3600 },
      throttle: {
        signUp: {
          perAddress: testLimit(3),
          perIp: testLimit(500),
        },
      },
    },
  });
  env = { ...cliEnvironment(gh.database.url), ISSUER: gh.url };
  await registerFirstPartyWebApp(gh, { id: 'sign-up-app', secret: clientSecret, redirectUri });
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await smtp?.close();
});

/** Starts a sign-in at the app and follows redirects to the login page: its HTML and the browser that holds it. */
async function openLoginPage(issuer = gh.url): Promise<{ browser: HttpBrowser; html: string }> {
  const browser = createHttpBrowser();
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: 'sign-up-app',
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  }).toString();
  let response = await browser.get(url.href);
  for (let hops = 0; hops < 5 && response.headers.get('location'); hops += 1)
    response = await browser.get(new URL(response.headers.get('location')!, issuer).href);
  const html = await response.text();
  expect(html).toContain('name="password"');
  return { browser, html };
}

/** From the login page: "Create an account", then the form filled in. The answer's status and HTML. */
async function signUp(form: { email: string; name?: string; password: string }) {
  const { browser, html } = await openLoginPage();
  const href = /href="([^"]+)" id="sign-up"/.exec(html)?.[1];
  expect(href).toBeDefined();
  const page = await browser.get(new URL(href!.replaceAll('&amp;', '&'), gh.url).href);
  expect(page.status).toBe(200);
  const formHtml = await page.text();
  const answer = await browser.post(new URL(formAction(formHtml, '/sign-up'), gh.url).href, {
    csrf: formField(formHtml, 'csrf'),
    email: form.email,
    name: form.name ?? '',
    new_password: form.password,
  });
  return { status: answer.status, html: await answer.text(), headers: answer.headers };
}

/** Opens a confirmation link as a browser would and presses "Create my account". The final response. */
async function confirm(link: string): Promise<Response> {
  const browser = createHttpBrowser();
  const page = await browser.get(link);
  if (page.status !== 200) return page;
  const html = await page.text();
  return browser.post(`${gh.url}/sign-up`, {
    csrf: formField(html, 'csrf'),
    token: formField(html, 'token'),
  });
}

/** Signs in to `sign-up-app` over HTTP; the callback URL, or undefined when the login page refused. */
async function signIn(email: string, password: string): Promise<URL | undefined> {
  try {
    const { callback } = await authorizeOverHttp(
      createHttpBrowser(),
      { issuer: gh.url, clientId: 'sign-up-app', redirectUri },
      { email, password },
    );
    return callback;
  } catch {
    return undefined;
  }
}

const accountOf = (email: string) => gh.gatehouse.accounts.getByEmail(email).catch(() => undefined);

/** The words of the "check your email" answer, without the address it names. */
const answerText = (html: string, email: string) =>
  /<main[^>]*>([\s\S]*)<\/main>/
    .exec(html)![1]!
    .replaceAll(email, 'ADDRESS')
    .replace(/\/interaction\/[^"?]+/g, '/interaction/UID');

describe('self-service sign-up', () => {
  it('creates the account only when the mailed link is used, with its address verified, and it signs in', async () => {
    const email = 'newcomer@example.com';
    const password = 'a phrase chosen on the first visit';
    const answer = await signUp({ email, name: 'New Comer', password });
    expect(answer.status).toBe(200);
    expect(answer.html).toContain('id="sign-up-requested"');

    const mail = await smtp.next(email, { subject: signUpSubject });
    expect(mail.text).toContain('New Comer');
    const link = linkIn(mail, `${gh.url}/sign-up?token=`);
    // Nothing exists before the owner of the mailbox opens the link: no account, no sign-in.
    expect(await accountOf(email)).toBeUndefined();
    expect(await signIn(email, password)).toBeUndefined();
    // The mail and the database hold no password; the link's token is stored only as its hash.
    expect(mail.raw).not.toContain(password);
    const token = new URL(link).searchParams.get('token')!;
    const stored = await gh.pool.query<{ password_hash: string; token_hash: Buffer }>(
      'SELECT password_hash, token_hash FROM sign_ups WHERE lower(email) = $1',
      [email],
    );
    expect(stored.rows[0]!.password_hash).toMatch(/^\$argon2id\$/);
    expect(stored.rows[0]!.token_hash.toString('base64url')).not.toBe(token);

    // A link scanner's GET changes nothing; the button does.
    expect((await fetch(link)).status).toBe(200);
    expect(await accountOf(email)).toBeUndefined();
    const done = await confirm(link);
    expect(done.status).toBe(200);
    const doneHtml = await done.text();
    expect(doneHtml).toContain('id="sign-up-done"');
    // "Continue signing in" goes back to the interaction the person came from.
    expect(doneHtml).toMatch(/href="\/interaction\/[^"]+"/);

    expect(await accountOf(email)).toMatchObject({ email, name: 'New Comer', emailVerified: true });
    expect(await signIn(email, password)).toBeInstanceOf(URL);
    const audit = await runCli(['audit', '--since', '10m', '--email', email, '--json'], env);
    expect(audit.json<{ type: string }[]>().map((event) => event.type)).toContain('account.signed_up');
  });

  it('stops a sign-up link from being used twice, and a forged or altered one from creating anything', async () => {
    const email = 'twice@example.com';
    await signUp({ email, password: 'a phrase for a link used two times' });
    const link = linkIn(await smtp.next(email, { subject: signUpSubject }), `${gh.url}/sign-up?token=`);
    const token = new URL(link).searchParams.get('token')!;
    const altered = `${gh.url}/sign-up?token=${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect((await confirm(altered)).status).toBe(400);
    expect((await confirm(`${gh.url}/sign-up?token=nonsense`)).status).toBe(400);
    expect(await accountOf(email)).toBeUndefined();
    // Posted straight at the form without the page's CSRF token.
    const forged = await fetch(`${gh.url}/sign-up`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, csrf: 'forged' }),
    });
    expect(forged.status).toBe(403);
    expect(await accountOf(email)).toBeUndefined();

    // Two tabs press the button at once: one account, the other tab told the link no longer works.
    const browsers = [createHttpBrowser(), createHttpBrowser()];
    const pages = await Promise.all(browsers.map(async (browser) => (await browser.get(link)).text()));
    const answers = await Promise.all(
      browsers.map((browser, index) =>
        browser.post(`${gh.url}/sign-up`, { csrf: formField(pages[index]!, 'csrf'), token }),
      ),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400]);
    expect(await accountOf(email)).toMatchObject({ emailVerified: true });
    expect((await confirm(link)).status).toBe(400);
  });

  it('pre-account takeover: a sign-up for an address with an account answers alike, changes nothing and tells its owner', async () => {
    const email = 'owner@example.com';
    const ownerPassword = 'a phrase kept for years by its holder';
    expect((await runCli(['user', 'create', '--email', email, '--password', ownerPassword], env)).code).toBe(
      0,
    );

    const forExisting = await signUp({ email, password: strangerPassword });
    const forNew = await signUp({ email: 'nobody.yet@example.com', password: strangerPassword });
    // The same status and the same words: the answer does not say whether the address has an account.
    expect(forExisting.status).toBe(forNew.status);
    expect(answerText(forExisting.html, email)).toBe(answerText(forNew.html, 'nobody.yet@example.com'));

    const notice = await smtp.next(email, { subject: existingSubject });
    expect(notice.text).toContain('Forgot password?');
    expect(notice.text).not.toContain('/sign-up?token=');
    expect(smtp.countFor(email, signUpSubject)).toBe(0);
    // The owner's password still signs in; the stranger's does not.
    expect(await signIn(email, ownerPassword)).toBeInstanceOf(URL);
    expect(await signIn(email, strangerPassword)).toBeUndefined();
  });

  it('pre-account takeover: a stranger signing up an address reserves nothing its owner later gets', async () => {
    const email = 'later.invited@example.com';
    await signUp({ email, password: strangerPassword });
    const strangersLink = linkIn(
      await smtp.next(email, { subject: signUpSubject }),
      `${gh.url}/sign-up?token=`,
    );
    // No account waits with the stranger's password: the address stays free for its owner.
    expect(await accountOf(email)).toBeUndefined();
    expect(
      (await runCli(['user', 'create', '--email', email, '--password', 'the owner picks this phrase'], env))
        .code,
    ).toBe(0);
    // Even the stranger's own link cannot take the address now: a clear page, the owner's account untouched.
    const late = await confirm(strangersLink);
    expect(late.status).toBe(409);
    expect(await late.text()).toContain('already has an account');
    expect(await signIn(email, strangerPassword)).toBeUndefined();
    expect(await signIn(email, 'the owner picks this phrase')).toBeInstanceOf(URL);
  });

  it('asks again for what the form got wrong (400 naming it), and sends nothing', async () => {
    const weak = await signUp({ email: 'weak@example.com', password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.html).toContain('the password must have at least');
    expect(weak.html).toContain('value="weak@example.com"');
    const malformed = await signUp({ email: 'not an address', password: 'a long enough passphrase' });
    expect(malformed.status).toBe(400);
    expect(malformed.html).toContain('is not an email address');
    const placeholder = await signUp({
      email: 'x@users.noreply.invalid',
      password: 'a long enough passphrase',
    });
    expect(placeholder.status).toBe(400);
    const longName = await signUp({
      email: 'named@example.com',
      name: 'n'.repeat(201),
      password: 'a long enough passphrase',
    });
    expect(longName.status).toBe(400);
    expect(longName.html).toContain('the name is too long');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.countFor('weak@example.com') + smtp.countFor('named@example.com')).toBe(0);
  });

  it('mailbox flooding: limits sign-up requests per address (429 with Retry-After), found or not', async () => {
    const email = 'flooded@example.com';
    for (let request = 0; request < 3; request += 1)
      expect((await signUp({ email, password: strangerPassword })).status).toBe(200);
    const refused = await signUp({ email, password: strangerPassword });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.html).toContain('Too many sign-up requests');
    await smtp.next(email, { subject: signUpSubject });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smtp.countFor(email, signUpSubject)).toBe(3);
  });
});

describe('sign-up off (the default)', () => {
  it('shows no "Create an account" and has no sign-up step or link page', async () => {
    const off = await startTestGatehouse({ config: { smtp: { url: smtp.url } } });
    try {
      await registerFirstPartyWebApp(off, { id: 'sign-up-app', secret: clientSecret, redirectUri });
      const { browser, html } = await openLoginPage(off.url);
      expect(html).not.toContain('id="sign-up"');
      const uid = /\/interaction\/([^/"]+)\/login/.exec(html)![1]!;
      expect((await browser.get(`${off.url}/interaction/${uid}/sign-up`)).status).toBe(404);
      const posted = await browser.post(`${off.url}/interaction/${uid}/sign-up`, {
        csrf: formField(html, 'csrf'),
        email: 'sneaky@example.com',
        new_password: strangerPassword,
      });
      expect(posted.status).toBe(404);
      // Any link is refused: nothing can be completed while sign-up is off.
      expect((await fetch(`${off.url}/sign-up?token=${'A'.repeat(43)}`)).status).toBe(400);
    } finally {
      await off.close();
    }
  });
});
