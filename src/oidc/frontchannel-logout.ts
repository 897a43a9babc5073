import type { Provider } from 'oidc-provider';
import type { PageRenderer } from '../libraries/page-renderer.ts';
import { sessionAuthorizationsOf } from './provider-internals.ts';
import { providerRouteMatcher, type ProviderMiddleware } from './provider-paths.ts';

/**
 * OpenID Connect Front-Channel Logout 1.0, which oidc-provider 9 no longer ships: after a confirmed sign-out,
 * instead of redirecting at once, Gatehouse shows a page that loads each app's `frontchannel_logout_uri` in a
 * hidden iframe (with `iss` and `sid` when the app asked for them) and then moves on by a meta refresh; no script,
 * and the page's CSP allows exactly those frame origins.
 */
export function frontchannelLogout(provider: Provider, pages: PageRenderer): ProviderMiddleware {
  const atConfirm = providerRouteMatcher(['/session/end/confirm']);
  const logout: ProviderMiddleware = async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'end_session_confirm' || ctx.status !== 303 || !ctx.oidc.params?.logout) return;
    const frames: string[] = [];
    for (const [clientId, authorization] of Object.entries(sessionAuthorizationsOf(ctx.oidc.session))) {
      const client = await provider.Client.find(clientId);
      const metadata = client?.metadata() as
        { frontchannel_logout_uri?: string; frontchannel_logout_session_required?: boolean } | undefined;
      if (!metadata?.frontchannel_logout_uri) continue;
      const url = new URL(metadata.frontchannel_logout_uri);
      if (metadata.frontchannel_logout_session_required !== false && authorization.sid) {
        url.searchParams.set('iss', provider.issuer);
        url.searchParams.set('sid', authorization.sid);
      }
      frames.push(url.href);
    }
    if (frames.length === 0) return;
    const continueTo = ctx.response.get('location');
    const origins = [...new Set(frames.map((frame) => new URL(frame).origin))].join(' ');
    const csp = ctx.response.get('content-security-policy');
    ctx.set('Content-Security-Policy', `${csp}; frame-src ${origins}`);
    ctx.status = 200;
    ctx.remove('location');
    ctx.type = 'html';
    ctx.body = pages.render('frontchannel-logout', { title: 'Signing out', frames, next: continueTo });
  };
  return (ctx, next) => (atConfirm(ctx.path) ? logout(ctx, next) : next());
}
