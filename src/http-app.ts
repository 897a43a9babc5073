import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
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
import { requestContext, requestTracking } from './middleware/request-context.ts';
import { securityHeaderList, securityHeaders } from './middleware/security-headers.ts';
import type { ProviderHost } from './oidc/provider-host.ts';
import { forwardedHeaderRewrite, forwardedHeaders } from './middleware/forwarded-headers.ts';
import { createFrontDoorRouter } from './routes/front-door.ts';

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
  // The admin API (`/admin/api`) and the console's pages (`/admin`).
  '/admin',
  // The pages of the links Gatehouse mails (src/routes/password-reset/).
  '/password-reset',
  '/email-verification',
  '/invitation',
  '/sign-up',
  '/email-change',
  // The development mailbox (src/routes/dev-mailbox.ts): only outside production, without smtp.url.
  '/dev/',
  // The AuthZEN API (src/routes/authzen/): its metadata document and its endpoints.
  '/.well-known/authzen-configuration',
  '/access/',
];

/**
 * The paths oidc-provider answers: its default `routes` (node_modules/oidc-provider/lib/helpers/defaults.js,
 * `routes`; Gatehouse keeps them) with what hangs below them (`/auth/:uid`, `/device/auth`, `/reg/:clientId`,
 * `/session/end/confirm`), and its discovery document. Any other path is unknown: it gets Gatehouse's 404 (a page for
 * browsers, JSON for API clients) instead of oidc-provider's plain-text "Not Found".
 */
const providerPrefixes = [
  '/.well-known/openid-configuration',
  '/auth',
  '/backchannel',
  '/challenge',
  '/credential',
  '/device',
  '/jwks',
  '/me',
  '/reg',
  '/request',
  '/session/end',
  '/token',
];

/** Case-insensitive, as oidc-provider's router is (`lib/helpers/router.js`): `/TOKEN` is its token endpoint. */
function isProviderPath(path: string): boolean {
  const folded = path.toLowerCase();
  return providerPrefixes.some((prefix) => folded === prefix || folded.startsWith(`${prefix}/`));
}

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
 * Koa's `path` of a request target it parses the fast way (parseurl: starts with `/`, none of `\t\n\f\r #`,
 * U+00A0, U+FEFF anywhere): the part before `?`. Anything else is left to Koa (undefined).
 */
function plainPath(url: string | undefined): string | undefined {
  if (url === undefined || url.charCodeAt(0) !== 0x2f) return undefined;
  let end = url.length;
  for (let i = 1; i < url.length; i += 1) {
    const code = url.charCodeAt(i);
    if (code === 0x3f) end = Math.min(end, i);
    else if (
      code === 0x09 ||
      code === 0x0a ||
      code === 0x0c ||
      code === 0x0d ||
      code === 0x20 ||
      code === 0x23 ||
      code === 0xa0 ||
      code === 0xfeff
    )
      return undefined;
  }
  return url.slice(0, end);
}

const isOwnPath = (path: string) => path === '/' || ownPrefixes.some((prefix) => path.startsWith(prefix));

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | undefined;

/**
 * Koa with a front door: a request the front door takes (`Promise`) never gets a Koa context of Gatehouse's; any
 * other (`undefined`) goes through the middleware as usual.
 */
class FrontedKoa extends Koa {
  front: RequestHandler = () => undefined;

  override callback() {
    const koa = super.callback();
    const front = this.front;
    return (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) =>
      front(req as IncomingMessage, res as ServerResponse) ?? koa(req, res);
  }
}

/**
 * The Koa application: request id and logging, security headers and the error middleware around everything; then
 * Gatehouse's own routes for the paths it owns (one prefix check, so protocol requests do not walk its routers);
 * oidc-provider's paths go to oidc-provider, and anything else is a 404 from the error middleware.
 *
 * oidc-provider's requests skip Gatehouse's Koa context: oidc-provider builds its own, and a second one around it
 * (context, request and response objects, a middleware chain, an on-finished hook) cost about a third of the
 * JavaScript time of a discovery request and 15 KB of garbage each (CPU and heap profiles of the discovery bench,
 * bench/README.md). The same steps
 * run on the bare request instead, in the same order: forwarded headers, request id and its log line and metrics,
 * request info, security headers. Gatehouse's error middleware has nothing to add there: oidc-provider answers
 * its own errors, and the ones of Gatehouse's middleware inside it go through `provider-error-guard.ts`.
 */
export function createHttpApp(parts: HttpAppParts): Koa {
  const { config } = parts;
  const app = new FrontedKoa({ keys: parts.cookieKeys, proxy: config.trustProxy !== false });
  app.silent = true;
  const body = bodyParser({
    enableTypes: ['form', 'json'],
    formLimit: `${config.http.bodyLimitBytes}b`,
    jsonLimit: `${config.http.bodyLimitBytes}b`,
  });

  // Router middleware expects the router's own context type; Koa's plain one is what it really gets here.
  const mount = (router: Router) => [router.routes(), router.allowedMethods()] as unknown as Middleware[];
  const own: Middleware[] = [
    metricsEndpoint(parts.metrics, config),
    staticAssets(),
    ...mount(createFrontDoorRouter({ issuer: config.issuer, pages: parts.pages })),
  ];
  for (const router of parts.formRouters) {
    own.push(
      (ctx, next) => (router.match(ctx.path, ctx.method).route ? body(ctx, next) : next()),
      ...mount(router),
    );
  }
  for (const router of parts.routers) own.push(...mount(router));
  const ownRoutes = compose(own);

  const forwarding = { trustProxy: config.trustProxy, issuer: config.issuer };
  const observe = (done: { path: string; method: string; status: number; seconds: number }) =>
    parts.metrics.observeRequest(done.path, done.method, done.status, done.seconds);
  const https = config.issuer.startsWith('https:');
  app.use(forwardedHeaders(forwarding));
  app.use(requestContext(parts.log, parts.requestInfo, observe));
  app.use(securityHeaders({ https }));
  app.use(errorHandler(parts.pages, () => parts.metrics.storageError()));
  app.use((ctx, next) => (isOwnPath(ctx.path) ? ownRoutes(ctx, next) : next()));
  app.use(async (ctx, next) => {
    // Unknown paths fall through to the error middleware's 404.
    if (!isProviderPath(ctx.path)) return next();
    ctx.respond = false;
    await parts.providerHost.handle(ctx.req, ctx.res);
  });

  const rewriteForwarded = forwardedHeaderRewrite(forwarding);
  const track = requestTracking(parts.log, parts.requestInfo, observe);
  const headers = securityHeaderList({ https });
  const proxy = app.proxy;
  app.front = (req, res) => {
    const path = plainPath(req.url);
    if (path === undefined || isOwnPath(path) || !isProviderPath(path)) return undefined;
    rewriteForwarded(req);
    // Koa's `ctx.ip`: the forwarded address (one, after the rewrite) when proxies are trusted, else the peer's.
    const forwardedFor = req.headers['x-forwarded-for'];
    const ip = (proxy && typeof forwardedFor === 'string' && forwardedFor) || req.socket.remoteAddress || '';
    return track(req, res, path, ip, () => {
      for (const [name, value] of headers) res.setHeader(name, value);
      return parts.providerHost.handle(req, res);
    }).catch((error: unknown) => {
      // oidc-provider's Koa answers its own failures; should anything still reject, the client is not left waiting.
      parts.log.error({ err: error, path }, 'request failed');
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.end(
          JSON.stringify({ error: 'server_error', error_description: 'Something went wrong on our side.' }),
        );
      } else res.destroy();
    });
  };
  return app;
}
