import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { createGuard as expressGuard } from '../../../packages/guard/src/express.ts';
import { createGuard as fastifyGuard, gatehouse } from '../../../packages/guard/src/fastify.ts';
import { createGuard as koaGuard } from '../../../packages/guard/src/koa.ts';
import {
  IssuerUnavailableError,
  type GuardAuth,
  type GuardOptions,
} from '../../../packages/guard/src/index.ts';

/** The three adapters in-process, typed against the real frameworks: where the claims land, how refusals look. */

const reader: GuardAuth = {
  subject: 'user-1',
  clientId: 'app',
  roles: ['reader'],
  permissions: ['articles:read'],
  scope: [],
  claims: { sub: 'user-1' },
};
const options: GuardOptions = {
  issuer: 'https://id.example.com',
  audience: 'https://api.example.com',
  realm: 'articles',
  verify: async (token) => {
    if (token === 'down') throw new IssuerUnavailableError('down');
    return token === 'reader' ? reader : token === 'nobody' ? { ...reader, permissions: [] } : undefined;
  },
};

const servers: Server[] = [];
async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
afterAll(async () => {
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
});

function expressApp(): RequestListener {
  const guard = expressGuard(options);
  const app = express();
  app.get('/articles', guard.requirePermission('articles:read'), (req, res) => {
    res.json({ auth: req.auth, locals: res.locals.auth === req.auth });
  });
  return app;
}

async function fastifyApp(): Promise<string> {
  const app = Fastify();
  await app.register(gatehouse, options);
  const other = fastifyGuard(options);
  app.get('/articles', { onRequest: app.gatehouse.requirePermission('articles:read') }, async (request) => ({
    auth: request.auth,
  }));
  app.get('/other', { preHandler: other.requireAuth() }, async (request) => ({ auth: request.auth }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push(app.server);
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

function koaApp(): RequestListener {
  const guard = koaGuard(options);
  const app = new Koa();
  const check = guard.requirePermission('articles:read');
  app.use(async (ctx, next) => (ctx.path === '/articles' ? check(ctx, next) : next()));
  app.use((ctx) => {
    ctx.body = { auth: ctx.state.auth as GuardAuth };
  });
  return app.callback();
}

describe.each([
  ['express', () => serve(expressApp())],
  ['fastify', fastifyApp],
  ['koa', () => serve(koaApp())],
] as const)('the %s adapter', (_name, start) => {
  let origin: string;
  beforeAll(async () => {
    origin = await start();
  });
  const get = (authorization?: string) =>
    fetch(`${origin}/articles`, { headers: authorization ? { authorization } : {} });

  it('answers 401, 403 and 503 with a JSON body, a challenge and no-store', async () => {
    for (const [authorization, status, challenge, error] of [
      [undefined, 401, 'Bearer realm="articles"', 'unauthorized'],
      [
        'Bearer forged',
        401,
        'Bearer realm="articles", error="invalid_token", error_description="the access token is invalid, expired or revoked"',
        'invalid_token',
      ],
      [
        'Bearer nobody',
        403,
        'Bearer realm="articles", error="insufficient_scope", error_description="requires permission articles:read", scope="articles:read"',
        'insufficient_scope',
      ],
      ['Bearer down', 503, null, 'temporarily_unavailable'],
    ] as const) {
      const response = await get(authorization);
      expect([response.status, response.headers.get('www-authenticate')]).toEqual([status, challenge]);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(((await response.json()) as { error: string }).error).toBe(error);
    }
  });

  it('hands the verified claims to the handler', async () => {
    const response = await get('Bearer reader');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { auth: GuardAuth; locals?: boolean };
    expect(body.auth).toEqual(reader);
    if (body.locals !== undefined) expect(body.locals).toBe(true);
  });
});
