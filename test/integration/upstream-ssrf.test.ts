/**
 * Upstream identity providers and the private-address guard (hardening item 5): in production Gatehouse calls no
 * upstream URL that is, or resolves to, a loopback, private or other special-use address (discovery, token,
 * userinfo, JWKS, GitHub's API) unless `outgoing.allowHosts` lists its `host:port`, the rule oidc-provider's own
 * requests (back-channel logout, jwks_uri) already follow. Otherwise whoever can register an upstream, or change
 * what it publishes, makes Gatehouse fetch what only Gatehouse can reach (SSRF): cloud metadata at
 * 169.254.169.254, admin ports on loopback, the private network.
 *
 * All traffic stays on loopback. The "internal service" is a server on 127.0.0.1 that counts every connection made
 * to it. Production refuses http issuers at registration, and nothing on loopback has a certificate Gatehouse
 * trusts, so most upstreams here are written the way a compromised configuration would be (through the library
 * without production's issuer check) with http URLs; the guard is below the scheme, and the registration test
 * shows https to the same address refused alike.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { createFederationQueries } from '../../src/queries/federation-queries.ts';
import {
  createIdentityProviderLibrary,
  type NewIdentityProvider,
} from '../../src/libraries/identity-providers.ts';
import { createSecretBox } from '../../src/libraries/secret-box.ts';
import { startGitHubDouble } from '../support/github-double.ts';
import { createHttpBrowser, formAction, formField, type HttpBrowser } from '../support/http-sign-in.ts';
import { startTestGatehouse, testSecret, type TestGatehouse } from '../support/test-gatehouse.ts';

// Production mode refuses to start without these; the test Gatehouse brings its own pool and hot store.
const productionConfig = {
  production: true,
  databaseUrl: 'postgres://unused.invalid/unused',
  redisUrl: 'redis://unused.invalid:6379',
};
const redirectUri = 'http://127.0.0.1:9/cb';

interface Recorder {
  origin: string;
  port: number;
  /** Connections made to it (a refused request makes none), and the requests it was sent. */
  connections: number;
  requests: string[];
  stop(): Promise<void>;
}

