import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { PageRenderer } from '../libraries/page-renderer.ts';
import type { BrowserSession, SessionManagement } from '../libraries/session-management.ts';
import { showErrorPage } from '../middleware/error-page.ts';
import type { KeyValueStore } from '../storage/hot-state.ts';

/** What a first-party sign-in remembers between the redirect to Gatehouse and the callback, plus its own `Extra`. */
export type PendingSignIn<Extra extends object> = Extra & {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The page the person asked for before signing in. */
  returnTo: string;
};

/** A callback that came back with a verified ID token, through a live Gatehouse session of the same account. */
export interface CompletedSignIn<Extra extends object> {
  pending: PendingSignIn<Extra>;
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  claims: oidc.IDToken;
  /** The Gatehouse session the browser signed in through: the first-party page lives no longer than it. */
  signedIn: BrowserSession;
  /** The ID token's `auth_time`, when it has one. */
  authTime: number | undefined;
  /** The ID token's `amr`. */
  amr: string[];
}

export interface FirstPartySignInDeps {
  client: { configuration(): Promise<oidc.Configuration> };
  store: KeyValueStore;
  pages: PageRenderer;
  sessions: Pick<SessionManagement, 'findBrowserSession'>;
  /** The id of this browser's Gatehouse session, from oidc-provider's signed session cookie, if it carries one. */
  providerSessionId(ctx: Context): string | undefined;
  /** The page's callback (its registered redirect URI) and where "start again" leads. */
  callbackUrl: string;
  loginPath: string;
  scope: string;
  /** The cookie and hot-store key of a sign-in in progress, and of the signed-in session. */
  signInCookie: string;
  signInKey: (transaction: string) => string;
  sessionCookie: string;
  sessionKey: (id: string) => string;
  sessionTtlSeconds: number;
  cookieOptions: { httpOnly: boolean; sameSite: 'lax'; secure: boolean; signed: boolean; path: string };
  /** Names the page in log lines ("account", "console"). */
  name: string;
}

const signInTtlSeconds = 600;
const newId = () => randomBytes(24).toString('base64url');

/**
 * The relying-party half that Gatehouse's own first-party pages (the account page, the admin console) share: the
 * authorization request (code flow, PKCE, state and nonce kept in the hot store under a signed cookie), the callback
 * (error answers, the code exchange and ID token checks of `openid-client`, and the Gatehouse session the browser
 * came through), and the page session that replaces any earlier one. Each page adds its own checks and session.
 */
export function createFirstPartySignIn<Extra extends object>(deps: FirstPartySignInDeps) {
  const { store, pages, cookieOptions } = deps;

  const failed = (ctx: Context, message: string, restartUrl = deps.loginPath) =>
    showErrorPage(ctx, pages, { title: 'Sign-in did not complete', message, restartUrl });

  return {
    failed,

    /** Redirects to Gatehouse's authorization endpoint; `authorization` adds parameters (`max_age`, `acr_values`). */
    async start(
      ctx: Context,
      page: Extra & { returnTo: string },
      authorization: Record<string, string> = {},
    ): Promise<void> {
      const config = await deps.client.configuration();
      const pending = {
        ...page,
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        codeVerifier: oidc.randomPKCECodeVerifier(),
      } as PendingSignIn<Extra>;
      const transaction = newId();
      await store.set(deps.signInKey(transaction), JSON.stringify(pending), signInTtlSeconds);
      ctx.cookies.set(deps.signInCookie, transaction, { ...cookieOptions, maxAge: signInTtlSeconds * 1000 });
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: deps.callbackUrl,
        scope: deps.scope,
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: 'S256',
        ...authorization,
      });
      ctx.redirect(url.href);
    },

    /**
     * The callback: the sign-in in progress (taken once), Gatehouse's answer verified, and the browser's Gatehouse
     * session of the same account. Undefined once it has answered the request itself (an error page, or back to the
     * login when no sign-in was in progress).
     */
    async finish(ctx: Context): Promise<CompletedSignIn<Extra> | undefined> {
      const transaction = ctx.cookies.get(deps.signInCookie, { signed: true });
      const stored = transaction ? await store.take(deps.signInKey(transaction)) : undefined;
      ctx.cookies.set(deps.signInCookie, null, cookieOptions);
      if (!stored) {
        ctx.redirect(deps.loginPath);
        return undefined;
      }
      const pending = JSON.parse(stored) as PendingSignIn<Extra>;
      const config = await deps.client.configuration();
      const currentUrl = new URL(`${deps.callbackUrl}?${ctx.querystring}`);
      const error = currentUrl.searchParams.get('error');
      if (error) {
        showErrorPage(ctx, pages, {
          title: 'Sign-in did not complete',
          message: 'Gatehouse did not sign you in.',
          error,
          restartUrl: deps.loginPath,
        });
        return undefined;
      }
      let tokens;
      try {
        tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        });
      } catch (failure) {
        ctx.state.log.warn({ err: { message: (failure as Error).message } }, `${deps.name} sign-in failed`);
        failed(ctx, 'The sign-in response could not be verified. Start again.');
        return undefined;
      }
      const claims = tokens.claims()!;
      // The browser came back through a Gatehouse session of this very account: the page is tied to it.
      const id = deps.providerSessionId(ctx);
      const signedIn = id ? await deps.sessions.findBrowserSession(id) : undefined;
      if (!signedIn || signedIn.accountId !== claims.sub) {
        failed(ctx, 'Your Gatehouse session ended during the sign-in. Start again.');
        return undefined;
      }
      return {
        pending,
        tokens,
        claims,
        signedIn,
        authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
        amr: Array.isArray(claims.amr) ? claims.amr.map(String) : [],
      };
    },

    /**
     * Stores the page's new session and sets its cookie. A new session each sign-in: the one it replaces (and the
     * CSRF tokens bound to it) ends now.
     */
    async establish(ctx: Context, session: object): Promise<string> {
      const previous = ctx.cookies.get(deps.sessionCookie, { signed: true });
      if (previous) await store.delete(deps.sessionKey(previous));
      const id = newId();
      await store.set(deps.sessionKey(id), JSON.stringify(session), deps.sessionTtlSeconds);
      ctx.cookies.set(deps.sessionCookie, id, cookieOptions);
      return id;
    },
  };
}
