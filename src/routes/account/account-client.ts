import * as oidc from 'openid-client';

export const accountClientId = 'gatehouse-account';

export interface AccountClientOptions {
  issuer: string;
  /** Where this process itself answers (http://127.0.0.1:PORT); the account page reaches Gatehouse there. */
  internalOrigin: () => string;
}

/**
 * `/account` is a relying party of Gatehouse like any other (a first-party public client using code + PKCE), so
 * it signs people in through the real sign-in. Its back-channel calls (discovery, token) go to this process over
 * loopback instead of the public issuer URL, which may not be reachable from inside (TLS proxy, container).
 */
export function createAccountClient(options: AccountClientOptions) {
  const issuer = new URL(options.issuer);
  let configuration: Promise<oidc.Configuration> | undefined;

  const viaLoopback: oidc.CustomFetch = (url, init) => {
    const target = new URL(url);
    if (target.origin === issuer.origin) {
      const internal = new URL(options.internalOrigin());
      target.protocol = internal.protocol;
      target.host = internal.host;
    }
    return fetch(target, init as RequestInit);
  };

  async function discover(): Promise<oidc.Configuration> {
    const discovered = await oidc.discovery(issuer, accountClientId, undefined, oidc.None(), {
      [oidc.customFetch]: viaLoopback,
      execute: [oidc.allowInsecureRequests],
    });
    // oidc-provider names every endpoint after the Host of the request, and discovery came over loopback: its
    // metadata points at 127.0.0.1, where a browser sent to `authorization_endpoint` or `end_session_endpoint`
    // would reach its user's own machine. Browsers only ever go to the issuer's origin, so every such URL is
    // rebased onto it (`issuer` itself is the configured one); viaLoopback sends our own calls back to loopback.
    const metadata = rebaseOrigin(
      discovered.serverMetadata(),
      new URL(options.internalOrigin()).origin,
      issuer.origin,
    ) as oidc.ServerMetadata;
    const config = new oidc.Configuration(metadata, accountClientId, undefined, oidc.None());
    config[oidc.customFetch] = viaLoopback;
    oidc.allowInsecureRequests(config);
    return config;
  }

  return {
    configuration(): Promise<oidc.Configuration> {
      configuration ??= discover().catch((error: unknown) => {
        configuration = undefined;
        throw error;
      });
      return configuration;
    },
  };
}

/** A copy of `value` (metadata: strings, arrays, nested objects) with URLs on origin `from` moved to `to`. */
function rebaseOrigin(value: unknown, from: string, to: string): unknown {
  if (typeof value === 'string') return value.startsWith(`${from}/`) ? to + value.slice(from.length) : value;
  if (Array.isArray(value)) return value.map((item) => rebaseOrigin(item, from, to));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, rebaseOrigin(item, from, to)] as const),
    );
  return value;
}

export type AccountClient = ReturnType<typeof createAccountClient>;
