import {
  anyPermission,
  authenticated,
  authorization,
  createGuard as createCoreGuard,
  permission,
  scope,
  type Guard,
  type GuardOptions,
  type Requirement,
} from './core.ts';
import { guardRequest, type NodeLikeRequest } from './node.ts';
import type { AuthzenEntity } from './authzen.ts';
import type { GuardAuth } from './types.ts';

export * from './index.ts';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `@gatehouse/guard/express` once the access token is verified and the route's check passed. */
      auth?: GuardAuth;
    }
  }
}

/** The part of an Express request the guard reads (and writes `auth` to). */
export interface ExpressLikeRequest extends NodeLikeRequest {
  originalUrl?: string;
  auth?: GuardAuth;
}

/** The part of an Express (or Node) response the guard writes. */
export interface ExpressLikeResponse {
  statusCode: number;
  headersSent?: boolean;
  locals?: Record<string, unknown>;
  setHeader(name: string, value: string | string[]): unknown;
  end(body?: string): unknown;
}

export type ExpressMiddleware = (
  req: ExpressLikeRequest,
  res: ExpressLikeResponse,
  next: (error?: unknown) => void,
) => void;

export interface ExpressGuard {
  /** Requires a valid token holding permission P (each of them, for a list). */
  requirePermission(required: string | readonly string[]): ExpressMiddleware;
  /** Requires a valid token holding at least one of the permissions. */
  requireAnyPermission(any: readonly string[]): ExpressMiddleware;
  /** Requires a valid token with scope S (each of them, for a list). */
  requireScope(required: string | readonly string[]): ExpressMiddleware;
  /** Requires a valid token, nothing more. */
  requireAuth(): ExpressMiddleware;
  /**
   * Requires a valid token whose subject Gatehouse's policies permit `action` on the resource `resourceOf(req)`
   * gives (AuthZEN; needs the guard's `authz` option). A deny is a plain 403, no decision to be had a 503.
   */
  authorize<R extends ExpressLikeRequest = ExpressLikeRequest>(
    action: string,
    resourceOf: (req: R, auth: GuardAuth) => AuthzenEntity | Promise<AuthzenEntity>,
    options?: {
      context?:
        | Record<string, unknown>
        | ((
            req: R,
            auth: GuardAuth,
          ) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>);
    },
  ): ExpressMiddleware;
  /** Any requirement, for composed checks. */
  require(requirement: Requirement): ExpressMiddleware;
  /** The framework-free guard underneath. */
  readonly guard: Guard;
}

/**
 * Express (4 and 5) middleware. A passed check sets `req.auth` and `res.locals.auth`; a refusal is answered at once
 * (401, 403, 503 or 400 with a JSON body); only an unexpected exception goes to `next(error)`.
 *
 * @example
 * const guard = createGuard({ issuer: 'https://id.example.com', audience: 'https://api.example.com' });
 * app.get('/articles', guard.requirePermission('articles:read'), (req, res) => res.json(req.auth));
 */
export function createGuard(options: GuardOptions | Guard): ExpressGuard {
  const guard = 'check' in options ? options : createCoreGuard(options);
  const middleware =
    (requirement: Requirement | ((req: ExpressLikeRequest) => Requirement)): ExpressMiddleware =>
    (req, res, next) => {
      const wanted = typeof requirement === 'function' ? requirement(req) : requirement;
      guard.check(guardRequest(req, req.originalUrl ?? req.url), wanted).then((decision) => {
        if (decision.allow) {
          req.auth = decision.auth;
          if (res.locals) res.locals.auth = decision.auth;
          next();
          return;
        }
        res.statusCode = decision.status;
        for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.end(JSON.stringify(decision.body));
      }, next);
    };
  return {
    guard,
    requirePermission: (required) => middleware(permission(required)),
    requireAnyPermission: (any) => middleware(anyPermission(any)),
    requireScope: (required) => middleware(scope(required)),
    requireAuth: () => middleware(authenticated),
    authorize: (action, resourceOf, options = {}) => {
      if (!guard.options.authz) throw new TypeError('@gatehouse/guard: authorize() needs the authz option');
      const { context } = options;
      return middleware((req) =>
        authorization(
          action,
          (auth) => resourceOf(req as never, auth),
          typeof context === 'function' ? (auth) => context(req as never, auth) : context,
        ),
      );
    },
    require: middleware,
  };
}
