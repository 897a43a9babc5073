import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { createGuard as expressGuard } from '../../../packages/guard/src/express.ts';
import { createGuard as fastifyGuard } from '../../../packages/guard/src/fastify.ts';
import { createGuard as koaGuard } from '../../../packages/guard/src/koa.ts';
import {
  authorization,
  createAuthzenClient,
  createGuard,
  defaultSubject,
  type AuthzenEvaluation,
  type GuardAuth,
  type GuardOptions,
} from '../../../packages/guard/src/index.ts';

/**
 * `authorize()` against a tiny local stand-in for Gatehouse (discovery, token endpoint, AuthZEN metadata and
 * `evaluations`): batching, caching, the guard's own token, and failing closed.
 */
interface Pdp {
  url: string;
  /** Bodies of the `evaluations` calls, in order. */
  evaluations: { evaluations: AuthzenEvaluation[] }[];
  tokenRequests: URLSearchParams[];
  bearers: string[];
  /** Decides one question (default: the resource's `owner` property equals the subject id). */
  decide: (question: AuthzenEvaluation) => boolean;
  /** Overrides the answer of the evaluations endpoint (status, body). */
  fail?: () => { status: number; body: unknown } | undefined;
  expiresIn: number;
  close(): Promise<void>;
}

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

async function read(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

async function startPdp(): Promise<Pdp> {
  let tokens = 0;
  const pdp: Pdp = {
    url: '',
    evaluations: [],
    tokenRequests: [],
    bearers: [],
    decide: (question) => question.resource.properties?.owner === question.subject.id,
    expiresIn: 300,
    close: async () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    void (async () => {
      const body = await read(req);
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.url === '/.well-known/openid-configuration')
        return send(200, { issuer: pdp.url, token_endpoint: `${pdp.url}/token` });
      if (req.url === '/.well-known/authzen-configuration')
        return send(200, {
          policy_decision_point: pdp.url,
          access_evaluations_endpoint: `${pdp.url}/access/v1/evaluations`,
        });
      if (req.url === '/token') {
        pdp.tokenRequests.push(new URLSearchParams(body));
        if (req.headers.authorization !== `Basic ${Buffer.from('pep:pep-secret').toString('base64')}`)
          return send(401, { error: 'invalid_client' });
        tokens += 1;
        return send(200, { access_token: `t${tokens}`, token_type: 'Bearer', expires_in: pdp.expiresIn });
      }
      if (req.url === '/access/v1/evaluations' && req.method === 'POST') {
        pdp.bearers.push(String(req.headers.authorization));
        const parsed = JSON.parse(body) as { evaluations: AuthzenEvaluation[] };
        pdp.evaluations.push(parsed);
        const failure = pdp.fail?.();
        if (failure) return send(failure.status, failure.body);
        return send(200, { evaluations: parsed.evaluations.map((q) => ({ decision: pdp.decide(q) })) });
      }
      return send(404, { error: 'not_found' });
    })();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  pdp.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return pdp;
}

const user = (id: string): GuardAuth => ({
  subject: id,
  clientId: 'web',
  roles: [],
  permissions: [],
  scope: [],
  claims: { sub: id, client_id: 'web' },
});
const question = (subject: string, doc: string, owner: string): AuthzenEvaluation => ({
  subject: { type: 'user', id: subject },
  action: { name: 'document:read' },
  resource: { type: 'document', id: doc, properties: { owner } },
});
const authz = { clientId: 'pep', clientSecret: 'pep-secret' };

describe('the AuthZEN client', () => {
  it('batches concurrent questions into one evaluations call, asking identical ones once', async () => {
    const pdp = await startPdp();
    const client = createAuthzenClient(pdp.url, authz);
    const answers = await Promise.all([
      client.evaluate(question('ada', 'd1', 'ada')),
      client.evaluate(question('bob', 'd1', 'ada')),
      client.evaluate(question('ada', 'd2', 'ada')),
      client.evaluate(question('ada', 'd1', 'ada')),
    ]);
    expect(answers).toEqual([true, false, true, true]);
    expect(pdp.evaluations).toHaveLength(1);
    expect(pdp.evaluations[0]!.evaluations).toHaveLength(3);
    // Its own token, for <issuer>/authz, fetched once.
    expect(pdp.tokenRequests.map((form) => Object.fromEntries(form))).toEqual([
      { grant_type: 'client_credentials', resource: `${pdp.url}/authz` },
    ]);
    expect(pdp.bearers).toEqual(['Bearer t1']);
  });

  it('splits a batch larger than maxBatchSize', async () => {
    const pdp = await startPdp();
    const client = createAuthzenClient(pdp.url, { ...authz, maxBatchSize: 2 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => client.evaluate(question(id, 'd', 'a'))));
    expect(pdp.evaluations.map((call) => call.evaluations.length)).toEqual([2, 2, 1]);
  });

  it('caches decisions (allows and denies) for cacheSeconds, keyed by the whole question', async () => {
    const pdp = await startPdp();
    const client = createAuthzenClient(pdp.url, { ...authz, cacheSeconds: 0.3 });
    expect(await client.evaluate(question('ada', 'd1', 'ada'))).toBe(true);
    expect(await client.evaluate(question('bob', 'd1', 'ada'))).toBe(false);
    // Same question, keys in another order: from the cache.
    expect(
      await client.evaluate({
        resource: { properties: { owner: 'ada' }, id: 'd1', type: 'document' },
        action: { name: 'document:read' },
        subject: { id: 'ada', type: 'user' },
      }),
    ).toBe(true);
    expect(await client.evaluate(question('bob', 'd1', 'ada'))).toBe(false);
    expect(pdp.evaluations).toHaveLength(2);
    // Another context is another question.
    await client.evaluate({ ...question('ada', 'd1', 'ada'), context: { ip: '10.0.0.1' } });
    expect(pdp.evaluations).toHaveLength(3);
    await new Promise((resolve) => setTimeout(resolve, 350));
    pdp.decide = () => false;
    expect(await client.evaluate(question('ada', 'd1', 'ada'))).toBe(false);
    expect(pdp.evaluations).toHaveLength(4);
  });

  it('asks every time with cacheSeconds 0', async () => {
    const pdp = await startPdp();
    const client = createAuthzenClient(pdp.url, { ...authz, cacheSeconds: 0 });
    await client.evaluate(question('ada', 'd1', 'ada'));
    await client.evaluate(question('ada', 'd1', 'ada'));
    expect(pdp.evaluations).toHaveLength(2);
  });

  it('gets a new token before the old one expires', async () => {
    const pdp = await startPdp();
    pdp.expiresIn = 1; // renewed after 0.8 s
    const client = createAuthzenClient(pdp.url, { ...authz, cacheSeconds: 0 });
    await client.evaluate(question('ada', 'd1', 'ada'));
    await client.evaluate(question('ada', 'd1', 'ada'));
    await new Promise((resolve) => setTimeout(resolve, 850));
    await client.evaluate(question('ada', 'd1', 'ada'));
    expect(pdp.bearers).toEqual(['Bearer t1', 'Bearer t1', 'Bearer t2']);
  });

  it('tries once more with a new token after a 401, and fails closed when that is refused too', async () => {
    const pdp = await startPdp();
    const client = createAuthzenClient(pdp.url, { ...authz, cacheSeconds: 0 });
    await client.evaluate(question('ada', 'd1', 'ada'));
    let refusals = 1;
    pdp.fail = () => (refusals-- > 0 ? { status: 401, body: { error: 'invalid_token' } } : undefined);
    expect(await client.evaluate(question('ada', 'd1', 'ada'))).toBe(true);
    expect(pdp.bearers).toEqual(['Bearer t1', 'Bearer t1', 'Bearer t2']);
    pdp.fail = () => ({ status: 401, body: { error: 'invalid_token' } });
    await expect(client.evaluate(question('ada', 'd1', 'ada'))).rejects.toMatchObject({
      name: 'IssuerUnavailableError',
    });
  });

  it.each([
    ['a 500', { status: 500, body: { error: 'server_error' } }],
    ['a 403 (no authz:evaluate)', { status: 403, body: { error: 'insufficient_scope' } }],
    ['too few decisions', { status: 200, body: { evaluations: [] } }],
    ['no evaluations', { status: 200, body: { decision: true } }],
  ])('fails closed on %s, and does not cache the failure', async (_name, failure) => {
    const pdp = await startPdp();
    const client = createAuthzenClient(pdp.url, authz);
    pdp.fail = () => failure;
    await expect(client.evaluate(question('ada', 'd1', 'ada'))).rejects.toMatchObject({
      name: 'IssuerUnavailableError',
    });
    pdp.fail = undefined;
    expect(await client.evaluate(question('ada', 'd1', 'ada'))).toBe(true);
  });

  it('fails closed when Gatehouse cannot be reached or its client is refused', async () => {
    const pdp = await startPdp();
    const url = pdp.url;
    await pdp.close();
    await expect(createAuthzenClient(url, authz).evaluate(question('a', 'd', 'a'))).rejects.toMatchObject({
      name: 'IssuerUnavailableError',
    });
    const other = await startPdp();
    const wrong = createAuthzenClient(other.url, { clientId: 'pep', clientSecret: 'wrong' });
    await expect(wrong.evaluate(question('a', 'd', 'a'))).rejects.toMatchObject({
      name: 'IssuerUnavailableError',
    });
    expect(other.evaluations).toHaveLength(0);
  });

  it('maps a client_credentials token (sub = client id) to a client subject, others to user', () => {
    expect(defaultSubject(user('acc-1'))).toEqual({ type: 'user', id: 'acc-1' });
    expect(defaultSubject({ ...user('svc'), clientId: 'svc' })).toEqual({ type: 'client', id: 'svc' });
  });
});

describe('authorize() in the guard', () => {
  const tokens: Record<string, GuardAuth> = {
    ada: user('ada'),
    bob: user('bob'),
    svc: { ...user('svc'), clientId: 'svc' },
  };
  const options = (pdp: string, extra: Partial<GuardOptions['authz']> = {}): GuardOptions => ({
    issuer: pdp,
    audience: 'https://api.example.com',
    verify: async (token) => tokens[token],
    authz: { ...authz, ...extra },
  });
  const request = (token?: string) => ({
    method: 'GET',
    path: '/documents/d1',
    authorization: token ? [`Bearer ${token}`] : [],
    dpop: [],
  });
  const doc = authorization('document:read', (auth) => ({
    type: 'document',
    id: 'd1',
    properties: { owner: auth.subject === 'svc' ? 'svc' : 'ada' },
  }));

  it('checks the token first (401, no question asked), then answers allow, or a plain 403 for a deny', async () => {
    const pdp = await startPdp();
    const guard = createGuard(options(pdp.url));
    const none = await guard.check(request(), doc);
    expect(none).toMatchObject({ allow: false, status: 401 });
    expect(await guard.check(request('forged'), doc)).toMatchObject({ allow: false, status: 401 });
    expect(pdp.evaluations).toHaveLength(0);

    expect(await guard.check(request('ada'), doc)).toMatchObject({ allow: true, auth: { subject: 'ada' } });
    const denied = await guard.check(request('bob'), doc);
    expect(denied).toEqual({
      allow: false,
      status: 403,
      headers: { 'Cache-Control': 'no-store' },
      body: { error: 'forbidden', error_description: expect.any(String) },
    });
    expect(await guard.check(request('svc'), doc)).toMatchObject({ allow: true });
    expect(pdp.evaluations.flatMap((call) => call.evaluations.map((q) => q.subject))).toEqual([
      { type: 'user', id: 'ada' },
      { type: 'user', id: 'bob' },
      { type: 'client', id: 'svc' },
    ]);
  });

  it('answers 503 with Retry-After, never allow and never 401, when no decision can be had', async () => {
    const pdp = await startPdp();
    const seen: Error[] = [];
    const guard = createGuard({ ...options(pdp.url), onIssuerUnavailable: (error) => seen.push(error) });
    pdp.fail = () => ({ status: 503, body: {} });
    const answer = await guard.check(request('ada'), doc);
    expect(answer).toMatchObject({
      allow: false,
      status: 503,
      headers: { 'Retry-After': '5', 'Cache-Control': 'no-store' },
      body: { error: 'temporarily_unavailable' },
    });
    expect(seen).toHaveLength(1);
    await pdp.close();
    expect(await guard.check(request('ada'), doc)).toMatchObject({ status: 503 });
  });

  it('sends the context, and refuses authorize() without the authz option', async () => {
    const pdp = await startPdp();
    const guard = createGuard(options(pdp.url));
    await guard.check(
      request('ada'),
      authorization('document:read', { type: 'document', id: 'd1' }, () => ({ ip: '10.1.2.3' })),
    );
    expect(pdp.evaluations[0]!.evaluations[0]).toEqual({
      subject: { type: 'user', id: 'ada' },
      action: { name: 'document:read' },
      resource: { type: 'document', id: 'd1' },
      context: { ip: '10.1.2.3' },
    });
    // A resource without an id is the route's mistake: an exception (a 500 from the framework), never a question.
    await expect(
      guard.check(
        request('ada'),
        authorization('document:read', () => ({ type: 'document' }) as never),
      ),
    ).rejects.toThrow(/type and an id/);
    expect(pdp.evaluations).toHaveLength(1);
    const bare = { issuer: pdp.url, audience: 'x', verify: options(pdp.url).verify! };
    expect(() => expressGuard(bare).authorize('a', () => ({ type: 't', id: 'i' }))).toThrow(/authz/);
    expect(() => koaGuard(bare).authorize('a', () => ({ type: 't', id: 'i' }))).toThrow(/authz/);
    expect(() => fastifyGuard(bare).authorize('a', () => ({ type: 't', id: 'i' }))).toThrow(/authz/);
  });
});

describe('authorize() in each adapter', () => {
  async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const verify = async (token: string) => (token === 'ada' || token === 'bob' ? user(token) : undefined);

  it.each(['express', 'fastify', 'koa'] as const)(
    '%s: the resource from the route, 200 / 403 / 401 / 503, concurrent checks in one call',
    async (framework) => {
      const pdp = await startPdp();
      pdp.decide = (q) => q.resource.id === `${q.subject.id}-doc`;
      const options: GuardOptions = {
        issuer: pdp.url,
        audience: 'https://api.example.com',
        verify,
        authz: { ...authz, batchWindowMs: 20 },
      };
      let origin: string;
      if (framework === 'express') {
        const guard = expressGuard(options);
        const app = express();
        app.get(
          '/documents/:id',
          guard.authorize('document:read', (req) => ({
            type: 'document',
            id: (req as unknown as { params: { id: string } }).params.id,
          })),
          (req, res) => res.json({ id: req.params.id, subject: req.auth?.subject }),
        );
        origin = await listen(app);
      } else if (framework === 'fastify') {
        const guard = fastifyGuard(options);
        const app = Fastify();
        app.decorateRequest('auth', null);
        app.get(
          '/documents/:id',
          {
            onRequest: guard.authorize('document:read', (request) => ({
              type: 'document',
              id: (request.params as { id: string }).id,
            })),
          },
          async (request) => ({ id: (request.params as { id: string }).id, subject: request.auth?.subject }),
        );
        await app.listen({ port: 0, host: '127.0.0.1' });
        servers.push(app.server);
        origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      } else {
        const guard = koaGuard(options);
        const app = new Koa();
        const check = guard.authorize('document:read', (ctx) => ({
          type: 'document',
          id: ctx.originalUrl.split('/')[2]!,
        }));
        app.use((ctx, next) =>
          check(ctx, async () => {
            ctx.body = { id: ctx.path.split('/')[2], subject: ctx.state.auth?.subject };
            await next();
          }),
        );
        origin = await listen(app.callback());
      }
      const get = async (path: string, token?: string) => {
        const response = await fetch(`${origin}${path}`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
        return {
          status: response.status,
          body: (await response.json()) as Record<string, unknown>,
          response,
        };
      };
      const [own, other] = await Promise.all([
        get('/documents/ada-doc', 'ada'),
        get('/documents/ada-doc', 'bob'),
      ]);
      expect(own.status).toBe(200);
      expect(own.body).toEqual({ id: 'ada-doc', subject: 'ada' });
      expect(other.status).toBe(403);
      expect(other.body.error).toBe('forbidden');
      expect(other.response.headers.get('www-authenticate')).toBeNull();
      expect(pdp.evaluations).toHaveLength(1);
      expect(pdp.evaluations[0]!.evaluations).toHaveLength(2);
      expect((await get('/documents/ada-doc')).status).toBe(401);
      expect(pdp.evaluations).toHaveLength(1);
      pdp.fail = () => ({ status: 500, body: {} });
      const down = await get('/documents/bob-doc', 'bob');
      expect(down.status).toBe(503);
      expect(down.body.error).toBe('temporarily_unavailable');
    },
  );
});
