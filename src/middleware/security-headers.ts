import type { Middleware } from 'koa';

/**
 * Headers on every response, including oidc-provider's (set before it runs: it adds the hash of its one inline
 * script, the form_post auto-submit, to `script-src`). No `unsafe-inline` anywhere; pages load their stylesheet
 * from `/assets`. `form-action` is left out on purpose: browsers apply it to the redirects after a sign-in form,
 * which must reach every registered redirect URI.
 */
export function securityHeaders({ https }: { https: boolean }): Middleware {
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return async (ctx, next) => {
    ctx.set('Content-Security-Policy', csp);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    ctx.set('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
    if (https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
  };
}
