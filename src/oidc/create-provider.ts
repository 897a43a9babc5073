import { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { AttemptThrottle } from '../libraries/attempt-throttle.ts';
import type { AuditLog } from '../libraries/audit.ts';
import type { Metrics } from '../libraries/metrics.ts';
import { installClientAuthThrottle } from './client-auth-throttle.ts';
import { installDeviceFormGuard } from './device-form-guard.ts';
import { installProviderErrorGuard } from './provider-error-guard.ts';
import { installFrontchannelLogout } from './frontchannel-logout.ts';
import { installIntrospectionExtensions } from './introspection-extensions.ts';
import { buildProviderConfiguration, type ProviderConfigurationDeps } from './provider-configuration.ts';
import type { TokenInspector } from './token-inspector.ts';
import { providerCookieNames } from '../vocabulary/cookie-names.ts';

/** Builds the oidc-provider instance, adds Gatehouse's introspection answers, and routes its events to the log. */
export function createProvider(
  deps: ProviderConfigurationDeps & {
    log: Logger;
    inspector?: TokenInspector;
    clientAuthThrottle?: { perClient: AttemptThrottle; perIp: AttemptThrottle };
    audit?: AuditLog;
    metrics?: Metrics;
  },
): Provider {
  const provider = new Provider(deps.config.issuer, buildProviderConfiguration(deps));
  provider.proxy = deps.config.trustProxy !== false;
  // First, so it wraps every middleware Gatehouse adds below.
  installProviderErrorGuard(provider, deps.pages);
  if (deps.inspector)
    installIntrospectionExtensions(provider, { inspector: deps.inspector, rbac: deps.rbac });
  installFrontchannelLogout(provider, deps.pages);
  installDeviceFormGuard(provider, deps.pages, providerCookieNames.session);
  if (deps.clientAuthThrottle) installClientAuthThrottle(provider, deps.clientAuthThrottle);
  const audit = deps.audit;
  if (audit) {
    const record = (promise: Promise<void>) =>
      promise.catch((error: unknown) => deps.log.warn({ err: error }, 'audit write failed'));
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.oidc?.route === 'revocation' && ctx.status === 200) {
        void record(
          audit.record('token.revoked', {
            clientId: ctx.oidc.client?.clientId,
            ip: ctx.ip,
            details: { via: 'revocation endpoint' },
          }),
        );
      }
    });
    provider.on('grant.revoked', (ctx, grantId) => {
      void record(
        audit.record('token.revoked', {
          clientId: ctx.oidc?.client?.clientId,
          ip: ctx.ip,
          details: { grant: `${grantId.slice(0, 6)}…`, route: ctx.oidc?.route },
        }),
      );
    });
  }

  const metrics = deps.metrics;
  if (metrics) {
    provider.on('grant.success', (ctx) =>
      metrics.tokenIssued(String(ctx.oidc.params?.grant_type ?? 'unknown')),
    );
  }
  provider.on('server_error', (ctx, error) => {
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status === 503) metrics?.storageError();
    deps.log[status === 503 ? 'warn' : 'error'](
      { err: error, path: ctx.path, requestId: ctx.get('x-request-id') || undefined },
      'oidc-provider error',
    );
  });
  return provider;
}
