import type { PageRenderer } from '../libraries/page-renderer.ts';
import { showErrorPage } from '../middleware/error-page.ts';
import type { ProviderMiddleware } from './provider-paths.ts';

/**
 * The device code form only makes sense in the browser session that loaded it (its `xsrf` is kept there).
 * oidc-provider 9 answers a POST without that session with an internal error ("persist can only be called on
 * previously persisted Sessions", found by the fuzz test); Gatehouse answers with a page that restarts the step.
 */
export function deviceFormGuard(pages: PageRenderer, sessionCookie: string): ProviderMiddleware {
  return (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/device' && !ctx.cookies.get(sessionCookie)) {
      showErrorPage(ctx, pages, {
        title: 'This page has expired',
        message: 'Open the address your device shows and enter its code again.',
        restartUrl: '/device',
      });
      return;
    }
    return next();
  };
}
