import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { freePort, startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import { authorizeOverHttp, createHttpBrowser } from '../support/http-sign-in.ts';

/**
 * `@gatehouse/guard` as an API owner gets it: built with tsc, packed with `npm pack`, installed from the tarball into
 * throwaway Express (CommonJS), Fastify (ESM) and Koa (ESM) apps next to the framework from the npm cache, and run as
 * processes against a real Gatehouse: the 401/403/503 matrix, DPoP, and `gatehouse probe-api` against each app.
 */
const packageDir = new URL('../../packages/guard/', import.meta.url).pathname;
const articles = 'https://api.example.com/articles';
const reports = 'https://api.example.com/reports';
const other = 'https://api.example.com/other';
const secret = (id: string) => `${id}-secret-0123456789`;
const redirectUri = 'http://127.0.0.1:9/cb';
// Two accounts: ada owns the documents d1, d2 and d3 (a Cedar ownership policy), bob owns none.
const users = {
  ada: { sub: randomUUID(), email: 'ada@example.com', password: 'ada long enough password' },
  bob: { sub: randomUUID(), email: 'bob@example.com', password: 'bob long enough password' },
};
const userTokens: Record<keyof typeof users, string> = { ada: '', bob: '' };
const ownershipPolicy = `
@id("document-owner")
permit(principal, action == Action::"document:read", resource is document)
  when { resource has owner && resource.owner == principal };
`;

type Framework = 'express' | 'fastify' | 'koa';
const frameworks: Framework[] = ['express', 'fastify', 'koa'];

// The same API in each framework: JWT-verified routes (DPoP on), an introspected route (opaque tokens), a bare one.
const guardOptions = `
const env = process.env;
const jwtOptions = {
  issuer: env.ISSUER,
  audience: env.ARTICLES,
  realm: 'articles',
  // A short JWKS cooldown, so that the test can see a key refresh fail while Gatehouse is down.
  verify: { jwt: { jwksCooldownMs: 500 } },
  dpop: { baseUrl: env.BASE_URL },
};
// authorize(): the guard asks Gatehouse's AuthZEN API as its own client; a short batch window, so that the test's
// concurrent requests land in one batch. The second guard's PDP is a closed port.
const authzOptions = {
  ...jwtOptions,
  authz: { clientId: env.PEP_ID, clientSecret: env.PEP_SECRET, batchWindowMs: 25 },
};
const unreachableOptions = {
  ...jwtOptions,
  authz: {
    clientId: env.PEP_ID,
    clientSecret: env.PEP_SECRET,
    tokenEndpoint: env.CLOSED + '/token',
    evaluationsEndpoint: env.CLOSED + '/access/v1/evaluations',
  },
};
const introspectionOptions = {
  issuer: env.ISSUER,
  audience: env.REPORTS,
  realm: 'reports',
  verify: { introspection: { clientId: env.INTROSPECT_ID, clientSecret: env.INTROSPECT_SECRET } },
};
`;

const apps: Record<Framework, { file: string; source: string }> = {
  express: {
    file: 'app.cjs',
    source: `'use strict';
const express = require('express');
const { createGuard } = require('@gatehouse/guard/express');
const core = require('@gatehouse/guard');
${guardOptions}
const jwt = createGuard(jwtOptions);
const introspected = createGuard(core.createGuard(introspectionOptions));
const policy = createGuard(authzOptions);
const unreachable = createGuard(unreachableOptions);
const app = express();
const show = (req, res) => res.json({ framework: 'express', auth: req.auth, locals: res.locals.auth === req.auth });
app.get('/public', (req, res) => res.json({ ok: true }));
app.get('/articles', jwt.requirePermission('articles:read'), show);
app.delete('/articles/1', jwt.requirePermission('articles:delete'), (req, res) => res.status(204).end());
app.get('/any', jwt.requireAnyPermission(['articles:write', 'articles:read']), show);
app.get('/scoped', jwt.requireScope('articles:admin'), show);
app.get('/reports', introspected.requirePermission('reports:read'), show);
app.get('/documents/:id', policy.authorize('document:read', (req) => ({ type: 'document', id: req.params.id })), show);
app.get(
  '/unreachable/:id',
  unreachable.authorize('document:read', (req) => ({ type: 'document', id: req.params.id })),
  show,
);
app.listen(Number(env.PORT), '127.0.0.1', () => console.log('listening'));
`,
  },
  fastify: {
    file: 'app.mjs',
    source: `import Fastify from 'fastify';
import { createGuard, gatehouse } from '@gatehouse/guard/fastify';
${guardOptions}
const app = Fastify();
await app.register(gatehouse, jwtOptions);
const introspected = createGuard(introspectionOptions);
const policy = createGuard(authzOptions);
const unreachable = createGuard(unreachableOptions);
const show = async (request) => ({ framework: 'fastify', auth: request.auth });
app.get('/public', async () => ({ ok: true }));
app.get('/articles', { onRequest: app.gatehouse.requirePermission('articles:read') }, show);
app.delete('/articles/1', { onRequest: app.gatehouse.requirePermission('articles:delete') }, async (request, reply) =>
  reply.code(204).send(),
);
app.get('/any', { onRequest: app.gatehouse.requireAnyPermission(['articles:write', 'articles:read']) }, show);
app.get('/scoped', { onRequest: app.gatehouse.requireScope('articles:admin') }, show);
app.get('/reports', { preHandler: introspected.requirePermission('reports:read') }, show);
const documentOf = (request) => ({ type: 'document', id: request.params.id });
app.get('/documents/:id', { onRequest: policy.authorize('document:read', documentOf) }, show);
app.get('/unreachable/:id', { onRequest: unreachable.authorize('document:read', documentOf) }, show);
await app.listen({ port: Number(env.PORT), host: '127.0.0.1' });
console.log('listening');
`,
  },
  koa: {
    file: 'app.mjs',
    source: `import Koa from 'koa';
import { createGuard } from '@gatehouse/guard/koa';
${guardOptions}
const jwt = createGuard(jwtOptions);
const introspected = createGuard(introspectionOptions);
const policy = createGuard(authzOptions);
const unreachable = createGuard(unreachableOptions);
const show = (ctx) => { ctx.body = { framework: 'koa', auth: ctx.state.auth }; };
const documentOf = (ctx) => ({ type: 'document', id: ctx.params.id });
const routes = {
  'GET /public': [(ctx) => { ctx.body = { ok: true }; }],
  'GET /articles': [jwt.requirePermission('articles:read'), show],
  'DELETE /articles/1': [jwt.requirePermission('articles:delete'), (ctx) => { ctx.status = 204; }],
  'GET /any': [jwt.requireAnyPermission(['articles:write', 'articles:read']), show],
  'GET /scoped': [jwt.requireScope('articles:admin'), show],
  'GET /reports': [introspected.requirePermission('reports:read'), show],
  'GET /documents/:id': [policy.authorize('document:read', documentOf), show],
  'GET /unreachable/:id': [unreachable.authorize('document:read', documentOf), show],
};
const app = new Koa();
app.use(async (ctx, next) => {
  // A tiny router: '/documents/d1' is 'GET /documents/:id' with ctx.params.id = 'd1'.
  const [, first, id] = ctx.path.split('/');
  const chain = routes[ctx.method + ' ' + ctx.path] ?? (id ? routes[ctx.method + ' /' + first + '/:id'] : undefined);
  ctx.params = { id };
  if (!chain) return next();
  const run = (i) => (chain[i] ? chain[i](ctx, () => run(i + 1)) : undefined);
  await run(0);
});
app.listen(Number(env.PORT), '127.0.0.1', () => console.log('listening'));
`,
  },
};

interface RunningApp {
  framework: Framework;
  origin: string;
  child: ChildProcess;
  output(): string;
}

function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`)),
    );
  });
}

async function startApp(
  framework: Framework,
  dir: string,
  tarball: string,
  env: Record<string, string>,
): Promise<RunningApp> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `sample-${framework}`, private: true }));
  await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, framework],
    dir,
  );
  const { file, source } = apps[framework];
  writeFileSync(join(dir, file), source);
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [file], {
    cwd: dir,
    env: { PATH: process.env.PATH, ...env, PORT: String(port), BASE_URL: origin },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${framework} app exited ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${origin}/public`)).ok) return { framework, origin, child, output: () => output };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${framework} app did not start:\n${output}`);
}

let gatehouse: GatehouseProcess;
let workDir: string;
const running: Partial<Record<Framework, RunningApp>> = {};

async function tokenFor(client: string, resource?: string): Promise<string> {
  const response = await fetch(`${gatehouse.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client}:${secret(client)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...(resource ? { resource } : {}) }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token for ${client}: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** How many `POST /access/v1/evaluations` Gatehouse has answered (its Prometheus request counter). */
