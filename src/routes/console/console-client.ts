import * as oidc from 'openid-client';
import type { AccountClient } from '../account/account-client.ts';
import { consoleClientId } from './console-session.ts';

/**
 * The console's relying-party configuration: the account page's discovery (metadata rebased onto the issuer's
 * origin, back-channel calls over loopback; see account-client.ts) with the console's own client id, so the two
 * first-party clients share one way of reaching Gatehouse.
 */
export function createConsoleClient(discovery: AccountClient) {
  let configuration: Promise<oidc.Configuration> | undefined;

  async function build(): Promise<oidc.Configuration> {
    const base = await discovery.configuration();
    const config = new oidc.Configuration(base.serverMetadata(), consoleClientId, undefined, oidc.None());
    const viaLoopback = base[oidc.customFetch];
    if (viaLoopback) config[oidc.customFetch] = viaLoopback;
    oidc.allowInsecureRequests(config);
    return config;
  }

  return {
    configuration(): Promise<oidc.Configuration> {
      configuration ??= build().catch((error: unknown) => {
        configuration = undefined;
        throw error;
      });
      return configuration;
    },
  };
}

export type ConsoleClient = ReturnType<typeof createConsoleClient>;
