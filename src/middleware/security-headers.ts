import type { Middleware } from 'koa';

/**
 * Headers on every response, including oidc-provider's (set before it runs: it adds the hash of its one inline
 * script, the form_post auto-submit, to `script-src`). No `unsafe-inline` anywhere; pages load their stylesheet
 * from `/assets`. `form-action` is left out on purpose: browsers apply it to the redirects after a sign-in form,
 * which must reach every registered redirect URI.
 */
export function securityHeaders({ https }: { https: boolean }): Middleware {
  const headers = securityHeaderList({ https });
  return async (ctx, next) => {
    for (const [name, value] of headers) ctx.set(name, value);
    await next();
  };
}

/** The headers of {@link securityHeaders} as name and value pairs, for a response without a Koa context. */
export function securityHeaderList({ https }: { https: boolean }): ReadonlyArray<readonly [string, string]> {
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return [
    ['Content-Security-Policy', csp],
    ['X-Content-Type-Options', 'nosniff'],
    ['X-Frame-Options', 'DENY'],
    ['Referrer-Policy', 'no-referrer'],
    ['Cross-Origin-Opener-Policy', 'same-origin'],
    ['Permissions-Policy', 'camera=(), microphone=(), geolocation=()'],
    ...(https ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as const] : []),
  ];
}
