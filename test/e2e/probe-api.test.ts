import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import {
  createIntrospectionVerifier,
  createJwtVerifier,
} from '../../src/middleware/access-token-verifiers.ts';
import { requirePermission, type AccessTokenVerifier } from '../../src/middleware/require-permission.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';

/**
 * `gatehouse probe-api` against three APIs on loopback: one that follows the 401/403 rule with JWT verification,
 * one that follows it with introspection (opaque tokens), and one that answers 401 where 403 is due.
 */
const articles = 'https://api.example.com/articles';
const reports = 'https://api.example.com/reports';

async function serve(app: Koa): Promise<{ server: Server; origin: string }> {
  const server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function api(verify: AccessTokenVerifier, permission: string): Koa {
  const router = new Router();
  router.delete('/items/1', requirePermission(permission, { verify }), (ctx) => {
    ctx.status = 204;
  });
  const app = new Koa();
  app.use(router.routes());
  return app;
}

/** Wrong on purpose: treats "not allowed" as "not signed in". */
function confusedApi(verify: AccessTokenVerifier, permission: string): Koa {
  return new Koa().use(async (ctx) => {
    const token = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1];
    const access = token ? await verify(token) : undefined;
    if (!access || !access.permissions.includes(permission)) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      return;
    }
    ctx.status = 204;
  });
}

