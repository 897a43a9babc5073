import * as oidc from 'openid-client';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { createHttpBrowser, formField, type HttpBrowser } from '../support/http-sign-in.ts';
import { discoverAsClient, startAuthorization, type PendingAuthorization } from '../support/relying-party.ts';
import { startSmtpPeer, type ReceivedMail, type SmtpPeer } from '../support/smtp-peer.ts';
import {
  registerFirstPartyWebApp,
  startTestGatehouse,
  testLimit,
  type TestGatehouse,
} from '../support/test-gatehouse.ts';

/**
 * Signing in with a one-time code by email (`emailCode.enabled`): "Email me a sign-in code instead" on the login
 * page, the code from a real SMTP peer (smtp-server), the app is openid-client; the pages are driven over HTTP.
 */
const codeSubject = /Your sign-in code/;
const redirectUri = 'http://127.0.0.1:9/cb';
const clientSecret = 'code-app-secret-0123456789';
const password = 'a phrase nobody types here';

let gh: TestGatehouse;
let smtp: SmtpPeer;
let env: NodeJS.ProcessEnv;
let rp: oidc.Configuration;

beforeAll(async () => {
  smtp = await startSmtpPeer();
  gh = await startTestGatehouse({
    config: {
      smtp: { url: smtp.url, from: 'no-reply@example.com' },
      emailCode: { enabled: true, clients: ['code-app'] },
      throttle: {
        emailCode: {
          perAddress: testLimit(4),
          perIp: testLimit(500),
          guesses: testLimit(3),
        },
      },
    },
  });
  env = { ...cliEnvironment(gh.database.url), ISSUER: gh.url };
  await registerFirstPartyWebApp(gh, { id: 'code-app', secret: clientSecret, redirectUri });
  await registerFirstPartyWebApp(gh, { id: 'other-app', secret: clientSecret, redirectUri });
  rp = await discoverAsClient(gh.url, 'code-app', clientSecret);
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await smtp?.close();
});

async function createUser(email: string) {
  expect((await runCli(['user', 'create', '--email', email, '--password', password], env)).code).toBe(0);
}

/** A sign-in at `clientId` up to its login page: the browser, the page's HTML and the pending authorization. */
async function openLogin(clientId = 'code-app') {
  const config = clientId === 'code-app' ? rp : await discoverAsClient(gh.url, clientId, clientSecret);
  const pending = await startAuthorization(config, { redirect_uri: redirectUri });
  const browser = createHttpBrowser();
  let response = await browser.get(pending.url.href);
  for (let hops = 0; hops < 5 && response.headers.get('location'); hops += 1)
    response = await browser.get(new URL(response.headers.get('location')!, gh.url).href);
  return { browser, html: await response.text(), pending };
}

/** Where the login page's "Email me a sign-in code instead" posts, if it offers it. */
const codeAction = (html: string) =>
  /formaction="([^"]+)" id="email-code"/.exec(html)?.[1]?.replaceAll('&amp;', '&');

/** On the login page: the address, then "Email me a sign-in code instead". The answer's status and HTML. */
async function askForCode(browser: HttpBrowser, loginHtml: string, email: string) {
  const action = codeAction(loginHtml);
  expect(action).toBeDefined();
  const answer = await browser.post(new URL(action!, gh.url).href, {
    csrf: formField(loginHtml, 'csrf'),
    email,
  });
  return { status: answer.status, html: await answer.text(), headers: answer.headers };
}

/** Types `code` on the code page; the response (a redirect onwards when it was right). */
async function typeCode(browser: HttpBrowser, codePage: string, code: string) {
  const action = /action="([^"]+email-code\/verify[^"]*)"/.exec(codePage)![1]!.replaceAll('&amp;', '&');
  return browser.post(new URL(action, gh.url).href, { csrf: formField(codePage, 'csrf'), code });
}

const codeIn = (mail: ReceivedMail) => /^\s*(\d{6})\s*$/m.exec(mail.text)![1]!;

/** Follows redirects from `response` to the app's callback, and redeems it with openid-client. */
async function tokensAfter(browser: HttpBrowser, response: Response, pending: PendingAuthorization) {
  for (let hops = 0; hops < 8; hops += 1) {
    const location = response.headers.get('location');
    if (!location)
      throw new Error(`no redirect (status ${response.status}): ${(await response.text()).slice(0, 500)}`);
    const next = new URL(location, gh.url);
    if (next.href.startsWith(redirectUri))
      return oidc.authorizationCodeGrant(rp, next, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
      });
    response = await browser.get(next.href);
  }
  throw new Error('too many redirects');
}

