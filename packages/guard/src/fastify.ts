import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
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
import { guardRequest } from './node.ts';
import type { GuardAuth } from './types.ts';

export * from './index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `@gatehouse/guard/fastify` once the access token is verified and the route's check passed. */
    auth: GuardAuth | null;
  }
  interface FastifyInstance {
    /** The guard registered with the `gatehouse` plugin. */
    gatehouse: FastifyGuard;
  }
}

/** An `onRequest` (or `preHandler`) hook. */
export type FastifyGuardHook = (
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<FastifyReply | undefined>;

export interface FastifyGuard {
  /** Requires a valid token holding permission P (each of them, for a list). */
  requirePermission(required: string | readonly string[]): FastifyGuardHook;
  /** Requires a valid token holding at least one of the permissions. */
  requireAnyPermission(any: readonly string[]): FastifyGuardHook;
  /** Requires a valid token with scope S (each of them, for a list). */
  requireScope(required: string | readonly string[]): FastifyGuardHook;
  /** Requires a valid token, nothing more. */
  requireAuth(): FastifyGuardHook;
  /**
   * Requires a valid token whose subject Gatehouse's policies permit `action` on the resource `resourceOf(request)`
   * gives (AuthZEN; needs the guard's `authz` option). A deny is a plain 403, no decision to be had a 503.
   */
  authorize(
    action: string,
    resourceOf: (request: FastifyRequest, auth: GuardAuth) => AuthzenEntity | Promise<AuthzenEntity>,
    options?: {
      context?:
        | Record<string, unknown>
        | ((
            request: FastifyRequest,
            auth: GuardAuth,
          ) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>);
    },
  ): FastifyGuardHook;
  /** Any requirement, for composed checks. */
  require(requirement: Requirement): FastifyGuardHook;
  /** The framework-free guard underneath. */
  readonly guard: Guard;
}

/**
 * Fastify hooks: use them as a route's `onRequest` (or `preHandler`), or `fastify.addHook('onRequest', ...)` for
 * every route of a plugin. A passed check sets `request.auth`; a refusal is answered at once (401, 403, 503 or 400
 * with a JSON body). Register {@link gatehouse} (or call `fastify.decorateRequest('auth', null)`) once, so that
 * `request.auth` is a declared decoration.
 */
export function createGuard(options: GuardOptions | Guard): FastifyGuard {
  const guard = 'check' in options ? options : createCoreGuard(options);
  const hook =
    (requirement: Requirement | ((request: FastifyRequest) => Requirement)): FastifyGuardHook =>
    async (request, reply) => {
      const wanted = typeof requirement === 'function' ? requirement(request) : requirement;
      const decision = await guard.check(guardRequest(request.raw, request.url), wanted);
      if (decision.allow) {
        request.auth = decision.auth;
        return undefined;
      }
      reply.code(decision.status).headers(decision.headers).send(decision.body);
      return reply;
    };
  return {
    guard,
    requirePermission: (required) => hook(permission(required)),
    requireAnyPermission: (any) => hook(anyPermission(any)),
    requireScope: (required) => hook(scope(required)),
    requireAuth: () => hook(authenticated),
    authorize: (action, resourceOf, options = {}) => {
      if (!guard.options.authz) throw new TypeError('@gatehouse/guard: authorize() needs the authz option');
      const { context } = options;
      return hook((request) =>
        authorization(
          action,
          (auth) => resourceOf(request, auth),
          typeof context === 'function' ? (auth) => context(request, auth) : context,
        ),
      );
    },
    require: hook,
  };
}

/**
 * The Fastify plugin: `await app.register(gatehouse, { issuer, audience })` decorates requests with `auth` and the
 * instance with `gatehouse` (the {@link FastifyGuard}), for the whole application (not encapsulated).
 *
 * @example
 * await app.register(gatehouse, { issuer: 'https://id.example.com', audience: 'https://api.example.com' });
 * app.get('/articles', { onRequest: app.gatehouse.requirePermission('articles:read') }, async (request) => request.auth);
 */
export const gatehouse: FastifyPluginAsync<GuardOptions> = Object.assign(
  async function gatehouseGuard(
    fastify: Parameters<FastifyPluginAsync<GuardOptions>>[0],
    options: GuardOptions,
  ) {
    if (!fastify.hasRequestDecorator('auth')) fastify.decorateRequest('auth', null);
    fastify.decorate('gatehouse', createGuard(options));
  },
  {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: '@gatehouse/guard',
    [Symbol.for('plugin-meta')]: { name: '@gatehouse/guard', fastify: '5.x' },
  },
);

export default gatehouse;
