import type { Logger } from 'pino';

export interface OutgoingFetchOptions {
  /** Outside production: loopback and private addresses are reachable (local setups and tests). */
  allowSpecialUseAddresses: boolean;
  /** Hosts (`host:port`) reachable even though they resolve to private addresses, in production too. */
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
 * - oidc-provider attaches a dispatcher that refuses loopback and private addresses (SSRF guard). Outside
 *   production local setups need those, so there the guard is dropped; in production it stays, and only the hosts
 *   of an allow-list bypass it.
 * - Back-channel logout is delivered in the background with bounded retries: oidc-provider is told it went out at
 *   once, so a slow or dead receiver never holds up the person signing out. Each outcome is logged (never the
 *   logout token itself).
 */
export function createOutgoingFetch(options: OutgoingFetchOptions) {
  const allowHosts = new Set(options.allowHosts.map((host) => host.toLowerCase()));

  async function deliver(target: URL, init: FetchInit): Promise<void> {
    const attempts = options.backchannelRetryDelaysMs.length + 1;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        const response = await fetch(target, { ...init, signal: AbortSignal.timeout(5000) });
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
    if (options.allowSpecialUseAddresses || allowHosts.has(target.host.toLowerCase())) delete init.dispatcher;
    if (isBackchannelLogout(init)) {
      void deliver(target, init);
      return new Response(null, { status: 204 });
    }
    return fetch(target, init);
  };
}
