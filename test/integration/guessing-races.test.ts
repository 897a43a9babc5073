import { createHttpBrowser, formAction, formField, type HttpBrowser } from '../support/http-sign-in.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * Guessing limits under attack: many guesses sent at once (each must be counted before it is evaluated), and a
 * lockout used to shut an account's owner out (a browser that signed in before keeps its own count).
 */
let gh: TestGatehouse;
const redirectUri = 'http://127.0.0.1:9/cb';
const owner = { email: 'owner@example.com', password: 'correct horse battery one' };
const racer = { email: 'racer@example.com', password: 'purple lantern seventy two' };
const perAccount = {
  maxFailures: 3,
  windowSeconds: 900,
  lockSeconds: 900,
  freeFailures: 2,
  maxDelaySeconds: 30,
};
const generous = {
  maxFailures: 1000,
  windowSeconds: 900,
  lockSeconds: 900,
  freeFailures: 1000,
  maxDelaySeconds: 1,
};

beforeAll(async () => {
  gh = await startTestGatehouse({
    config: {
      throttle: {
        password: { perAccount, perIp: generous },
        clientAuthentication: {
          perClient: {
            maxFailures: 3,
            windowSeconds: 900,
            lockSeconds: 900,
            freeFailures: 2,
            maxDelaySeconds: 30,
          },
          perIp: generous,
        },
      },
    },
  });
  for (const account of [owner, racer]) await gh.gatehouse.accounts.create(account);
  await gh.gatehouse.clients.create({
    id: 'app',
    secret: 'app-secret-0123456789',
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code', 'client_credentials'],
    public: false,
    firstParty: true,
  });
}, 60_000);

afterAll(async () => {
  await gh?.close();
});

/** A browser on the login page of a fresh authorization request: where to post, and the CSRF token. */
async function openLogin(browser: HttpBrowser = createHttpBrowser()) {
  const params = new URLSearchParams({
    client_id: 'app',
    response_type: 'code',
    scope: 'openid',
    redirect_uri: redirectUri,
    code_challenge: 'x'.repeat(43),
    code_challenge_method: 'S256',
  });
  const start = await browser.get(`${gh.url}/auth?${params}`);
  const html = await (await browser.get(new URL(start.headers.get('location')!, gh.url).href)).text();
  const action = new URL(formAction(html, '/login'), gh.url).href;
  const csrf = formField(html, 'csrf');
  return {
    browser,
    signIn: (email: string, password: string) => browser.post(action, { csrf, email, password }),
  };
}

const failures = async (email: string, type = 'signin.failed') => {
  const account = await gh.gatehouse.accounts.findByEmail(email);
  return gh.gatehouse.audit.list({ since: new Date(0), type, accountId: account!.id });
};

describe('guesses sent at once', () => {
  it('stops a password guesser who sends 30 guesses at once from having more than the free ones checked', async () => {
    const { signIn } = await openLogin();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => signIn(racer.email, `wrong guess number ${i}`)),
    );
    const checked = answers.filter((answer) => answer.status !== 429);
    // No more guesses were checked than the lock allows; every other one was refused unchecked.
    expect(checked).toHaveLength(perAccount.maxFailures);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(30 - checked.length);
    expect(await failures(racer.email)).toHaveLength(checked.length);
  });

  it('stops a client-secret guesser who sends 30 guesses at once from having more than the free ones checked', async () => {
    const guess = (secret: string) =>
      fetch(`${gh.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`app:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => guess(`wrong-secret-${i}`)));
    const statuses = answers.map((answer) => answer.status);
    // Without a reservation per guess, all 30 were checked (30 answers of 401). Now: the lock's 3, and at most 3 more
    // this process checks without asking Redis while it trusts a clean record.
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(6);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(24);
  });
});

describe('a lockout used as a denial of service', () => {
  it("stops a stranger who guesses at the owner's email from locking the owner out of a browser they signed in with before", async () => {
    const ownerBrowser = createHttpBrowser();
    const first = await openLogin(ownerBrowser);
    expect((await first.signIn(owner.email, owner.password)).status).toBe(303);
    expect(ownerBrowser.jar.header()).toMatch(/gh_device=/);

    // A stranger locks the email: wrong guesses from a browser that never signed in to it.
    const stranger = await openLogin();
    for (let i = 0; i < perAccount.maxFailures; i += 1)
      expect((await stranger.signIn(owner.email, `stranger guess ${i}`)).status).toBe(200);
    const locked = await stranger.signIn(owner.email, owner.password);
    expect(locked.status).toBe(429);
    expect(await locked.text()).toContain('locked');

    // The owner's browser still signs in with the right password while the lock holds, and the audit says so.
    const again = await openLogin(ownerBrowser);
    expect((await again.signIn(owner.email, owner.password)).status).toBe(303);
    const spared = await failures(owner.email, 'signin.lock_spared');
    expect(spared).toHaveLength(1);
    expect(await failures(owner.email, 'signin.locked')).toHaveLength(1);

    // Unknown browsers stay locked out, even with the right password.
    expect((await (await openLogin()).signIn(owner.email, owner.password)).status).toBe(429);
  });

  it("counts a known browser's failures against it alone, and its cookie only for the address it was issued for", async () => {
    const email = 'shared@example.com';
    await gh.gatehouse.accounts.create({ email, password: 'quiet harbour morning tea' });
    const known = createHttpBrowser();
    expect((await (await openLogin(known)).signIn(email, 'quiet harbour morning tea')).status).toBe(303);

    // The known browser guesses wrong until its own count locks it...
    const guesser = await openLogin(known);
    for (let i = 0; i < perAccount.maxFailures; i += 1)
      expect((await guesser.signIn(email, `known guess ${i}`)).status).toBe(200);
    expect((await guesser.signIn(email, 'quiet harbour morning tea')).status).toBe(429);
    // ...which leaves the email itself unlocked for everyone else.
    expect((await (await openLogin()).signIn(email, 'quiet harbour morning tea')).status).toBe(303);

    // A device cookie earned for one address does nothing for another: the stranger's lock on the owner holds.
    const other = createHttpBrowser();
    expect((await (await openLogin(other)).signIn(racer.email, racer.password)).status).not.toBe(303);
    expect((await (await openLogin(other)).signIn(owner.email, owner.password)).status).toBe(429);
  });
});