async function evaluationsCalls(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 50)); // counted as the response finishes
  const metrics = await (await fetch(`${gatehouse.url}/metrics`)).text();
  return metrics
    .split('\n')
    .filter(
      (line) =>
        line.startsWith('gatehouse_http_request_duration_seconds_count{') &&
        line.includes('route="/access/v1/evaluations"') &&
        line.includes('method="POST"'),
    )
    .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function cli(...args: string[]): Promise<void> {
  const result = await gatehouse.cli(...args);
  if (result.code !== 0) throw new Error(`gatehouse ${args.join(' ')}: ${result.stderr}`);
}

interface Answer {
  status: number;
  challenge: string;
  cacheControl: string | null;
  body: Record<string, unknown>;
}

async function call(origin: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${origin}${path}`, { headers });
  const text = await response.text();
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate') ?? '',
    cacheControl: response.headers.get('cache-control'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

function expectInvalidToken(answer: Answer, error = 'invalid_token') {
  expect(answer.status).toBe(401);
  expect(answer.challenge).toContain(`error="${error}"`);
  expect(answer.cacheControl).toBe('no-store');
  expect(answer.body.error).toBe(error);
  expect(typeof answer.body.error_description).toBe('string');
}

interface Holder {
  keyPair: CryptoKeyPair;
  publicJwk: JWK;
  jkt: string;
}

async function dpopProof(holder: Holder, method: string, url: string, token: string): Promise<string> {
  return new SignJWT({
    htm: method,
    htu: url,
    ath: createHash('sha256').update(token).digest('base64url'),
    jti: randomUUID(),
    iat: Math.floor(Date.now() / 1000),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.publicJwk })
    .sign(holder.keyPair.privateKey);
}

/** A token shaped like Gatehouse's, signed by a key Gatehouse never published. */
async function foreignKeyToken(claims: Record<string, unknown>): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: `unknown-${randomUUID()}` })
    .sign(privateKey);
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'gatehouse-guard-'));
  const packDir = join(workDir, 'pack');
  mkdirSync(packDir);
  const build = (async () => {
    await run(process.execPath, ['scripts/build.mjs'], packageDir); // tsc -p tsconfig.json, tsc -p tsconfig.cjs.json
    const packed = JSON.parse(
      await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], packageDir),
    ) as { filename: string }[];
    return join(packDir, packed[0]!.filename);
  })();
  gatehouse = await startGatehouseProcess();
  await cli(
    'api',
    'create',
    '--identifier',
    articles,
    '--permission',
    'articles:read',
    '--permission',
    'articles:delete',
  );
  await cli('api', 'create', '--identifier', reports, '--permission', 'reports:read', '--format', 'opaque');
  await cli('api', 'create', '--identifier', other, '--permission', 'other:read');
  await cli('role', 'create', 'reader', '--permission', 'articles:read', '--permission', 'reports:read');
  for (const [id, roles] of [
    ['reports-api', []],
    ['reader-service', ['--role', 'reader']],
    ['nobody-service', []],
  ] as const)
    await cli(
      'client',
      'create',
      '--id',
      id,
      '--secret',
      secret(id),
      '--grant-type',
      'client_credentials',
      ...roles,
    );

  // authorize(): the guard's own client (pep) may ask the AuthZEN API; an ownership policy over stored documents.
  await cli('role', 'create', 'pdp', '--permission', 'authz:evaluate');
  await cli(
    'client',
    'create',
    '--id',
    'pep',
    '--secret',
    secret('pep'),
    '--grant-type',
    'client_credentials',
    '--role',
    'pdp',
  );
  const policyFile = join(workDir, 'policy.cedar');
  writeFileSync(policyFile, ownershipPolicy);
  await cli('policy', 'set', '--file', policyFile);
  for (const user of Object.values(users))
    await cli(
      'user',
      'create',
      '--id',
      user.sub,
      '--email',
      user.email,
      '--password',
      user.password,
      '--role',
      'reader',
    );
  for (const id of ['d1', 'd2', 'd3'])
    await cli(
      'resource',
      'put',
      '--type',
      'document',
      '--id',
      id,
      '--attribute',
      `owner:=${JSON.stringify({ __entity: { type: 'user', id: users.ada.sub } })}`,
    );
  await cli(
    'client',
    'create',
    '--id',
    'web',
    '--secret',
    secret('web'),
    '--first-party',
    '--redirect-uri',
    redirectUri,
    '--api',
    articles,
  );
  const web = await oidc.discovery(
    new URL(gatehouse.url),
    'web',
    undefined,
    oidc.ClientSecretBasic(secret('web')),
    { execute: [oidc.allowInsecureRequests] },
  );
  for (const name of ['ada', 'bob'] as const) {
    const flow = await authorizeOverHttp(
      createHttpBrowser(),
      {
        issuer: gatehouse.url,
        clientId: 'web',
        redirectUri,
        scope: 'openid articles:read',
        params: { resource: articles },
      },
      users[name],
    );
    const tokens = await oidc.authorizationCodeGrant(
      web,
      flow.callback,
      { pkceCodeVerifier: flow.codeVerifier, expectedState: flow.state, expectedNonce: flow.nonce },
      { resource: articles },
    );
    userTokens[name] = tokens.access_token;
    expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: users[name].sub, aud: articles });
  }

  const tarball = await build;
  const env = {
    PEP_ID: 'pep',
    PEP_SECRET: secret('pep'),
    CLOSED: `http://127.0.0.1:${await freePort()}`,
    ISSUER: gatehouse.issuer,
    ARTICLES: articles,
    REPORTS: reports,
    INTROSPECT_ID: 'reports-api',
    INTROSPECT_SECRET: secret('reports-api'),
  };
  const started = await Promise.allSettled(
    frameworks.map((framework) => startApp(framework, join(workDir, framework), tarball, env)),
  );
  for (const result of started)
    if (result.status === 'fulfilled') running[result.value.framework] = result.value;
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}, 115_000);

