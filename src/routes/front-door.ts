import Router from '@koa/router';
import type { PageRenderer } from '../libraries/page-renderer.ts';

/**
 * `GET /`: who answers here (the issuer) and where to go next: the account page, the administration console and the
 * discovery document (OpenID Connect Discovery 1.0, section 4). A person who types the bare host name lands here
 * rather than on a 404; nothing on it depends on a session, so it is cacheable for a short while.
 */
export function createFrontDoorRouter(deps: { issuer: string; pages: PageRenderer }): Router {
  const router = new Router();
  router.get('/', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.type = 'html';
    ctx.body = deps.pages.render('front-door', {
      title: 'Welcome',
      issuer: deps.issuer,
      links: [
        { href: '/account', label: 'Your account', detail: 'Profile, password, second factor, sessions' },
        { href: '/admin', label: 'Administration console', detail: 'For administrators' },
        {
          href: '/.well-known/openid-configuration',
          label: 'OpenID configuration',
          detail: 'Discovery document for applications',
        },
      ],
    });
  });
  return router;
}
