import { TooManyAttempts } from '../errors/too-many-attempts.ts';
import type { Attempt, AttemptThrottle } from '../libraries/attempt-throttle.ts';
import { guardStorage } from '../storage/guarded-adapter.ts';
import { throttleKeys } from '../vocabulary/throttle-keys.ts';
import { providerRouteMatcher, type ProviderMiddleware } from './provider-paths.ts';

/** oidc-provider's routes where a client authenticates, by route name, at the paths Gatehouse configures. */
const clientAuthenticatingRoutes = new Map([
  ['token', '/token'],
  ['introspection', '/token/introspection'],
  ['revocation', '/token/revocation'],
  ['pushed_authorization_request', '/request'],
  ['device_authorization', '/device/auth'],
  ['backchannel_authentication', '/backchannel'],
]);

/**
 * Whether oidc-provider will route this path to an endpoint where clients authenticate (case-insensitively, with or
 * without one trailing slash: `/TOKEN`, `/token/` and `/Token/` all reach the token endpoint, so all must be
 * throttled).
 */
export const isClientAuthenticatingPath = providerRouteMatcher([...clientAuthenticatingRoutes.values()]);

/** The client id of HTTP Basic client authentication (RFC 6749 section 2.3.1), readable before the body is. */
function basicClientId(authorization: string): string | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  try {
    return separator > 0 ? decodeURIComponent(decoded.slice(0, separator)) : undefined;
  } catch {
    return undefined;
  }
}

type ProviderContext = Parameters<ProviderMiddleware>[0];

/** A client_secret_post client id, known once oidc-provider has read the body. */
function paramClientId(ctx: ProviderContext): string | undefined {
  const clientId = ctx.oidc?.params?.client_id;
  return typeof clientId === 'string' ? clientId : undefined;
}

/** The answer oidc-provider gives a client that failed to authenticate: 401 `invalid_client`. */
function failedClientAuthentication(ctx: ProviderContext): boolean {
  return ctx.status === 401 && (ctx.body as { error?: string } | undefined)?.error === 'invalid_client';
}

/**
 * Guessing protection for client secrets at the endpoints where clients authenticate: each request takes an
 * attempt per address, and per client and address, before oidc-provider checks the secret (so parallel guesses
 * cannot all pass the check); failed authentications (`invalid_client`) count, others give the attempt back. Past
 * the limit the endpoint answers 429 with `Retry-After` before checking anything. Keys pair the client with the address, so an attacker cannot lock a
 * client out for everyone. (A client_secret_post client id is only known once oidc-provider has read the body:
 * its failures count without a reservation, and its address limit applies up front.)
 */
interface Attempts {
  byIp: Attempt;
  byClient?: Attempt;
}

export function clientAuthThrottle(throttles: {
  perClient: AttemptThrottle;
  perIp: AttemptThrottle;
}): ProviderMiddleware {
  /** Takes the attempt on the address's key and, when the client is named in the header, on the client's. */
  const reserve = async (ip: string, clientId: string | undefined): Promise<Attempts> => {
    const byIp = await throttles.perIp.reserve([throttleKeys.ip(ip)]);
    if (!clientId) return { byIp };
    try {
      return { byIp, byClient: await throttles.perClient.reserve([`${clientId}|${ip}`]) };
    } catch (error) {
      await byIp.succeeded();
      throw error;
    }
  };
  /** Gives the attempts back (a client that authenticated also has its past failures forgotten), in the background. */
  const giveBack = (attempts: Attempts, authenticated: boolean) =>
    void guardStorage(() =>
      Promise.all([
        attempts.byIp.succeeded(),
        attempts.byClient?.succeeded({ forget: authenticated && !attempts.byClient.clean }),
      ]),
    ).catch(() => undefined);
  const recordFailure = (ip: string, clientId: string | undefined) =>
    guardStorage(async () => {
      await throttles.perIp.fail([throttleKeys.ip(ip)]);
      if (clientId) await throttles.perClient.fail([`${clientId}|${ip}`]);
    }).catch(() => undefined);
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !isClientAuthenticatingPath(ctx.path)) {
      await next();
      // Should oidc-provider's router ever accept a spelling the check above does not know, its failures still count.
      if (failedClientAuthentication(ctx) && clientAuthenticatingRoutes.has(ctx.oidc?.route ?? '')) {
        await recordFailure(ctx.ip, basicClientId(ctx.get('authorization')) ?? paramClientId(ctx));
      }
      return;
    }
    const headerClient = basicClientId(ctx.get('authorization'));
    let attempts: Attempts;
    try {
      attempts = await guardStorage(() => reserve(ctx.ip, headerClient));
    } catch (error) {
      if (!(error instanceof TooManyAttempts)) throw error;
      ctx.status = 429;
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_client', error_description: error.message };
      return;
    }
    try {
      await next();
    } catch (error) {
      giveBack(attempts, false);
      throw error;
    }
    if (failedClientAuthentication(ctx)) {
      await guardStorage(async () => {
        await attempts.byIp.failed();
        await attempts.byClient?.failed();
        // A client_secret_post client is only known now: its failure counts without a reservation.
        const bodyClient = headerClient ? undefined : paramClientId(ctx);
        if (bodyClient) await throttles.perClient.fail([`${bodyClient}|${ctx.ip}`]);
      }).catch(() => undefined);
    } else {
      giveBack(attempts, !!ctx.oidc?.client);
    }
  };
}
