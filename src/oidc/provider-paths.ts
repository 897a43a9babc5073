import type { Provider } from 'oidc-provider';

/**
 * oidc-provider's router (`lib/helpers/router.js`) compares paths case-insensitively, by this folding: upper case,
 * except for a non-ASCII character whose upper case is ASCII (`ſ`, `ı`), which stays as it is. (Plain ASCII, the
 * usual case, folds in one call, as the router does it.)
 */
export function foldLikeProviderRouter(path: string): string {
  for (let i = 0; i < path.length; i += 1) {
    if (path.charCodeAt(i) > 127) {
      let out = '';
      for (const char of path) {
        const upper = char.toUpperCase();
        out +=
          upper.length === 1 && !(char.codePointAt(0)! > 127 && upper.codePointAt(0)! < 128) ? upper : char;
      }
      return out;
    }
  }
  return path.toUpperCase();
}

/**
 * Whether oidc-provider's router sends a request path to a route at one of `routePaths` (static paths): it matches
 * the path folded as above, then, failing that, the path without one trailing slash, so `/TOKEN`, `/token/` and
 * `/Token/` all reach `/token`. Gatehouse's middleware inside oidc-provider runs before the router has named the
 * route; with this it steps aside at once on the paths that are not its endpoint's.
 */
export function providerRouteMatcher(routePaths: readonly string[]): (path: string) => boolean {
  const folded = new Set(routePaths.map(foldLikeProviderRouter));
  return (path) => {
    if (folded.has(foldLikeProviderRouter(path))) return true;
    return path.length > 1 && path.endsWith('/') && folded.has(foldLikeProviderRouter(path.slice(0, -1)));
  };
}

/** Middleware in oidc-provider's own Koa application (`provider.use`). */
export type ProviderMiddleware = Parameters<Provider['use']>[0];
