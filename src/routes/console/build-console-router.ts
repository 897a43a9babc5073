import type Router from '@koa/router';
import type { GatehouseConfig } from '../../config/load-config.ts';
import type { ServerLibraries } from '../../libraries/create-libraries.ts';
import type { ProviderHost } from '../../oidc/provider-host.ts';
import type { HotState } from '../../storage/hot-state.ts';
import { createAccountClient } from '../account/account-client.ts';
import { createConsoleClient } from './console-client.ts';
import { createConsoleRouter } from './console-router.ts';

/** The admin console built from what createRouters has, so mounting it there is one line. */
export function buildConsoleRouter(
  config: GatehouseConfig,
  libraries: ServerLibraries,
  deps: { hotState: HotState; providerHost: ProviderHost; internalOrigin: () => string },
): Router {
  const { providerHost } = deps;
  return createConsoleRouter({
    issuer: config.issuer,
    client: createConsoleClient(
      createAccountClient({ issuer: config.issuer, internalOrigin: deps.internalOrigin }),
    ),
    store: deps.hotState.keyValue,
    pages: libraries.pages,
    csrf: libraries.csrf,
    sessionTtlSeconds: config.ttl.session,
    // Read with oidc-provider's own cookie jar and keys, as the account page does (see buildAccountRouter).
    providerSessionId: (ctx) =>
      providerHost
        .current()
        .createContext(ctx.req, ctx.res)
        .cookies.get(providerHost.current().cookieName('session'), { signed: true }),
    accounts: libraries.accounts,
    clients: libraries.clients,
    rbac: libraries.rbac,
    mfa: libraries.mfa,
    sessions: libraries.sessions,
    audit: libraries.audit,
    keys: libraries.keys,
    identityProviders: libraries.identityProviders,
    lifecycle: libraries.lifecycle,
    authz: libraries.authz,
    ...(libraries.invitations.enabled ? { invitations: libraries.invitations } : {}),
  });
}
