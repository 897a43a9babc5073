import { createHttpBrowser, formAction, formField } from '../support/http-sign-in.ts';
import { startGitHubDouble } from '../support/github-double.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/** The GitHub preset against a local double of GitHub: profile and verified-email mapping. */
let gh: TestGatehouse;
let github: Awaited<ReturnType<typeof startGitHubDouble>>;
const redirectUri = 'http://127.0.0.1:9/cb';

beforeAll(async () => {
  github = await startGitHubDouble();
  gh = await startTestGatehouse();
  await gh.gatehouse.clients.create({
    id: 'app',
    secret: 'app-secret-0123456789',
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code'],
    public: false,
    firstParty: true,
  });
  await gh.gatehouse.identityProviders.create({
    id: 'github',
    type: 'github',
    issuer: github.origin,
    clientId: 'gh-client',
    clientSecret: 'gh-secret',
  });
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await github?.stop();
});

/** Through "Continue with GitHub" and back; returns where the browser ends and the page it shows. */
async function continueWithGitHub() {
  const browser = createHttpBrowser();
  const params = new URLSearchParams({
    client_id: 'app',
    response_type: 'code',
    scope: 'openid email profile',
    redirect_uri: redirectUri,
    code_challenge: 'c'.repeat(43),
    code_challenge_method: 'S256',
  });
  let response = await browser.get(`${gh.url}/auth?${params}`);
  const login = await (await browser.get(new URL(response.headers.get('location')!, gh.url).href)).text();
  expect(login).toContain('Continue with GitHub');
  response = await browser.post(new URL(formAction(login, '/federation/github'), gh.url).href, {
    csrf: formField(login, 'csrf'),
  });
  for (let hops = 0; hops < 10; hops += 1) {
    const location = response.headers.get('location');
    if (!location) return { end: undefined, html: await response.text(), status: response.status };
    const next = new URL(location, gh.url);
    if (next.href.startsWith(redirectUri)) return { end: next, html: '', status: response.status };
    response = await browser.get(next.href);
  }
  throw new Error('too many redirects');
}

it('creates an account from the GitHub profile and its verified primary email', async () => {
  github.user = {
    id: 1001,
    login: 'octocat',
    name: 'The Octocat',
    emails: [
      { email: 'secondary@example.com', primary: false, verified: true },
      { email: 'octocat@example.com', primary: true, verified: true },
    ],
  };
  const { end } = await continueWithGitHub();
  expect(end?.searchParams.get('code')).toBeTruthy();
  const account = await gh.gatehouse.accounts.findByEmail('octocat@example.com');
  expect(account).toMatchObject({ name: 'The Octocat', emailVerified: true, hasPassword: false });
  const again = await continueWithGitHub();
  expect(again.end?.searchParams.get('code')).toBeTruthy();
  expect(
    (await gh.gatehouse.accounts.list()).filter((entry) => entry.email === 'octocat@example.com'),
  ).toHaveLength(1);
});

it('uses the login when GitHub has no name, and keeps an unverified email unverified', async () => {
  github.user = {
    id: 1002,
    login: 'hubot',
    name: null,
    emails: [{ email: 'hubot@example.com', primary: true, verified: false }],
  };
  await continueWithGitHub();
  expect(await gh.gatehouse.accounts.findByEmail('hubot@example.com')).toMatchObject({
    name: 'hubot',
    emailVerified: false,
  });
});

it('does not link an unverified GitHub email to an existing account', async () => {
  await gh.gatehouse.accounts.create({ email: 'mona@example.com', password: 'the local passphrase' });
  github.user = {
    id: 1003,
    login: 'mona',
    name: 'Mona',
    emails: [{ email: 'mona@example.com', primary: true, verified: false }],
  };
  const { end, html } = await continueWithGitHub();
  expect(end).toBeUndefined();
  expect(html).toContain('has not verified mona@example.com');
  const { rows } = await gh.pool.query('SELECT * FROM linked_identities WHERE subject = $1', ['1003']);
  expect(rows).toEqual([]);
});

it('ends on the login page with other ways to sign in when GitHub does not answer', async () => {
  await gh.gatehouse.identityProviders.create({
    id: 'gone',
    type: 'github',
    issuer: 'http://127.0.0.1:9',
    clientId: 'gh-client',
    clientSecret: 'gh-secret',
    name: 'Gone Hub',
  });
  const browser = createHttpBrowser();
  const params = new URLSearchParams({
    client_id: 'app',
    response_type: 'code',
    scope: 'openid',
    redirect_uri: redirectUri,
    code_challenge: 'c'.repeat(43),
    code_challenge_method: 'S256',
  });
  const start = await browser.get(`${gh.url}/auth?${params}`);
  const interaction = new URL(start.headers.get('location')!, gh.url).href;
  const login = await (await browser.get(interaction)).text();
  // The authorize step is a redirect (GitHub is not called yet); the code exchange is where it fails.
  const redirect = await browser.post(new URL(formAction(login, '/federation/gone'), gh.url).href, {
    csrf: formField(login, 'csrf'),
  });
  const authorize = new URL(redirect.headers.get('location')!);
  const callback = await browser.get(
    `${gh.url}/federation/gone/callback?code=x&state=${authorize.searchParams.get('state')}`,
  );
  const page = await (await browser.get(new URL(callback.headers.get('location')!, gh.url).href)).text();
  expect(page).toContain('Gone Hub did not answer');
  expect(page).toContain('name="password"');
  expect(page).toContain('Continue with GitHub');
});
