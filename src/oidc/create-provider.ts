import compose from 'koa-compose';
import { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { AttemptThrottle } from '../libraries/attempt-throttle.ts';
import type { AuditLog } from '../libraries/audit.ts';
import type { Metrics } from '../libraries/metrics.ts';
import { clientAuthThrottle } from './client-auth-throttle.ts';
import { deviceFormGuard } from './device-form-guard.ts';
import { providerErrorGuard } from './provider-error-guard.ts';
import { frontchannelLogout } from './frontchannel-logout.ts';
import { introspectionExtensions } from './introspection-extensions.ts';
import { buildProviderConfiguration, type ProviderConfigurationDeps } from './provider-configuration.ts';
import { providerRouteMatcher, type ProviderMiddleware } from './provider-paths.ts';
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
  provider.use(providerErrorGuard(provider, deps.pages));
  /**
   * Every other middleware of Gatehouse's concerns endpoints oidc-provider only routes POST to (introspection,
   * end-session confirmation, the device code form, the endpoints where clients authenticate, revocation): other
   * requests (discovery, JWKS, userinfo, authorization) pass by in one step instead of through each of them.
   */
  const onPost: ProviderMiddleware[] = [];
  if (deps.inspector)
    onPost.push(introspectionExtensions(provider, { inspector: deps.inspector, rbac: deps.rbac }));
  onPost.push(frontchannelLogout(provider, deps.pages));
  onPost.push(deviceFormGuard(deps.pages, providerCookieNames.session));
  if (deps.clientAuthThrottle) onPost.push(clientAuthThrottle(deps.clientAuthThrottle));
  const audit = deps.audit;
  if (audit) {
    const record = (promise: Promise<void>) =>
      promise.catch((error: unknown) => deps.log.warn({ err: error }, 'audit write failed'));
    const atRevocation = providerRouteMatcher(['/token/revocation']);
    onPost.push(async (ctx, next) => {
      if (!atRevocation(ctx.path)) return next();
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
  const posted = compose(onPost);
  provider.use((ctx, next) => (ctx.method === 'POST' ? posted(ctx, next) : next()));

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
