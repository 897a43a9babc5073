import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import compose from 'koa-compose';
import type { Logger } from 'pino';
import type { GatehouseConfig } from './config/load-config.ts';
import type { Metrics } from './libraries/metrics.ts';
import type { PageRenderer } from './libraries/page-renderer.ts';
import type { RequestInfoScope } from './storage/request-info.ts';
import { errorHandler } from './middleware/error-handler.ts';
import { requestContext } from './middleware/request-context.ts';
import { securityHeaders } from './middleware/security-headers.ts';
import type { ProviderHost } from './oidc/provider-host.ts';
import { forwardedHeaders } from './middleware/forwarded-headers.ts';

function staticAssets(): Middleware {
  const dir = fileURLToPath(new URL('../views/assets/', import.meta.url));
  const assets = new Map(readdirSync(dir).map((name) => [`/assets/${name}`, readFileSync(`${dir}${name}`)]));
  return async (ctx, next) => {
    const asset = ctx.method === 'GET' || ctx.method === 'HEAD' ? assets.get(ctx.path) : undefined;
    if (!asset) return next();
    ctx.type = ctx.path.split('.').pop() ?? 'application/octet-stream';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = asset;
  };
}

function metricsEndpoint(metrics: Metrics): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== '/metrics' || ctx.method !== 'GET') return next();
    ctx.set('Content-Type', metrics.contentType);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await metrics.render();
  };
}

/** Paths Gatehouse answers itself; everything else is oidc-provider's. */
const ownPrefixes = [
  '/healthz',
  '/readyz',
  '/metrics',
  '/assets/',
  '/interaction/',
  '/account',
  '/federation/',
  '/admin/api',
];

export interface HttpAppParts {
  config: GatehouseConfig;
  log: Logger;
  requestInfo: RequestInfoScope;
  pages: PageRenderer;
  metrics: Metrics;
  cookieKeys: string[];
  /** Routers of pages that post forms (their bodies are parsed here; oidc-provider reads its own). */
  formRouters: Router[];
  /** Routers that parse what they need themselves (JSON APIs, redirects). */
  routers: Router[];
  providerHost: ProviderHost;
}

/**
 * The Koa application: request id and logging, security headers and the error middleware around everything; then
 * Gatehouse's own routes for the paths it owns (one prefix check, so protocol requests do not walk its routers);
 * everything else goes to oidc-provider.
 */
export function createHttpApp(parts: HttpAppParts): Koa {
  const { config } = parts;
  const app = new Koa({ keys: parts.cookieKeys, proxy: config.trustProxy !== false });
  app.silent = true;
  const body = bodyParser({
    enableTypes: ['form', 'json'],
    formLimit: `${config.http.bodyLimitBytes}b`,
    jsonLimit: `${config.http.bodyLimitBytes}b`,
  });

  // Router middleware expects the router's own context type; Koa's plain one is what it really gets here.
  const mount = (router: Router) => [router.routes(), router.allowedMethods()] as unknown as Middleware[];
  const own: Middleware[] = [metricsEndpoint(parts.metrics), staticAssets()];
  for (const router of parts.formRouters) {
    own.push(
      (ctx, next) => (router.match(ctx.path, ctx.method).route ? body(ctx, next) : next()),
      ...mount(router),
    );
  }
  for (const router of parts.routers) own.push(...mount(router));
  const ownRoutes = compose(own);

  app.use(forwardedHeaders({ trustProxy: config.trustProxy, issuer: config.issuer }));
  app.use(
    requestContext(parts.log, parts.requestInfo, (done) =>
      parts.metrics.observeRequest(done.path, done.method, done.status, done.seconds),
    ),
  );
  app.use(securityHeaders({ https: config.issuer.startsWith('https:') }));
  app.use(errorHandler(parts.pages, () => parts.metrics.storageError()));
  app.use((ctx, next) =>
    ownPrefixes.some((prefix) => ctx.path.startsWith(prefix)) ? ownRoutes(ctx, next) : next(),
  );
  app.use(async (ctx) => {
    ctx.respond = false;
    await parts.providerHost.handle(ctx.req, ctx.res);
  });
  return app;
}