describe('gatehouse probe-api and explain', () => {
  let gatehouse: GatehouseProcess;
  const servers: Server[] = [];
  let correct: string;
  let confused: string;
  let introspecting: string;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess();
    expect(
      (
        await gatehouse.cli(
          'api',
          'create',
          '--identifier',
          articles,
          '--permission',
          'articles:delete',
          '--permission',
          'articles:read',
        )
      ).code,
    ).toBe(0);
    expect(
      (
        await gatehouse.cli(
          'api',
          'create',
          '--identifier',
          reports,
          '--permission',
          'reports:delete',
          '--format',
          'opaque',
        )
      ).code,
    ).toBe(0);
    expect(
      (
        await gatehouse.cli(
          'client',
          'create',
          '--id',
          'reports-api',
          '--secret',
          'reports-api-secret-0123',
          '--grant-type',
          'client_credentials',
        )
      ).code,
    ).toBe(0);
    const jwt = createJwtVerifier({ issuer: gatehouse.url, audience: articles });
    const introspection = createIntrospectionVerifier({
      issuer: gatehouse.url,
      audience: reports,
      clientId: 'reports-api',
      clientSecret: 'reports-api-secret-0123',
    });
    for (const [app, assign] of [
      [api(jwt, 'articles:delete'), (origin: string) => (correct = origin)],
      [confusedApi(jwt, 'articles:delete'), (origin: string) => (confused = origin)],
      [api(introspection, 'reports:delete'), (origin: string) => (introspecting = origin)],
    ] as const) {
      const { server, origin } = await serve(app);
      servers.push(server);
      assign(origin);
    }
  }, 90_000);

  afterAll(async () => {
    for (const server of servers) server.close();
    await gatehouse.cleanup();
  });

  it('passes an API that follows the 401/403 rule with JWT verification', async () => {
    const result = await gatehouse.cli(
      'probe-api',
      '--url',
      `${correct}/items/1`,
      '--method',
      'DELETE',
      '--resource',
      articles,
      '--permission',
      'articles:delete',
      '--json',
    );
    expect(result.code).toBe(0);
    const report = result.json<{
      passed: boolean;
      cases: { name: string; status: number; verdict: string }[];
    }>();
    expect(report.passed).toBe(true);
    expect(report.cases.map((probe) => [probe.name, probe.status, probe.verdict])).toEqual([
      ['no token', 401, 'ok'],
      ['malformed token', 401, 'ok'],
      ['expired token', 401, 'ok'],
      ['token for another audience', 401, 'ok'],
      ['token without articles:delete', 403, 'ok'],
      ['token with articles:delete', 204, 'ok'],
    ]);
  });

  it('passes an API that introspects opaque tokens, including a revoked one', async () => {
    const result = await gatehouse.cli(
      'probe-api',
      '--url',
      `${introspecting}/items/1`,
      '--method',
      'DELETE',
      '--resource',
      reports,
      '--permission',
      'reports:delete',
      '--json',
    );
    const report = result.json<{ passed: boolean; cases: { name: string; status: number }[] }>();
    expect(result.code).toBe(0);
    expect(report.cases.map((probe) => [probe.name, probe.status])).toContainEqual(['revoked token', 401]);
  });

  it('fails with exit code 1 an API that answers 401 where 403 is due, saying why', async () => {
    const result = await gatehouse.cli(
      'probe-api',
      '--url',
      `${confused}/items/1`,
      '--method',
      'DELETE',
      '--resource',
      articles,
      '--permission',
      'articles:delete',
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /token without articles:delete\s+403 \+ error="insufficient_scope"\s+401 .*fail: answered 401 for a valid token/,
    );
  });

  it('removes its temporary clients and role', async () => {
    const clients = (await gatehouse.cli('client', 'list', '--json')).json<{ id: string }[]>();
    const roles = (await gatehouse.cli('role', 'list', '--json')).json<{ name: string }[]>();
    expect(clients.map((client) => client.id).filter((id) => id.startsWith('probe-'))).toEqual([]);
    expect(roles.map((role) => role.name).filter((name) => name.startsWith('probe-'))).toEqual([]);
  });

  it('refuses a permission the API does not declare, with exit code 2', async () => {
    const result = await gatehouse.cli(
      'probe-api',
      '--url',
      `${correct}/items/1`,
      '--resource',
      articles,
      '--permission',
      'articles:fly',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('does not declare articles:fly');
  });

  it('explains through which role a user holds a permission, or why not', async () => {
    await gatehouse.cli('role', 'create', 'moderator', '--permission', 'articles:delete');
    await gatehouse.cli(
      'user',
      'create',
      '--email',
      'mo@example.com',
      '--password',
      'moderator passphrase',
      '--role',
      'moderator',
    );
    await gatehouse.cli(
      'user',
      'create',
      '--email',
      'nobody@example.com',
      '--password',
      'no roles passphrase',
    );
    expect(
      (
        await gatehouse.cli(
          'explain',
          '--email',
          'mo@example.com',
          '--permission',
          'articles:delete',
          '--resource',
          articles,
          '--json',
        )
      ).json(),
    ).toMatchObject({
      granted: true,
      via: ['moderator'],
    });
    const no = await gatehouse.cli(
      'explain',
      '--email',
      'nobody@example.com',
      '--permission',
      'articles:delete',
    );
    expect(no.stdout).toContain(
      'nobody@example.com does not hold articles:delete: the account holds no roles',
    );
    const undeclared = (
      await gatehouse.cli(
        'explain',
        '--email',
        'mo@example.com',
        '--permission',
        'articles:delete',
        '--resource',
        reports,
        '--json',
      )
    ).json();
    expect(undeclared).toMatchObject({ granted: false, via: ['moderator'] });

    // Held and declared, but a token carries it only when the client is allowed the API and asks for it.
    await gatehouse.cli('client', 'create', '--id', 'blog', '--redirect-uri', 'http://127.0.0.1:9/cb');
    const notAllowed = await gatehouse.cli(
      'explain',
      '--email',
      'mo@example.com',
      '--permission',
      'articles:delete',
      '--resource',
      articles,
      '--client',
      'blog',
    );
    expect(notAllowed.stdout).toContain('the client blog is not allowed the API');
    await gatehouse.cli('client', 'update', '--id', 'blog', '--api', articles);
    const asked = (
      await gatehouse.cli(
        'explain',
        '--email',
        'mo@example.com',
        '--permission',
        'articles:delete',
        '--resource',
        articles,
        '--client',
        'blog',
        '--json',
      )
    ).json<{ granted: boolean; reason: string }>();
    expect(asked.granted).toBe(true);
    expect(asked.reason).toContain(
      'only when the client blog asks for the scope articles:delete and the user consents',
    );
    expect((await gatehouse.cli('explain', '--email', 'ghost@example.com', '--permission', 'x')).code).toBe(
      2,
    );
  });
});
