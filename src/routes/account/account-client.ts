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

  return {
    configuration(): Promise<oidc.Configuration> {
      configuration ??= oidc
        .discovery(issuer, accountClientId, undefined, oidc.None(), {
          [oidc.customFetch]: viaLoopback,
          execute: [oidc.allowInsecureRequests],
        })
        .then((config) => {
          config[oidc.customFetch] = viaLoopback;
          return config;
        })
        .catch((error: unknown) => {
          configuration = undefined;
          throw error;
        });
      return configuration;
    },
  };
}

export type AccountClient = ReturnType<typeof createAccountClient>;
