import fc from 'fast-check';
import * as oidc from 'openid-client';
import { checkAnswer, hostileJson, hostileParams, hostileString } from '../support/hostile-input.ts';
import { runCli } from '../support/gatehouse-process.ts';
import { createHttpBrowser, formAction, formField } from '../support/http-sign-in.ts';
import { startTestGatehouse, testSecret, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * Property-based bad input (fast-check) against every kind of endpoint: the protocol, the sign-in forms, the
 * account page, the admin API and the CLI. Whatever arrives, the answer is a 4xx shaped like its format (OAuth
 * JSON error, or a page), never a 5xx or a stack trace, and nothing half-written is left in Postgres.
 */
let gh: TestGatehouse;
let adminToken: string;
const basic = `Basic ${Buffer.from('app:app-secret-0123456789').toString('base64')}`;
const runs = Number(process.env.FUZZ_RUNS ?? 60);
const counted: Record<string, number> = {};

beforeAll(async () => {
  gh = await startTestGatehouse();
  await gh.gatehouse.accounts.create({ email: 'fuzz@example.com', password: 'property based passphrase' });
  await gh.gatehouse.clients.create({
    id: 'app',
    secret: 'app-secret-0123456789',
    redirectUris: ['http://127.0.0.1:9/cb'],
    postLogoutRedirectUris: ['http://127.0.0.1:9/'],
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
  const ops = await oidc.discovery(
    new URL(gh.url),
    'ops',
    undefined,
    oidc.ClientSecretBasic('ops-secret-0123456789'),
    { execute: [oidc.allowInsecureRequests] },
  );
  adminToken = (await oidc.clientCredentialsGrant(ops, { resource: `${gh.url}/admin` })).access_token;
}, 60_000);

afterAll(async () => {
  // The number of cases each property ran, for the record.
  console.info(`fuzz cases run: ${JSON.stringify(counted)}`);
  await gh?.close();
});

const encode = (params: [string, string][]) => {
  const search = new URLSearchParams();
  for (const [name, value] of params) search.append(name, value);
  return search.toString();
};

async function property<T>(name: string, arbitrary: fc.Arbitrary<T>, check: (value: T) => Promise<void>) {
  counted[name] = 0;
  await fc.assert(
    fc.asyncProperty(arbitrary, async (value) => {
      counted[name] = (counted[name] ?? 0) + 1;
      await check(value);
    }),
    { numRuns: runs },
  );
}

const protocolParams = [
  'client_id',
  'response_type',
  'scope',
  'redirect_uri',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'max_age',
  'acr_values',
  'resource',
  'request_uri',
  'login_hint',
  'id_token_hint',
  'claims',
  'request',
];
const tokenParams = [
  'grant_type',
  'code',
  'redirect_uri',
  'code_verifier',
  'refresh_token',
  'scope',
  'resource',
  'client_id',
  'client_secret',
  'device_code',
  'client_assertion',
  'client_assertion_type',
];

describe('the protocol endpoints', () => {
  it('answer any authorization request with an error page or an OAuth error redirect', async () => {
    await property('authorization', hostileParams(protocolParams), async (params) => {
      await checkAnswer(
        await fetch(`${gh.url}/auth?${encode(params)}`, {
          redirect: 'manual',
          headers: { accept: 'text/html' },
        }),
        `/auth ${encode(params).slice(0, 200)}`,
      );
    });
  });

  it('answer any token request with an OAuth error', async () => {
    await property(
      'token',
      fc.tuple(hostileParams(tokenParams), fc.constantFrom(basic, undefined, 'Basic !!!', 'Bearer x')),
      async ([params, authorization]) => {
        const response = await fetch(`${gh.url}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            ...(authorization ? { authorization } : {}),
          },
          body: encode(params),
        });
        await checkAnswer(response, `/token ${encode(params).slice(0, 200)}`);
      },
    );
  });

  it('answer any introspection, revocation, userinfo, PAR, logout and device request', async () => {
    await property(
      'introspection/revocation/userinfo/par/logout/device',
      fc.tuple(
        fc.constantFrom(
          '/token/introspection',
          '/token/revocation',
          '/me',
          '/request',
          '/session/end',
          '/session/end/confirm',
          '/device',
          '/device/auth',
        ),
        hostileParams([
          ...tokenParams,
          'token',
          'token_type_hint',
          'post_logout_redirect_uri',
          'user_code',
          'xsrf',
          'logout',
        ]),
        fc.constantFrom(basic, undefined, `Bearer ${'a'.repeat(43)}`, 'DPoP x'),
      ),
      async ([path, params, authorization]) => {
        const response = await fetch(`${gh.url}${path}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
            ...(authorization ? { authorization } : {}),
          },
          body: encode(params),
        });
        await checkAnswer(response, `${path} ${encode(params).slice(0, 200)}`);
      },
    );
  });
});

describe('the sign-in pages', () => {
  it('answer any login form, in a real interaction or not, with a page', async () => {
    const browser = createHttpBrowser();
    const start = await browser.get(
      `${gh.url}/auth?${new URLSearchParams({ client_id: 'app', response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:9/cb', code_challenge: 'c'.repeat(43), code_challenge_method: 'S256' })}`,
    );
    const html = await (await browser.get(new URL(start.headers.get('location')!, gh.url).href)).text();
    const action = new URL(formAction(html, '/login'), gh.url).href;
    const csrf = formField(html, 'csrf');
    await property(
      'interaction forms',
      fc.tuple(
        hostileParams(['email', 'password', 'csrf', 'remember', 'code']),
        fc.boolean(),
        fc.constantFrom('login', 'mfa', 'confirm', 'abort', 'mfa/enroll'),
      ),
      async ([params, withCsrf, step]) => {
        const target = step === 'login' ? action : action.replace('/login', `/${step}`);
        const body = encode(withCsrf ? [['csrf', csrf], ...params] : params);
        const response = await fetch(target, {
          method: 'POST',
          redirect: 'manual',
          headers: {
            cookie: browser.jar.header(),
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'text/html',
          },
          body,
        });
        await checkAnswer(response, `${step} ${body.slice(0, 200)}`);
      },
    );
  });

  it('answer any account page request', async () => {
    await property(
      'account',
      fc.tuple(
        fc.constantFrom(
          '/account/login',
          '/account/callback',
          '/account/logout',
          '/account/mfa/confirm',
          '/account/password',
          '/account/sessions/x/revoke',
        ),
        hostileParams(['return_to', 'code', 'state', 'iss', 'error', 'csrf']),
      ),
      async ([path, params]) => {
        const method = path === '/account/login' || path === '/account/callback' ? 'GET' : 'POST';
        const query = method === 'GET' ? `?${encode(params)}` : '';
        const response = await fetch(`${gh.url}${path}${query}`, {
          method,
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
          ...(method === 'POST' ? { body: encode(params) } : {}),
        });
        await checkAnswer(response, `${path} ${encode(params).slice(0, 200)}`);
      },
    );
  });
});

describe('the admin API', () => {
  const tables = ['accounts', 'roles', 'clients', 'api_resources'] as const;
  const count = async () =>
    Object.fromEntries(
      await Promise.all(
        tables.map(async (table) => [
          table,
          Number((await gh.pool.query<{ count: string }>(`SELECT count(*) FROM ${table}`)).rows[0]!.count),
        ]),
      ),
    );

  it('answers any body with 2xx or a 4xx naming the problem, and writes only whole records', async () => {
    const before = await count();
    const created: Record<string, number> = { accounts: 0, roles: 0, clients: 0, api_resources: 0 };
    const routes = [
      { path: '/users', table: 'accounts', fields: ['email', 'password', 'name', 'roles', 'emailVerified'] },
      { path: '/roles', table: 'roles', fields: ['name', 'permissions', 'description'] },
      {
        path: '/clients',
        table: 'clients',
        fields: [
          'id',
          'name',
          'secret',
          'redirectUris',
          'grantTypes',
          'public',
          'firstParty',
          'roles',
          'scope',
          'backchannelLogoutUri',
          'mfaRequired',
        ],
      },
      {
        path: '/apis',
        table: 'api_resources',
        fields: ['identifier', 'permissions', 'format', 'accessTokenTtl'],
      },
    ] as const;
    await property(
      'admin API',
      fc.tuple(
        fc.constantFrom(...routes),
        hostileJson([
          'email',
          'password',
          'name',
          'roles',
          'permissions',
          'id',
          'redirectUris',
          'identifier',
          'status',
        ]),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
      ),
      async ([route, body, type]) => {
        const response = await fetch(`${gh.url}/admin/api${route.path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': type },
          body: JSON.stringify(body),
        });
        if (response.status === 201) created[route.table] = (created[route.table] ?? 0) + 1;
        await checkAnswer(response, `POST ${route.path} ${JSON.stringify(body).slice(0, 200)}`);
      },
    );
    await property(
      'admin API updates',
      fc.tuple(
        fc.constantFrom('/users/x', '/clients/app', '/roles/admin'),
        hostileJson(['name', 'status', 'emailVerified', 'redirectUris', 'mfaRequired']),
      ),
      async ([path, body]) => {
        await checkAnswer(
          await fetch(`${gh.url}/admin/api${path}`, {
            method: 'PATCH',
            headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          }),
          `PATCH ${path}`,
        );
      },
    );
    const after = await count();
    for (const table of tables) expect(after[table]).toBe(before[table] + created[table]!);
    const { rows } = await gh.pool.query<{ orphans: string }>(
      `SELECT count(*) AS orphans FROM role_permissions rp LEFT JOIN roles r ON r.name = rp.role_name WHERE r.name IS NULL`,
    );
    expect(Number(rows[0]!.orphans)).toBe(0);
  });
});

describe('the CLI', () => {
  it('answers bad arguments with exit code 2 and a message, never a stack trace', async () => {
    const env = {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      DATABASE_URL: gh.database.url,
      GATEHOUSE_SECRET: testSecret,
    };
    const commands = [
      ['user', 'create', '--email'],
      ['user', 'create', '--password', 'long enough passphrase', '--email'],
      ['client', 'create', '--redirect-uri', 'https://x.example.com/cb', '--id'],
      ['role', 'create'],
      ['api', 'create', '--identifier'],
      ['keys', 'rotate', '--activate-in'],
      ['audit', '--since'],
      ['explain', '--permission', 'x', '--email'],
    ];
    counted.cli = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...commands),
        fc
          .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
          .filter((value) => !value.startsWith('-') && !value.includes('\u0000')),
        async (command, value) => {
          counted.cli = (counted.cli ?? 0) + 1;
          const result = await runCli([...command, value], env);
          expect([0, 2]).toContain(result.code);
          expect(result.stderr).not.toMatch(/\n\s+at \S+ \(|node:internal/);
          if (result.code === 2) expect(result.stderr).toMatch(/^gatehouse: |error: /);
        },
      ),
      { numRuns: Math.max(8, Math.floor(runs / 6)) },
    );
  }, 240_000);
});

it('keeps a value of every hostile kind out of storage without a 500', async () => {
  await property('hostile strings at the login', hostileString, async (value) => {
    // A lone surrogate cannot be percent-encoded; the browser would send U+FFFD in its place.
    const wellFormed = value.toWellFormed();
    const response = await fetch(
      `${gh.url}/interaction/${encodeURIComponent(wellFormed.slice(0, 100))}/login`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `email=${encodeURIComponent(wellFormed)}`,
      },
    );
    await checkAnswer(response, 'login with hostile value');
  });
});
