import type { Logger } from 'pino';
import { createOutgoingGuard, outgoingRefusal } from '../libraries/outgoing-guard.ts';

export interface OutgoingFetchOptions {
  /** Outside production: loopback and private addresses are reachable (local setups and tests). */
  allowSpecialUseAddresses: boolean;
  /** Hosts (`host:port`) reachable even though they are or resolve to private addresses, in production too. */
  allowHosts: readonly string[];
  /** Waits between back-channel logout delivery attempts; their count bounds the retries. */
  backchannelRetryDelaysMs: readonly number[];
  log: Logger;
}

type FetchInit = RequestInit & { dispatcher?: unknown };

function isBackchannelLogout(init: FetchInit): boolean {
  return init.method === 'POST' && init.body instanceof URLSearchParams && init.body.has('logout_token');
}

/**
 * oidc-provider's outgoing requests (back-channel logout, jwks_uri, sector_identifier_uri), through its `fetch`
 * hook.
 *
 * - Every request goes through Gatehouse's private-address guard (`createOutgoingGuard`, the same one upstream
 *   sign-ins use) in place of the dispatcher oidc-provider attaches: in production it refuses loopback, private and
 *   other special-use addresses (SSRF guard) except for the hosts of `outgoing.allowHosts`; outside production,
 *   where local setups need those addresses, it guards nothing.
 * - Back-channel logout is delivered in the background with bounded retries: oidc-provider is told it went out at
 *   once, so a slow or dead receiver never holds up the person signing out. Each outcome is logged (never the
 *   logout token itself).
 */
export function createOutgoingFetch(options: OutgoingFetchOptions) {
  const guard = createOutgoingGuard({
    enforce: !options.allowSpecialUseAddresses,
    allowHosts: options.allowHosts,
    log: options.log,
  });

  async function deliver(target: URL, init: FetchInit): Promise<void> {
    const attempts = options.backchannelRetryDelaysMs.length + 1;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        const response = await guard.fetch(target, { ...init, signal: AbortSignal.timeout(5000) });
        await response.body?.cancel();
        if (response.status === 200 || response.status === 204) {
          options.log.info(
            { receiver: target.origin + target.pathname, attempt },
            'back-channel logout delivered',
          );
          return;
        }
        options.log.warn(
          { receiver: target.origin + target.pathname, attempt, status: response.status },
          'back-channel logout refused',
        );
      } catch (error) {
        if (outgoingRefusal(error)) {
          // The guard has logged why; another attempt would be refused alike.
          options.log.error({ receiver: target.origin + target.pathname }, 'back-channel logout not sent');
          return;
        }
        options.log.warn(
          { receiver: target.origin + target.pathname, attempt, err: { message: (error as Error).message } },
          'back-channel logout failed',
        );
      }
      const delay = options.backchannelRetryDelaysMs[attempt - 1];
      if (delay !== undefined) await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
    options.log.error(
      { receiver: target.origin + target.pathname, attempts },
      'back-channel logout given up',
    );
  }

  return async (input: string | URL | Request, init: FetchInit = {}): Promise<Response> => {
    const target = new URL(input instanceof Request ? input.url : input);
    // oidc-provider's dispatcher gives way to the guard's (set by guard.fetch, or none outside production).
    delete init.dispatcher;
    if (isBackchannelLogout(init)) {
      void deliver(target, init);
      return new Response(null, { status: 204 });
    }
    return guard.fetch(target, init);
  };
}