/** A loopback HTTP server that records who reached it, answering `answer` (by default 404). */
async function startRecorder(
  answer: (url: URL, origin: string) => unknown = () => undefined,
): Promise<Recorder> {
  const recorder: Recorder = {
    origin: '',
    port: 0,
    connections: 0,
    requests: [],
    stop: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    recorder.requests.push(`${req.method} ${req.url}`);
    const body = answer(new URL(req.url ?? '/', recorder.origin), recorder.origin);
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  server.on('connection', () => (recorder.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  recorder.port = (server.address() as AddressInfo).port;
  recorder.origin = `http://127.0.0.1:${recorder.port}`;
  recorder.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return recorder;
}

async function registerApp(gatehouse: TestGatehouse) {
  await gatehouse.gatehouse.clients.create({
    id: 'app',
    secret: 'app-secret-0123456789',
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code'],
    public: false,
    firstParty: true,
  });
}

/**
 * An upstream written to the database without production's https check, as a compromised configuration (or a
 * direct database write) would; then waits until the running Gatehouse sees it.
 */
async function registerUnchecked(gatehouse: TestGatehouse, input: NewIdentityProvider) {
  await createIdentityProviderLibrary({
    queries: createFederationQueries(gatehouse.pool),
    secretBox: createSecretBox(testSecret),
    issuer: gatehouse.config.issuer,
    production: false,
  }).create(input);
  for (let tries = 0; tries < 50; tries += 1) {
    if ((await gatehouse.gatehouse.identityProviders.listEnabled()).some((entry) => entry.id === input.id))
      return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Gatehouse did not see the upstream ${input.id}`);
}

/** Follows Gatehouse's redirects (never to another origin) until a page, or the app's redirect URI. */
async function follow(gatehouse: TestGatehouse, browser: HttpBrowser, first: Response) {
  let response = first;
  for (let hops = 0; hops < 12; hops += 1) {
    const location = response.headers.get('location');
    if (!location) return { html: await response.text(), status: response.status, at: undefined };
    const next = new URL(location, gatehouse.url);
    if (next.origin !== gatehouse.url) return { html: '', status: response.status, at: next };
    response = await browser.get(next.href);
  }
  throw new Error('too many redirects');
}

/** "Continue with <idp>" on the login page: where Gatehouse sends the browser, or the page it shows instead. */
async function continueWith(gatehouse: TestGatehouse, idp: string) {
  const browser = createHttpBrowser();
  const params = new URLSearchParams({
    client_id: 'app',
    response_type: 'code',
    scope: 'openid email profile',
    redirect_uri: redirectUri,
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const login = await follow(gatehouse, browser, await browser.get(`${gatehouse.url}/auth?${params}`));
  const started = await browser.post(
    new URL(formAction(login.html, `/federation/${idp}?`), gatehouse.url).href,
    {
      csrf: formField(login.html, 'csrf'),
    },
  );
  return { browser, ...(await follow(gatehouse, browser, started)) };
}

/** The upstream sending the browser back with a code, as it would after the person approved. */
async function callbackFromUpstream(
  gatehouse: TestGatehouse,
  idp: string,
  authorization: URL,
  browser: HttpBrowser,
) {
  const state = authorization.searchParams.get('state')!;
  const response = await browser.get(
    `${gatehouse.url}/federation/${idp}/callback?${new URLSearchParams({ code: 'a-code', state })}`,
  );
  return follow(gatehouse, browser, response);
}

describe('in production, without outgoing.allowHosts for the internal service', () => {
  let internal: Recorder;
  let discoveryDouble: Recorder;
  let gatehouse: TestGatehouse;

  beforeAll(async () => {
    internal = await startRecorder(() => ({ access_token: 'x', token_type: 'bearer' }));
    // A public-looking upstream (allowed here) whose discovery document sends the token, userinfo and JWKS
    // requests to the internal service.
    discoveryDouble = await startRecorder((url, origin) =>
      url.pathname === '/.well-known/openid-configuration'
        ? {
            issuer: origin,
            authorization_endpoint: `${origin}/authorize`,
            token_endpoint: `${internal.origin}/token`,
            userinfo_endpoint: `${internal.origin}/userinfo`,
            jwks_uri: `${internal.origin}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['RS256'],
          }
        : undefined,
    );
    gatehouse = await startTestGatehouse({
      config: { ...productionConfig, outgoing: { allowHosts: [`127.0.0.1:${discoveryDouble.port}`] } },
    });
    await registerApp(gatehouse);
    await registerUnchecked(gatehouse, {
      id: 'internal',
      type: 'oidc',
      issuer: internal.origin,
      clientId: 'c',
      clientSecret: 's',
      name: 'Internal',
    });
    await registerUnchecked(gatehouse, {
      id: 'github-internal',
      type: 'github',
      issuer: internal.origin,
      clientId: 'gh-client',
      clientSecret: 'gh-secret',
      name: 'GitHub Enterprise',
    });
    await registerUnchecked(gatehouse, {
      id: 'pointing-inside',
      type: 'oidc',
      issuer: discoveryDouble.origin,
      clientId: 'c',
      clientSecret: 's',
      name: 'Pointing Inside',
    });
  }, 60_000);

  afterAll(async () => {
    await gatehouse?.close();
    await internal?.stop();
    await discoveryDouble?.stop();
  });

  beforeEach(() => {
    internal.connections = 0;
    internal.requests = [];
  });

  it('stops an upstream registered at a private address from making Gatehouse fetch internal services (SSRF) in production', async () => {
    const flow = await continueWith(gatehouse, 'internal');
    expect(flow.at).toBeUndefined();
    expect(flow.html).toContain('Internal cannot be reached right now');
    expect(internal.requests).toEqual([]);
    expect(internal.connections).toBe(0);
  });

  it('stops a GitHub upstream at a private address from making Gatehouse post the code to internal services (SSRF) in production', async () => {
    const flow = await continueWith(gatehouse, 'github-internal');
    // Building GitHub's authorization URL needs no request; the browser is sent there.
    expect(flow.at?.href).toMatch(new RegExp(`^${internal.origin}/login/oauth/authorize\\?`));
    const back = await callbackFromUpstream(gatehouse, 'github-internal', flow.at!, flow.browser);
    expect(back.html).toContain('GitHub Enterprise did not answer');
    expect(internal.requests).toEqual([]);
    expect(internal.connections).toBe(0);
  });

  it('stops a discovery document from pointing Gatehouse’s token request at internal services (SSRF) in production', async () => {
    const flow = await continueWith(gatehouse, 'pointing-inside');
    // Discovery went out: the upstream's own host is in outgoing.allowHosts.
    expect(discoveryDouble.requests).toContain('GET /.well-known/openid-configuration');
    expect(flow.at?.href).toMatch(new RegExp(`^${discoveryDouble.origin}/authorize\\?`));
    const back = await callbackFromUpstream(gatehouse, 'pointing-inside', flow.at!, flow.browser);
    expect(back.html).toContain('Pointing Inside did not answer');
    expect(internal.requests).toEqual([]);
    expect(internal.connections).toBe(0);
  });

  it('stops an operator registering an upstream at a private address from making Gatehouse fetch it (SSRF) in production', async () => {
    await expect(
      gatehouse.gatehouse.identityProviders.create({
        id: 'registered-inside',
        type: 'oidc',
        issuer: `https://127.0.0.1:${internal.port}`,
        clientId: 'c',
        clientSecret: 's',
      }),
    ).rejects.toThrow(/127\.0\.0\.1 is a special-use address/);
    expect(internal.connections).toBe(0);
  });
});

describe('in production, with the upstream in outgoing.allowHosts', () => {
  let github: Awaited<ReturnType<typeof startGitHubDouble>>;
  let gatehouse: TestGatehouse;

  beforeAll(async () => {
    github = await startGitHubDouble();
    gatehouse = await startTestGatehouse({
      config: { ...productionConfig, outgoing: { allowHosts: [new URL(github.origin).host] } },
    });
    await registerApp(gatehouse);
    await registerUnchecked(gatehouse, {
      id: 'github',
      type: 'github',
      issuer: github.origin,
      clientId: 'gh-client',
      clientSecret: 'gh-secret',
    });
  }, 60_000);

  afterAll(async () => {
    await gatehouse?.close();
    await github?.stop();
  });

  it('signs people in through an upstream on a private address the operator allowed', async () => {
    github.user = {
      id: 4242,
      login: 'allowed',
      name: 'Allowed Person',
      emails: [{ email: 'allowed@example.com', primary: true, verified: true }],
    };
    const flow = await continueWith(gatehouse, 'github');
    expect(flow.at?.origin).toBe(github.origin);
    // The double approves at once and sends the browser back with a code.
    const approved = await flow.browser.get(flow.at!.href);
    const back = await follow(gatehouse, flow.browser, approved);
    expect(back.at?.href.startsWith(redirectUri)).toBe(true);
    expect(back.at?.searchParams.get('code')).toBeTruthy();
    expect(await gatehouse.gatehouse.accounts.findByEmail('allowed@example.com')).toMatchObject({
      name: 'Allowed Person',
    });
  });
});
