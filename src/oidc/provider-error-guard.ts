import type { Provider } from 'oidc-provider';
import type { PageRenderer } from '../libraries/page-renderer.ts';
import { describeError } from '../middleware/error-handler.ts';
import type { ProviderMiddleware } from './provider-paths.ts';

/**
 * oidc-provider turns errors of its own routes into OAuth answers, but an error thrown by middleware Gatehouse adds
 * in front of them (throttles, guards) would reach Koa's plain-text default. This outermost layer answers those the
 * way Gatehouse's own error middleware does: OAuth-shaped JSON for APIs, a page for browsers, 503 for outages.
 */
export function providerErrorGuard(provider: Provider, pages: PageRenderer): ProviderMiddleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const described = describeError(error);
      ctx.status = described.status;
      ctx.set('Cache-Control', 'no-store');
      if (described.status === 503) ctx.set('Retry-After', '5');
      if (ctx.accepts('json', 'html') === 'html') {
        ctx.type = 'html';
        ctx.body = pages.render('error', {
          title: 'Temporarily unavailable',
          message: described.description,
        });
      } else {
        ctx.body = { error: described.error, error_description: described.description };
      }
      if (described.status >= 500 && described.status !== 503) provider.emit('server_error', ctx, error);
    }
  };
}
