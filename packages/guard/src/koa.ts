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
import type { AuthzenEntity } from './authzen.ts';
import { guardRequest, type NodeLikeRequest } from './node.ts';
import type { GuardAuth } from './types.ts';

export * from './index.ts';

/** The part of a Koa context the guard reads and writes. */
export interface KoaLikeContext {
  req: NodeLikeRequest;
  originalUrl: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  state: any;
  status: number;
  body: unknown;
  set(field: string, value: string | string[]): void;
}

export type KoaMiddleware = (ctx: KoaLikeContext, next: () => Promise<unknown>) => Promise<void>;

export interface KoaGuard {
  /** Requires a valid token holding permission P (each of them, for a list). */
  requirePermission(required: string | readonly string[]): KoaMiddleware;
  /** Requires a valid token holding at least one of the permissions. */
  requireAnyPermission(any: readonly string[]): KoaMiddleware;
  /** Requires a valid token with scope S (each of them, for a list). */
  requireScope(required: string | readonly string[]): KoaMiddleware;
  /** Requires a valid token, nothing more. */
  requireAuth(): KoaMiddleware;
  /**
   * Requires a valid token whose subject Gatehouse's policies permit `action` on the resource `resourceOf(ctx)`
   * gives (AuthZEN; needs the guard's `authz` option). A deny is a plain 403, no decision to be had a 503.
   */
  authorize<C extends KoaLikeContext = KoaLikeContext>(
    action: string,
    resourceOf: (ctx: C, auth: GuardAuth) => AuthzenEntity | Promise<AuthzenEntity>,
    options?: {
      context?:
        | Record<string, unknown>
        | ((
            ctx: C,
            auth: GuardAuth,
          ) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>);
    },
  ): KoaMiddleware;
  /** Any requirement, for composed checks. */
  require(requirement: Requirement): KoaMiddleware;
  /** The framework-free guard underneath. */
  readonly guard: Guard;
}

/**
 * Koa (2 and 3) middleware. A passed check sets `ctx.state.auth` and calls `next()`; a refusal is answered at once
 * (401, 403, 503 or 400 with a JSON body).
 *
 * @example
 * const guard = createGuard({ issuer: 'https://id.example.com', audience: 'https://api.example.com' });
 * router.get('/articles', guard.requirePermission('articles:read'), (ctx) => { ctx.body = ctx.state.auth; });
 */
export function createGuard(options: GuardOptions | Guard): KoaGuard {
  const guard = 'check' in options ? options : createCoreGuard(options);
  const middleware =
    (requirement: Requirement | ((ctx: KoaLikeContext) => Requirement)): KoaMiddleware =>
    async (ctx, next) => {
      const wanted = typeof requirement === 'function' ? requirement(ctx) : requirement;
      const decision = await guard.check(guardRequest(ctx.req, ctx.originalUrl), wanted);
      if (decision.allow) {
        ctx.state.auth = decision.auth;
        await next();
        return;
      }
      ctx.status = decision.status;
      for (const [name, value] of Object.entries(decision.headers)) ctx.set(name, value);
      ctx.body = decision.body;
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
      return middleware((ctx) =>
        authorization(
          action,
          (auth) => resourceOf(ctx as never, auth),
          typeof context === 'function' ? (auth) => context(ctx as never, auth) : context,
        ),
      );
    },
    require: middleware,
  };
}
