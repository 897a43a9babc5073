import { createHash, timingSafeEqual } from 'node:crypto';
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
import { AppError, notFound } from './errors/app-error.ts';
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

/**
 * `GET /metrics` on the public port. Prometheus metrics name routes, clients' grant types and audit event counts: an
 * outsider learns traffic patterns and attack feedback from them, so in production they are not public.
 *
 * Why a bearer token rather than a second port: Keycloak puts metrics on a management port (9000), Zitadel on the
 * main one; what both sets of operators expect is "not readable by the public, scraped by Prometheus". A token
 * does that with one listener: Prometheus sends it natively (`authorization: { credentials_file }` in a scrape
 * config), it works the same behind a load balancer, in a container with one published port and in every cluster
 * worker (which share the one port), and a proxy may still hide `/metrics` entirely. Compared in constant time.
 *
 * - `metrics.token` set: a request without `Authorization: Bearer <token>` (or with another one) is 401.
 * - no token, outside production: open, as a developer expects.
 * - no token, in production: not served (404, like any unknown path); start-up logs how to enable it.
 */
export function metricsAccess(
  config: Pick<GatehouseConfig, 'production' | 'metrics'>,
): 'open' | 'token' | 'off' {
  if (config.metrics.token !== null) return 'token';
  return config.production ? 'off' : 'open';
}

function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  // Hash both sides so the comparison takes the same time whatever the length of what was sent.
  const given = createHash('sha256')
    .update(match?.[1] ?? '')
    .digest();
  return timingSafeEqual(given, expected) && match !== null;
}

function metricsEndpoint(metrics: Metrics, config: GatehouseConfig): Middleware {
  const access = metricsAccess(config);
  const expected = createHash('sha256')
    .update(config.metrics.token ?? '')
    .digest();
  return async (ctx, next) => {
    if (ctx.path !== '/metrics' || ctx.method !== 'GET') return next();
    if (access === 'off') throw notFound('There is nothing at this address.');
    if (access === 'token' && !bearerMatches(ctx.get('Authorization') || undefined, expected)) {
      ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
      throw new AppError('invalid_token', 401, 'metrics need the metrics bearer token');
    }
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
  // The pages of the links Gatehouse mails (src/routes/password-reset/).
  '/password-reset',
  '/email-verification',
  // The AuthZEN API (src/routes/authzen/): its metadata document and its endpoints.
  '/.well-known/authzen-configuration',
  '/access/',
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
  const own: Middleware[] = [metricsEndpoint(parts.metrics, config), staticAssets()];
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
