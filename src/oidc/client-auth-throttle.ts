import type { Provider } from 'oidc-provider';
import { TooManyAttempts } from '../errors/too-many-attempts.ts';
import type { AttemptThrottle } from '../libraries/attempt-throttle.ts';
import { guardStorage } from './guarded-adapter.ts';
import { throttleKeys } from '../vocabulary/throttle-keys.ts';

const clientAuthenticatingPaths = new Set([
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/request',
  '/device/auth',
]);

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

/**
 * Guessing protection for client secrets at the endpoints where clients authenticate: failed authentications
 * (`invalid_client`) count per client and address and per address; past the limit the endpoint answers 429 with
 * `Retry-After` before checking anything. Keys pair the client with the address, so an attacker cannot lock a
 * client out for everyone. (A client_secret_post client id is only known once oidc-provider has read the body:
 * its failures count, and its address limit applies up front.)
 */
export function installClientAuthThrottle(
  provider: Provider,
  throttles: { perClient: AttemptThrottle; perIp: AttemptThrottle },
): void {
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || !clientAuthenticatingPaths.has(ctx.path)) return next();
    const ipKey = throttleKeys.ip(ctx.ip);
    const headerClient = basicClientId(ctx.get('authorization'));
    let clientRecordClean = false;
    try {
      [, clientRecordClean] = await guardStorage(() =>
        Promise.all([
          throttles.perIp.check([ipKey]),
          headerClient ? throttles.perClient.check([`${headerClient}|${ctx.ip}`]) : false,
        ]),
      );
    } catch (error) {
      if (!(error instanceof TooManyAttempts)) throw error;
      ctx.status = 429;
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_client', error_description: error.message };
      return;
    }
    await next();
    const clientId =
      headerClient ??
      (typeof ctx.oidc?.params?.client_id === 'string' ? ctx.oidc.params.client_id : undefined);
    const failed =
      ctx.status === 401 && (ctx.body as { error?: string } | undefined)?.error === 'invalid_client';
    if (failed) {
      await guardStorage(async () => {
        await throttles.perIp.fail([ipKey]);
        if (clientId) await throttles.perClient.fail([`${clientId}|${ctx.ip}`]);
      }).catch(() => undefined);
    } else if (clientId && ctx.oidc?.client && !clientRecordClean) {
      // Clearing past failures need not hold up the answer.
      void guardStorage(() => throttles.perClient.succeed([`${clientId}|${ctx.ip}`])).catch(() => undefined);
    }
  });
}