afterAll(async () => {
  for (const app of Object.values(running)) app.child.kill('SIGTERM');
  await gatehouse?.cleanup();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe.each(frameworks)('@gatehouse/guard installed into a %s app', (framework) => {
  const app = () => running[framework]!;

  it('answers 401 with bare Bearer and DPoP challenges without a token, and 401 invalid_token for bad ones', async () => {
    const none = await call(app().origin, '/articles');
    expect(none.status).toBe(401);
    expect(none.challenge).toMatch(/^Bearer realm="articles", DPoP realm="articles", algs="ES256 /);
    expect(none.challenge).not.toContain('error=');
    expect(none.cacheControl).toBe('no-store');
    expect(none.body.error).toBe('unauthorized');

    expectInvalidToken(await call(app().origin, '/articles', { authorization: 'Bearer not.a-token!' }));
    const claims = decodeJwt(await tokenFor('reader-service', articles));
    expectInvalidToken(
      await call(app().origin, '/articles', { authorization: `Bearer ${await foreignKeyToken(claims)}` }),
    );
    const wrongAudience = await tokenFor('reader-service', other);
    expectInvalidToken(await call(app().origin, '/articles', { authorization: `Bearer ${wrongAudience}` }));

    // Opaque tokens by introspection: a revoked one, and one for no API at all.
    const revoked = await tokenFor('reader-service', reports);
    await fetch(`${gatehouse.url}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`reader-service:${secret('reader-service')}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: revoked }),
    });
    expectInvalidToken(await call(app().origin, '/reports', { authorization: `Bearer ${revoked}` }));
    expectInvalidToken(
      await call(app().origin, '/reports', { authorization: `Bearer ${await tokenFor('reader-service')}` }),
    );
  });

  it('answers 403 insufficient_scope for a valid token without the permission or scope', async () => {
    const nobody = await tokenFor('nobody-service', articles);
    for (const path of ['/articles', '/any']) {
      const answer = await call(app().origin, path, { authorization: `Bearer ${nobody}` });
      expect(answer.status).toBe(403);
      expect(answer.challenge).toMatch(/^Bearer realm="articles", error="insufficient_scope"/);
      expect(answer.cacheControl).toBe('no-store');
      expect(answer.body.error).toBe('insufficient_scope');
    }
    const reader = await tokenFor('reader-service', articles);
    const scoped = await call(app().origin, '/scoped', { authorization: `Bearer ${reader}` });
    expect(scoped.status).toBe(403);
    expect(scoped.challenge).toContain('scope="articles:admin"');
    const opaque = await call(app().origin, '/reports', {
      authorization: `Bearer ${await tokenFor('nobody-service', reports)}`,
    });
    expect(opaque.status).toBe(403);
    expect(opaque.challenge).toMatch(/^Bearer realm="reports", error="insufficient_scope"/);
  });

  it('lets a token with the permission through, showing the claims to the handler', async () => {
    const token = await tokenFor('reader-service', articles);
    const answer = await call(app().origin, '/articles', { authorization: `Bearer ${token}` });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      framework,
      auth: {
        subject: expect.any(String),
        clientId: 'reader-service',
        roles: ['reader'],
        permissions: ['articles:read'],
        scope: expect.any(Array),
        claims: { aud: articles, iss: gatehouse.issuer, client_id: 'reader-service' },
      },
    });
    expect((answer.body.auth as Record<string, unknown>).confirmation).toBeUndefined();
    if (framework === 'express') expect(answer.body.locals).toBe(true);
    expect((await call(app().origin, '/any', { authorization: `Bearer ${token}` })).status).toBe(200);
    const opaque = await call(app().origin, '/reports', {
      authorization: `Bearer ${await tokenFor('reader-service', reports)}`,
    });
    expect(opaque.status).toBe(200);
    expect(opaque.body).toMatchObject({
      auth: { clientId: 'reader-service', permissions: ['reports:read'] },
    });
  });

  it('takes a DPoP-bound token only with the DPoP scheme and a fresh proof of its key', async () => {
    const keyPair = (await generateKeyPair('ES256', { extractable: true })) as CryptoKeyPair;
    const publicJwk = await exportJWK(keyPair.publicKey);
    const holder: Holder = { keyPair, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
    const client = await oidc.discovery(
      new URL(gatehouse.url),
      'reader-service',
      undefined,
      oidc.ClientSecretBasic(secret('reader-service')),
      { execute: [oidc.allowInsecureRequests] },
    );
    const tokens = await oidc.clientCredentialsGrant(
      client,
      { resource: articles },
      { DPoP: oidc.getDPoPHandle(client, keyPair) },
    );
    expect(tokens.token_type).toBe('dpop');
    const token = tokens.access_token;

    expectInvalidToken(await call(app().origin, '/articles', { authorization: `Bearer ${token}` }));
    const proof = await dpopProof(holder, 'GET', `${app().origin}/articles`, token);
    const accepted = await call(app().origin, '/articles', { authorization: `DPoP ${token}`, dpop: proof });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ auth: { confirmation: { jkt: holder.jkt } } });
    const replayed = await call(app().origin, '/articles', { authorization: `DPoP ${token}`, dpop: proof });
    expectInvalidToken(replayed, 'invalid_dpop_proof');
    expect(replayed.challenge).toMatch(/^DPoP realm="articles", error="invalid_dpop_proof"/);
    expect(replayed.body.error_description).toContain('already used');
    const wrongUrl = await call(app().origin, '/articles', {
      authorization: `DPoP ${token}`,
      dpop: await dpopProof(holder, 'GET', `http://evil.example/articles`, token),
    });
    expectInvalidToken(wrongUrl, 'invalid_dpop_proof');
  });

  it('authorize(): owner 200, another user a plain 403, no token 401; concurrent checks in one evaluations call', async () => {
    const get = (path: string, who?: keyof typeof users) =>
      call(app().origin, path, who ? { authorization: `Bearer ${userTokens[who]}` } : {});
    const before = await evaluationsCalls();
    const none = await get('/documents/d3');
    expect(none.status).toBe(401);
    expect(none.challenge).toMatch(/^Bearer realm="articles"/);
    expect(await evaluationsCalls()).toBe(before); // the token is checked first: no question asked

    const owner = await get('/documents/d3', 'ada');
    expect(owner.status).toBe(200);
    expect(owner.body).toMatchObject({ auth: { subject: users.ada.sub } });
    const other = await get('/documents/d3', 'bob');
    expect({ status: other.status, body: other.body, challenge: other.challenge }).toEqual({
      status: 403,
      body: { error: 'forbidden', error_description: expect.any(String) },
      challenge: '', // a policy deny, not insufficient_scope: nothing a new token would change
    });
    expect(other.cacheControl).toBe('no-store');
    expect(await evaluationsCalls()).toBe(before + 2);

    // Two requests at once (each token already verified): one evaluations call answers both.
    const [ada, bob] = await Promise.all([get('/documents/d1', 'ada'), get('/documents/d1', 'bob')]);
    expect([ada.status, bob.status]).toEqual([200, 403]);
    expect(await evaluationsCalls()).toBe(before + 3);
    // Asked again within the cache's few seconds: no call at all.
    const again = await Promise.all([get('/documents/d1', 'ada'), get('/documents/d1', 'bob')]);
    expect(again.map((answer) => answer.status)).toEqual([200, 403]);
    expect(await evaluationsCalls()).toBe(before + 3);

    // The policy decision point cannot be reached: 503, never an allow, never a 401.
    const response = await fetch(`${app().origin}/unreachable/d1`, {
      headers: { authorization: `Bearer ${userTokens.ada}` },
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });
});

