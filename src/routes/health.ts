import Router from '@koa/router';
import type Koa from 'koa';

/**
 * Where an app records that its server is shutting down: a property of `app.context` (Koa's documented extension
 * point), so every request's `ctx` sees it without state at module level.
 */
const shuttingDown = Symbol('gatehouse.shuttingDown');

/**
 * From now on `/readyz` of this app answers 503, so load balancers take the process out of rotation while the
 * requests in flight finish (called by `drain` in src/server.ts on SIGTERM).
 *
 * @example
 * markShuttingDown(gatehouse.app); // GET /readyz → 503 {"status":"shutting down"}
 */
export function markShuttingDown(app: Koa): void {
  (app.context as unknown as Record<symbol, unknown>)[shuttingDown] = true;
}

function isShuttingDown(ctx: Koa.Context): boolean {
  return (ctx as unknown as Record<symbol, unknown>)[shuttingDown] === true;
}

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/**
 * `/healthz`: the process answers. `/readyz`: every storage service answers too (load balancers take the process
 * out of rotation while Postgres or Redis is unreachable, and back when it returns), and the process is not shutting
 * down (503 from the moment SIGTERM arrives, while requests in flight finish).
 */
export function createHealthRouter(checks: ReadinessCheck[]): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (isShuttingDown(ctx)) {
      ctx.status = 503;
      ctx.body = { status: 'shutting down' };
      return;
    }
    const results = await Promise.all(
      checks.map(async ({ name, check }) => {
        try {
          await Promise.race([
            check(),
            new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2000).unref()),
          ]);
          return [name, 'ok'] as const;
        } catch {
          return [name, 'unavailable'] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) };
  });
  return router;
}
