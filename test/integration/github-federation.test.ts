import * as oidc from 'openid-client';
import { totpCodeAt } from '../../src/libraries/totp.ts';
import { createHttpBrowser, formAction, formField, type HttpBrowser } from '../support/http-sign-in.ts';
import { startGitHubDouble } from '../support/github-double.ts';
import { discoverAsClient } from '../support/relying-party.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/** The GitHub preset against a local double of GitHub: profile and verified-email mapping. */
let gh: TestGatehouse;
let github: Awaited<ReturnType<typeof startGitHubDouble>>;
let rp: oidc.Configuration;
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
  rp = await discoverAsClient(gh.url, 'app', 'app-secret-0123456789');
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await github?.stop();
});

/** Follows redirects to the app's redirect URI (`end`) or to a page (`html`). */
async function follow(browser: HttpBrowser, first: Response) {
  let response = first;
  for (let hops = 0; hops < 12; hops += 1) {
    const location = response.headers.get('location');
    if (!location) return { end: undefined, html: await response.text(), status: response.status };
    const next = new URL(location, gh.url);
    if (next.href.startsWith(redirectUri)) return { end: next, html: '', status: response.status };
    response = await browser.get(next.href);
  }
  throw new Error('too many redirects');
}

/** Through "Continue with <idp>" and back; returns where the browser ends and the page it shows. */
async function continueWithGitHub(idp = 'github') {
  const browser = createHttpBrowser();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const params = new URLSearchParams({
    client_id: 'app',
    response_type: 'code',
    scope: 'openid email profile',
    redirect_uri: redirectUri,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  const response = await browser.get(`${gh.url}/auth?${params}`);
  const login = await (await browser.get(new URL(response.headers.get('location')!, gh.url).href)).text();
  expect(login).toContain('Continue with GitHub');
  const started = await browser.post(new URL(formAction(login, `/federation/${idp}?`), gh.url).href, {
    csrf: formField(login, 'csrf'),
  });
  return { browser, codeVerifier, ...(await follow(browser, started)) };
}

/** What the app learns from the code it got: the ID token's claims. */
async function idTokenClaims(flow: { end: URL | undefined; codeVerifier: string }) {
  expect(flow.end?.searchParams.get('code')).toBeTruthy();
  const tokens = await oidc.authorizationCodeGrant(rp, flow.end!, { pkceCodeVerifier: flow.codeVerifier });
  return tokens.claims()!;
}

/** The account an upstream identity is linked to, if any. */
async function linkedAccount(idp: string, subject: number): Promise<string | undefined> {
  const { rows } = await gh.pool.query<{ account_id: string }>(
    'SELECT account_id FROM linked_identities WHERE idp_id = $1 AND subject = $2',
    [idp, String(subject)],
  );
  return rows[0]?.account_id;
}

async function rolesOf(accountId: string): Promise<{ role_name: string; granted_by_idp: string | null }[]> {
  const { rows } = await gh.pool.query<{ role_name: string; granted_by_idp: string | null }>(
    'SELECT role_name, granted_by_idp FROM account_roles WHERE account_id = $1 ORDER BY role_name',
    [accountId],
  );
  return rows;
}

/** Another registration of the same GitHub double, with its own link policy and rules. */
async function registerGitHub(
  id: string,
  options: {
    linkPolicy?: 'confirm' | 'auto' | 'never';
    trustEmail?: boolean;
    roleRules?: { claim: string; value: string; role: string }[];
  },
) {
  await gh.gatehouse.identityProviders.create({
    id,
    type: 'github',
    issuer: github.origin,
    clientId: 'gh-client',
    clientSecret: 'gh-secret',
    name: `GitHub (${id})`,
    ...options,
  });
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

it('uses the login when GitHub has no name, and gives an unverified email to nobody', async () => {
  github.user = {
    id: 1002,
    login: 'hubot',
    name: null,
    emails: [{ email: 'hubot@example.com', primary: true, verified: false }],
  };
  const claims = await idTokenClaims(await continueWithGitHub());
  // The account has no address: a placeholder no one can receive mail at, which relying parties never see.
  expect(claims.email).toBeUndefined();
  expect(claims.email_verified).toBeUndefined();
  expect(await gh.gatehouse.accounts.findByEmail('hubot@example.com')).toBeUndefined();
  expect(await gh.gatehouse.accounts.findById(claims.sub)).toMatchObject({
    name: 'hubot',
    email: 'github-1002@users.noreply.invalid',
    emailVerified: false,
  });
});

it('does not link an unverified GitHub email to an existing account, nor ask for its password', async () => {
  const mona = await gh.gatehouse.accounts.create({
    email: 'mona@example.com',
    password: 'the local passphrase',
  });
  github.user = {
    id: 1003,
    login: 'mona',
    name: 'Mona',
    emails: [{ email: 'mona@example.com', primary: true, verified: false }],
  };
  const flow = await continueWithGitHub();
  expect(flow.html).not.toContain('mona@example.com');
  // The sign-in makes an account of its own: the address matched nothing, so nothing was offered or linked.
  const claims = await idTokenClaims(flow);
  expect(claims.sub).not.toBe(mona.id);
  expect(claims.email).toBeUndefined();
  expect(await linkedAccount('github', 1003)).toBe(claims.sub);
  const { rows } = await gh.pool.query('SELECT * FROM linked_identities WHERE account_id = $1', [mona.id]);
  expect(rows).toEqual([]);
});

it('stops an address squatter: the owner of an email a GitHub user claimed unverified is never put in their account', async () => {
  await registerGitHub('gh-trusted', { linkPolicy: 'auto', trustEmail: true });
  // The squatter adds the CEO's address to their GitHub account; GitHub's answer does not say it is verified.
  github.user = {
    id: 2001,
    login: 'squatter',
    name: 'Not The CEO',
    emails: [{ email: 'ceo@example.com', primary: true }],
  };
  const squatter = await idTokenClaims(await continueWithGitHub());
  expect(squatter.email).toBeUndefined();
  expect(await gh.gatehouse.accounts.findByEmail('ceo@example.com')).toBeUndefined();

  // The owner signs in later through an upstream trusted with emails (link policy `auto`), address verified.
  github.user = {
    id: 2002,
    login: 'ceo',
    name: 'The CEO',
    emails: [{ email: 'ceo@example.com', primary: true, verified: true }],
  };
  const owner = await idTokenClaims(await continueWithGitHub('gh-trusted'));
  expect(owner.sub).not.toBe(squatter.sub);
  expect(owner).toMatchObject({ email: 'ceo@example.com', email_verified: true });
  expect(await linkedAccount('gh-trusted', 2002)).toBe(owner.sub);
});

it('stops auto-linking on the word of an upstream nobody vouched for: the account password is asked instead', async () => {
  await registerGitHub('gh-auto', { linkPolicy: 'auto' });
  const dana = await gh.gatehouse.accounts.create({
    email: 'dana@example.com',
    password: 'a local passphrase for D',
    emailVerified: true,
  });
  github.user = {
    id: 3001,
    login: 'dana',
    name: 'Dana',
    emails: [{ email: 'dana@example.com', primary: true, verified: true }],
  };
  const untrusted = await continueWithGitHub('gh-auto');
  expect(untrusted.end).toBeUndefined();
  expect(untrusted.html).toContain('Sign in with your password once to link it to GitHub (gh-auto)');
  expect(await linkedAccount('gh-auto', 3001)).toBeUndefined();

  // Trusted with emails, but the account's own address was never verified: nobody has shown it is theirs.
  const erin = await gh.gatehouse.accounts.create({
    email: 'erin@example.com',
    password: 'a local passphrase for E',
  });
  github.user = {
    id: 3002,
    login: 'erin',
    name: 'Erin',
    emails: [{ email: 'erin@example.com', primary: true, verified: true }],
  };
  const unverifiedLocal = await continueWithGitHub('gh-trusted');
  expect(unverifiedLocal.html).toContain('Sign in with your password once to link it');
  expect(await linkedAccount('gh-trusted', 3002)).toBeUndefined();
  expect(erin.emailVerified).toBe(false);

  // Trusted upstream, verified on both sides: linked at once.
  github.user = {
    ...github.user,
    id: 3003,
    emails: [{ email: 'dana@example.com', primary: true, verified: true }],
  };
  const trusted = await idTokenClaims(await continueWithGitHub('gh-trusted'));
  expect(trusted.sub).toBe(dana.id);
  expect(await linkedAccount('gh-trusted', 3003)).toBe(dana.id);
});

it('stops a password alone from confirming a link to an account with a second factor', async () => {
  const fay = await gh.gatehouse.accounts.create({
    email: 'fay@example.com',
    password: 'fay local passphrase',
  });
  const { secret } = await gh.gatehouse.mfa.provision(fay);
  github.user = {
    id: 4001,
    login: 'fay',
    name: 'Fay',
    emails: [{ email: 'fay@example.com', primary: true, verified: true }],
  };
  const flow = await continueWithGitHub();
  expect(flow.html).toContain('Sign in with your password once to link it to GitHub');
  const afterPassword = await follow(
    flow.browser,
    await flow.browser.post(new URL(formAction(flow.html, '/login?'), gh.url).href, {
      csrf: formField(flow.html, 'csrf'),
      email: 'fay@example.com',
      password: 'fay local passphrase',
    }),
  );
  expect(afterPassword.html).toContain('Two-step verification');
  // Whoever knows the password but not the code (and stops here) has linked nothing.
  expect(await linkedAccount('github', 4001)).toBeUndefined();

  const done = await follow(
    flow.browser,
    await flow.browser.post(new URL(formAction(afterPassword.html, '/mfa?'), gh.url).href, {
      csrf: formField(afterPassword.html, 'csrf'),
      code: await totpCodeAt(secret, Math.floor(Date.now() / 1000)),
    }),
  );
  const claims = await idTokenClaims({ end: done.end, codeVerifier: flow.codeVerifier });
  expect(claims).toMatchObject({ sub: fay.id, amr: ['pwd', 'otp', 'mfa'] });
  expect(await linkedAccount('github', 4001)).toBe(fay.id);
});

it('stops a link offer from skipping the account password through the second-factor step', async () => {
  const gus = await gh.gatehouse.accounts.create({
    email: 'gus@example.com',
    password: 'gus local passphrase',
  });
  github.user = {
    id: 4002,
    login: 'gus',
    name: 'Gus',
    emails: [{ email: 'gus@example.com', primary: true, verified: true }],
  };
  const flow = await continueWithGitHub();
  expect(flow.html).toContain('Sign in with your password once to link it');
  // Straight to the second-factor page instead: it must not offer to set up an authenticator for Gus's account.
  const mfaPage = new URL(formAction(flow.html, '/login?').replace('/login?', '/mfa?'), gh.url).href;
  const response = await flow.browser.get(mfaPage);
  expect([302, 303]).toContain(response.status);
  expect(await response.text()).not.toContain('Set up two-step verification');
  const { rows } = await gh.pool.query('SELECT 1 FROM totp_factors WHERE account_id = $1', [gus.id]);
  expect(rows).toEqual([]);
  expect(await linkedAccount('github', 4002)).toBeUndefined();
});

it('refuses to offer a link to an account that has no password to confirm it with', async () => {
  // octocat@example.com came from the first test: an account made by a GitHub sign-in, without a password.
  github.user = {
    id: 4003,
    login: 'octo-elsewhere',
    name: 'Octo',
    emails: [{ email: 'octocat@example.com', primary: true, verified: true }],
  };
  const flow = await continueWithGitHub('gh-auto');
  expect(flow.end).toBeUndefined();
  expect(flow.html).toContain('has no password to confirm a link to GitHub (gh-auto) with');
  expect(flow.html).toContain('name="password"');
  expect(await linkedAccount('gh-auto', 4003)).toBeUndefined();
});

it('takes back a role its rule gave once the upstream stops saying so, never an operator’s', async () => {
  await gh.gatehouse.rbac.createRole('gh-staff');
  await gh.gatehouse.rbac.createRole('auditor');
  await registerGitHub('gh-roles', { roleRules: [{ claim: 'site_admin', value: 'true', role: 'gh-staff' }] });
  github.user = {
    id: 5001,
    login: 'hal',
    name: 'Hal',
    site_admin: true,
    emails: [{ email: 'hal@example.com', primary: true, verified: true }],
  };
  const hal = (await idTokenClaims(await continueWithGitHub('gh-roles'))).sub;
  expect(await rolesOf(hal)).toEqual([{ role_name: 'gh-staff', granted_by_idp: 'gh-roles' }]);
  await gh.gatehouse.rbac.assignToAccount(hal, 'auditor');

  // No longer a site admin upstream: the rule's role goes at the next sign-in, the operator's stays.
  github.user = { ...github.user, site_admin: false };
  await idTokenClaims(await continueWithGitHub('gh-roles'));
  expect(await rolesOf(hal)).toEqual([{ role_name: 'auditor', granted_by_idp: null }]);
  const events = await gh.gatehouse.audit.list({
    since: new Date(Date.now() - 60_000),
    type: 'federation.roles_changed',
    accountId: hal,
  });
  expect(events.map((event) => event.details)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ idp: 'gh-roles', granted: [], removed: ['gh-staff'] }),
      expect.objectContaining({ idp: 'gh-roles', granted: ['gh-staff'], removed: [] }),
    ]),
  );

  // A role an operator assigns over a rule's grant is the operator's from then on.
  github.user = { ...github.user, site_admin: true };
  await idTokenClaims(await continueWithGitHub('gh-roles'));
  await gh.gatehouse.rbac.assignToAccount(hal, 'gh-staff');
  github.user = { ...github.user, site_admin: false };
  await idTokenClaims(await continueWithGitHub('gh-roles'));
  expect(await rolesOf(hal)).toEqual([
    { role_name: 'auditor', granted_by_idp: null },
    { role_name: 'gh-staff', granted_by_idp: null },
  ]);
});