describe('gatehouse probe-api against each sample app', () => {
  it('passes for the JWT route and the introspected route of each framework', async () => {
    const probes = frameworks.flatMap((framework) => [
      {
        framework,
        args: [
          '--url',
          `${running[framework]!.origin}/articles/1`,
          '--method',
          'DELETE',
          '--resource',
          articles,
          '--permission',
          'articles:delete',
        ],
      },
      {
        framework,
        args: [
          '--url',
          `${running[framework]!.origin}/reports`,
          '--resource',
          reports,
          '--permission',
          'reports:read',
        ],
      },
    ]);
    // One after another: each run creates and removes temporary clients and a role.
    const results = [];
    for (const probe of probes)
      results.push({ ...probe, result: await gatehouse.cli('probe-api', ...probe.args, '--json') });
    for (const { framework, args, result } of results) {
      if (!result.stdout) throw new Error(`probe-api ${args.join(' ')} printed nothing: ${result.stderr}`);
      const report = result.json<{
        passed: boolean;
        cases: { name: string; status: number; verdict: string }[];
      }>();
      const summary = report.cases.map((probe) => [probe.name, probe.status, probe.verdict]);
      expect({ framework, url: args[1], code: result.code, summary }).toEqual({
        framework,
        url: args[1],
        code: 0,
        summary: args[1]!.endsWith('/reports')
          ? [
              ['no token', 401, 'ok'],
              ['malformed token', 401, 'ok'],
              ['revoked token', 401, 'ok'],
              ['token for another audience', 401, 'ok'],
              ['token without reports:read', 403, 'ok'],
              ['token with reports:read', 200, 'ok'],
            ]
          : [
              ['no token', 401, 'ok'],
              ['malformed token', 401, 'ok'],
              ['expired token', 401, 'ok'],
              ['token for another audience', 401, 'ok'],
              ['token without articles:delete', 403, 'ok'],
              ['token with articles:delete', 204, 'ok'],
            ],
      });
      expect(report.passed).toBe(true);
    }
  });
});

