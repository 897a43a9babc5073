/**
 * What JWT verification adds per request, once the keys are cached (issue 15, "Speed"): the same app with a bare
 * route and a guarded one (Express, Fastify, Koa), requests alternating between them over keep-alive, median latency
 * of each and the difference; and the core's `check` alone, in-process. The issuer is a stand-in on loopback
 * (discovery + JWKS, fetched once), the token an ES256 RFC 9068 access token. Last, what a cached policy decision
 * (`authorize`) adds to the core's check.
 *
 *   node packages/guard/bench/verify.ts [requests per route, default 3000]
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createGuard as expressGuard } from '../src/express.ts';
import { createGuard as fastifyGuard } from '../src/fastify.ts';
import {
  authorization as decisionOf,
  createGuard,
  permission,
  type GuardOptions,
  type Requirement,
} from '../src/index.ts';
import { createGuard as koaGuard } from '../src/koa.ts';

const perRoute = Number(process.argv[2] ?? 3000);
const audience = 'https://api.example.com';

async function listen(listener: RequestListener): Promise<{ server: Server; origin: string }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function get(url: string, authorization?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request(url, { agent, headers: authorization ? { authorization } : {} }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: ${res.statusCode}`));
        else resolve(Number(process.hrtime.bigint() - started) / 1000);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

// The stand-in issuer.
const pair = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
let issuer = '';
const issuerServer = await listen((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/token') {
    req.resume();
    res.end(JSON.stringify({ access_token: 'pep', token_type: 'Bearer', expires_in: 3600 }));
    return;
  }
  if (req.url === '/evaluations') {
    // The stand-in PDP: permits everything asked (for the cached-decision measurement).
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk));
    req.on('end', () => {
      const { evaluations } = JSON.parse(body) as { evaluations: unknown[] };
      res.end(JSON.stringify({ evaluations: evaluations.map(() => ({ decision: true })) }));
    });
    return;
  }
  res.end(JSON.stringify(req.url === '/jwks' ? { keys: [jwk] } : { issuer, jwks_uri: `${issuer}/jwks` }));
});
issuer = issuerServer.origin;
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({
  iss: issuer,
  aud: audience,
  sub: 'user-1',
  client_id: 'bench',
  iat: now,
  exp: now + 3600,
  jti: 'bench',
  roles: ['reader'],
  permissions: ['articles:read'],
  scope: 'articles:read',
})
  .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench' })
  .sign(pair.privateKey);
const authorization = `Bearer ${token}`;
const options: GuardOptions = { issuer, audience };
// Every request pays the full signature check (a token seen for the first time costs this).
const uncached: GuardOptions = { issuer, audience, verify: { jwt: { verifiedCacheSeconds: 0 } } };

const ok = { ok: true };
const apps: [string, () => Promise<{ origin: string; close(): Promise<void> }>][] = [
  [
    'express',
    async () => {
      const guard = expressGuard(options);
      const cold = expressGuard(uncached);
      const app = express();
      app.get('/bare', (_req, res) => void res.json(ok));
      app.get('/guarded', guard.requirePermission('articles:read'), (_req, res) => void res.json(ok));
      app.get('/uncached', cold.requirePermission('articles:read'), (_req, res) => void res.json(ok));
      const { server, origin } = await listen(app);
      return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
    },
  ],
  [
    'fastify',
    async () => {
      const guard = fastifyGuard(options);
      const cold = fastifyGuard(uncached);
      const app = Fastify();
      app.decorateRequest('auth', null);
      app.get('/bare', async () => ok);
      app.get('/guarded', { onRequest: guard.requirePermission('articles:read') }, async () => ok);
      app.get('/uncached', { onRequest: cold.requirePermission('articles:read') }, async () => ok);
      await app.listen({ port: 0, host: '127.0.0.1' });
      return {
        origin: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
        close: () => app.close(),
      };
    },
  ],
  [
    'koa',
    async () => {
      const guard = koaGuard(options);
      const check = guard.requirePermission('articles:read');
      const coldCheck = koaGuard(uncached).requirePermission('articles:read');
      const app = new Koa();
      app.use(async (ctx, next) =>
        ctx.path === '/guarded' ? check(ctx, next) : ctx.path === '/uncached' ? coldCheck(ctx, next) : next(),
      );
      app.use((ctx) => {
        ctx.body = ok;
      });
      const { server, origin } = await listen(app.callback());
      return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
    },
  ],
];

console.log(
  `node ${process.version}, ${perRoute} requests per route, alternating, keep-alive, one at a time`,
);
console.log('framework   bare µs   guarded µs (added)   guarded, no verified-token cache µs (added)');
for (const [name, start] of apps) {
  const app = await start();
  const bare: number[] = [];
  const guarded: number[] = [];
  const cold: number[] = [];
  for (let i = 0; i < 300; i++) {
    await get(`${app.origin}/bare`);
    await get(`${app.origin}/guarded`, authorization); // warm-up (fetches the keys once)
    await get(`${app.origin}/uncached`, authorization);
  }
  for (let i = 0; i < perRoute; i++) {
    bare.push(await get(`${app.origin}/bare`));
    guarded.push(await get(`${app.origin}/guarded`, authorization));
    cold.push(await get(`${app.origin}/uncached`, authorization));
  }
  const [b, g, c] = [median(bare), median(guarded), median(cold)];
  const cell = (value: number) => `${value.toFixed(1)} (+${(value - b).toFixed(1)})`;
  console.log(
    `${name.padEnd(9)} ${b.toFixed(1).padStart(8)}   ${cell(g).padStart(18)}   ${cell(c).padStart(20)}`,
  );
  await app.close();
}

// The core alone: extraction, the permission check, and the token check (cached, or the full ES256 verification).
for (const [label, guardOptions] of [
  ['verified-token cache on', options],
  ['full verification', uncached],
] as const) {
  const core = createGuard(guardOptions);
  const req = { method: 'GET', path: '/articles', authorization: [authorization], dpop: [] };
  for (let i = 0; i < 1000; i++) await core.check(req, permission('articles:read'));
  const samples: number[] = [];
  for (let i = 0; i < perRoute * 2; i++) {
    const started = process.hrtime.bigint();
    const decision = await core.check(req, permission('articles:read'));
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
    if (!decision.allow) throw new Error('the bench token was refused');
  }
  console.log(`core check in-process, ${label}: median ${median(samples).toFixed(1)} µs`);
}

// A cached policy decision (authorize), in-process: the same token check plus the decision from the cache.
{
  const core = createGuard({
    ...options,
    authz: {
      clientId: 'pep',
      clientSecret: 'pep-secret',
      tokenEndpoint: `${issuer}/token`,
      evaluationsEndpoint: `${issuer}/evaluations`,
      cacheSeconds: 3600,
    },
  });
  const req = { method: 'GET', path: '/documents/d1', authorization: [authorization], dpop: [] };
  const allowed = decisionOf('document:read', { type: 'document', id: 'd1' });
  const time = async (requirement: Requirement) => {
    for (let i = 0; i < 1000; i++) await core.check(req, requirement);
    const samples: number[] = [];
    for (let i = 0; i < perRoute * 2; i++) {
      const started = process.hrtime.bigint();
      const decision = await core.check(req, requirement);
      samples.push(Number(process.hrtime.bigint() - started) / 1000);
      if (!decision.allow) throw new Error('the bench request was refused');
    }
    return median(samples);
  };
  const withPermission = await time(permission('articles:read'));
  const withDecision = await time(allowed);
  console.log(
    `core check in-process, cached policy decision: median ${withDecision.toFixed(1)} µs ` +
      `(permission check: ${withPermission.toFixed(1)} µs; the decision adds ${(withDecision - withPermission).toFixed(1)} µs)`,
  );
}

agent.destroy();
issuerServer.server.close();