it('stops a self-chosen GitHub login or an unverified email from granting a role', async () => {
  await gh.gatehouse.rbac.createRole('gh-owner');
  await expect(
    registerGitHub('gh-login', { roleRules: [{ claim: 'login', value: 'octocat', role: 'gh-owner' }] }),
  ).rejects.toThrow('"login"');
  // A rule stored before such rules were refused is not applied either, and says so in the audit log.
  await registerGitHub('gh-legacy', {
    roleRules: [{ claim: 'email', value: 'boss@example.com', role: 'gh-owner' }],
  });
  await gh.pool.query('UPDATE identity_providers SET role_rules = $2 WHERE id = $1', [
    'gh-legacy',
    JSON.stringify([
      { claim: 'login', value: 'the-boss', role: 'gh-owner' },
      { claim: 'email', value: 'boss@example.com', role: 'gh-owner' },
    ]),
  ]);
  // Anyone can rename themselves `the-boss` on GitHub (a login given up is free) and type the boss's address.
  github.user = {
    id: 6001,
    login: 'the-boss',
    name: 'The Boss',
    emails: [{ email: 'boss@example.com', primary: true, verified: false }],
  };
  const impostor = (await idTokenClaims(await continueWithGitHub('gh-legacy'))).sub;
  expect(await rolesOf(impostor)).toEqual([]);
  const events = await gh.gatehouse.audit.list({
    since: new Date(Date.now() - 60_000),
    type: 'federation.roles_changed',
    accountId: impostor,
  });
  expect(events[0]?.details).toMatchObject({
    idp: 'gh-legacy',
    ignored: [expect.objectContaining({ claim: 'login', role: 'gh-owner' })],
  });

  // The same address, verified by GitHub: now the rule may read it.
  github.user = {
    ...github.user,
    id: 6002,
    emails: [{ email: 'boss@example.com', primary: true, verified: true }],
  };
  const boss = (await idTokenClaims(await continueWithGitHub('gh-legacy'))).sub;
  expect(await rolesOf(boss)).toEqual([{ role_name: 'gh-owner', granted_by_idp: 'gh-legacy' }]);
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