describe('with Gatehouse stopped', () => {
  it('answers 503 where it cannot check a token, never 401 and never allow; cached keys keep working', async () => {
    const jwt = await tokenFor('reader-service', articles);
    const claims = decodeJwt(jwt);
    const opaque = await tokenFor('reader-service', reports);
    await gatehouse.stop();
    await new Promise((resolve) => setTimeout(resolve, 600)); // past the apps' JWKS cooldown
    for (const framework of frameworks) {
      const { origin } = running[framework]!;
      // A key Gatehouse might have rotated to: the JWKS must be fetched again, and cannot be.
      const rotated = await call(origin, '/articles', {
        authorization: `Bearer ${await foreignKeyToken(claims)}`,
      });
      expect({ framework, status: rotated.status, body: rotated.body }).toEqual({
        framework,
        status: 503,
        body: { error: 'temporarily_unavailable', error_description: expect.any(String) },
      });
      expect(rotated.challenge).toBe('');
      const introspected = await call(origin, '/reports', { authorization: `Bearer ${opaque}` });
      expect({ framework, status: introspected.status }).toEqual({ framework, status: 503 });
      expect(introspected.cacheControl).toBe('no-store');
      // Nothing to ask Gatehouse: still the right answers.
      expect((await call(origin, '/articles')).status).toBe(401);
      expect((await call(origin, '/articles', { authorization: `Bearer ${jwt}` })).status).toBe(200);
      // A decision not cached: the policy decision point (Gatehouse) cannot be asked.
      const decision = await call(origin, '/documents/d2', { authorization: `Bearer ${userTokens.ada}` });
      expect({ framework, status: decision.status, body: decision.body }).toEqual({
        framework,
        status: 503,
        body: { error: 'temporarily_unavailable', error_description: expect.any(String) },
      });
    }
  });
});