describe('signing in with a code by email', () => {
  it('signs in with the mailed code, once, and the ID token says how (amr email, its own acr)', async () => {
    const email = 'coder@example.com';
    await createUser(email);
    const { browser, html, pending } = await openLogin();
    const answer = await askForCode(browser, html, email);
    expect(answer.status).toBe(200);
    expect(answer.html).toContain('id="email-code-sent"');
    const mail = await smtp.next(email, { subject: codeSubject });
    const code = codeIn(mail);
    // The code is only in the mail: never in the page, and stored only as a hash.
    expect(answer.html).not.toContain(code);
    const stored = [...(await gh.redis!.client.keys(`${gh.redis!.prefix}*email-code:*`))];
    expect(stored.length).toBeGreaterThan(0);
    for (const key of stored) expect(await gh.redis!.client.get(key)).not.toContain(code);

    const tokens = await tokensAfter(browser, await typeCode(browser, answer.html, code), pending);
    const claims = tokens.claims()!;
    expect(claims.email).toBe(email);
    expect(claims.amr).toEqual(['email']);
    expect(claims.acr).toBe('urn:gatehouse:acr:email-code');

    // Used: the same code in the same sign-in (a replay) finds nothing waiting.
    const again = await typeCode(browser, answer.html, code);
    expect(again.status).not.toBe(303);
  });

  it('code theft across sign-ins: a code works only in the sign-in that asked for it', async () => {
    const email = 'bound@example.com';
    await createUser(email);
    const victim = await openLogin();
    await askForCode(victim.browser, victim.html, email);
    const code = codeIn(await smtp.next(email, { subject: codeSubject }));
    // An attacker with a sign-in of their own, who asked a code for the same address, cannot use the victim's.
    const attacker = await openLogin();
    const attackerPage = await askForCode(attacker.browser, attacker.html, email);
    await smtp.next(email, { subject: codeSubject });
    const stolen = await typeCode(attacker.browser, attackerPage.html, code);
    expect(stolen.status).toBe(400);
    expect(await stolen.text()).toContain('That code is not right');
  });

  it('code guessing: wrong codes count per address, then even the right one is refused (429)', async () => {
    const email = 'guessed@example.com';
    await createUser(email);
    const { browser, html } = await openLogin();
    const page = await askForCode(browser, html, email);
    const code = codeIn(await smtp.next(email, { subject: codeSubject }));
    const wrong = code === '000000' ? '000001' : '000000';
    for (let guess = 0; guess < 3; guess += 1)
      expect((await typeCode(browser, page.html, wrong)).status).toBe(400);
    const locked = await typeCode(browser, page.html, code);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    const audit = await runCli(['audit', '--since', '10m', '--email', email, '--json'], env);
    expect(audit.json<{ type: string }[]>().map((event) => event.type)).toEqual(
      expect.arrayContaining(['signin.failed', 'signin.locked']),
    );
  });

  it('address enumeration: an address without an account gets the same page, and no mail', async () => {
    await createUser('known.coder@example.com');
    const known = await openLogin();
    const forKnown = await askForCode(known.browser, known.html, 'known.coder@example.com');
    const unknown = await openLogin();
    const forUnknown = await askForCode(unknown.browser, unknown.html, 'unknown.coder@example.com');
    expect(forUnknown.status).toBe(forKnown.status);
    const words = (html: string, address: string) =>
      /<main[^>]*>([\s\S]*)<\/main>/
        .exec(html)![1]!
        .replaceAll(address, 'ADDRESS')
        .replace(/value="[^"]*"/g, '')
        .replace(/\/interaction\/[^"?/]+/g, '/interaction/UID');
    expect(words(forUnknown.html, 'unknown.coder@example.com')).toBe(
      words(forKnown.html, 'known.coder@example.com'),
    );
    await smtp.next('known.coder@example.com', { subject: codeSubject });
    // Any code typed for the unknown address is wrong: there is nothing it could sign in to.
    expect((await typeCode(unknown.browser, forUnknown.html, '123456')).status).toBe(400);
    expect(smtp.countFor('unknown.coder@example.com')).toBe(0);
  });

  it('asks an account with a second factor for it after the code, as after a password', async () => {
    const email = 'two.factors@example.com';
    await createUser(email);
    expect((await runCli(['user', 'enroll-totp', '--email', email], env)).code).toBe(0);
    const { browser, html } = await openLogin();
    const page = await askForCode(browser, html, email);
    const afterCode = await typeCode(
      browser,
      page.html,
      codeIn(await smtp.next(email, { subject: codeSubject })),
    );
    expect(afterCode.status).toBe(303);
    expect(afterCode.headers.get('location')).toMatch(/\/interaction\/[^/]+\/mfa/);
  });

  it('mailbox flooding: limits code requests per address (429 with Retry-After)', async () => {
    const email = 'flooded.coder@example.com';
    await createUser(email);
    const { browser, html } = await openLogin();
    for (let request = 0; request < 4; request += 1)
      expect((await askForCode(browser, html, email)).status).toBe(200);
    const refused = await askForCode(browser, html, email);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('is offered only to the clients emailCode.clients names: elsewhere no button and no step', async () => {
    const { browser, html } = await openLogin('other-app');
    expect(html).toContain('name="password"');
    expect(codeAction(html)).toBeUndefined();
    const uid = /\/interaction\/([^/"?]+)\/login/.exec(html)![1]!;
    const posted = await browser.post(`${gh.url}/interaction/${uid}/email-code`, {
      csrf: formField(html, 'csrf'),
      email: 'coder@example.com',
    });
    expect(posted.status).toBe(404);
  });
});
