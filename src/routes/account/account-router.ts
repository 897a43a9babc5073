import Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { z } from 'zod';
import type { AccountLibrary } from '../../libraries/accounts.ts';
import type { AttemptThrottle } from '../../libraries/attempt-throttle.ts';
import type { Federation } from '../../libraries/federation.ts';
import type { IdentityProviderLibrary } from '../../libraries/identity-providers.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { PasskeyLibrary } from '../../libraries/passkeys.ts';
import type { SessionManagement } from '../../libraries/session-management.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import type { KeyValueStore } from '../../storage/hot-state.ts';
import { csrfOnlyForm, noStore, readCsrfForm } from '../forms.ts';
import type { AccountClient } from './account-client.ts';
import { registerAccountEmail, type AccountEmailDeps } from './account-email.ts';
import { registerAccountIdentities } from './account-identities.ts';
import { registerAccountMfa } from './account-mfa.ts';
import { registerAccountPasskeys } from './account-passkeys.ts';
import { registerAccountPassword } from './account-password.ts';
import { registerAccountSessions } from './account-sessions.ts';
import {
  accountCsrfBinding,
  type AccountPageGuard,
  type AccountSession,
  type CurrentAccountSession,
  signedInAgainQuery,
  signedInRecently,
} from './account-session.ts';
import { storeKeys } from '../../vocabulary/store-keys.ts';
import { accountCookieNames } from '../../vocabulary/cookie-names.ts';
import { createFirstPartySignIn } from '../first-party-sign-in.ts';

export interface AccountRouterDeps {
  issuer: string;
  client: AccountClient;
  store: KeyValueStore;
  pages: PageRenderer;
  csrf: CsrfTokens;
  sessionTtlSeconds: number;
  mfa: MfaLibrary;
  audit: AuditLog;
  sessions: SessionManagement;
  clientName(clientId: string): Promise<string>;
  /** The id of this browser's Gatehouse session, from oidc-provider's signed session cookie, if it carries one. */
  providerSessionId(ctx: Context): string | undefined;
  accounts: AccountLibrary;
  passwordThrottle: AttemptThrottle;
  passwordMinLength: number;
  federation: Federation;
  identityProviders: IdentityProviderLibrary;
  passkeys: PasskeyLibrary;
  /** Changing the address (a page only when mail is on). */
  emailChange: Omit<AccountEmailDeps, keyof AccountPageGuard | 'accounts' | 'pages' | 'csrf'>;
}

/** What the account page adds to a sign-in in progress (src/routes/first-party-sign-in.ts holds the rest). */
interface AccountSignInExtra {
  /**
   * Set when this is a sign-in again for a sensitive change (`max_age=0`): when it was asked for (seconds since the
   * epoch; the new sign-in must be later) and whether a form post was stopped for it (its page then says so).
   */
  reauth?: { requestedAt: number; interrupted: boolean };
}

/** Only pages of the account area are valid destinations after sign-in (no open redirect). */
export function accountPath(value: unknown): string {
  return typeof value === 'string' && /^\/account(\/[A-Za-z0-9/_-]*)?$/.test(value) ? value : '/account';
}

const sessionCookie = accountCookieNames.session;
const signInCookie = accountCookieNames.signIn;
/** How far the clock of the process that signed the person in may lag behind this one's, in seconds. */
const clockToleranceSeconds = 30;
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Gatehouse's own account page: a first-party relying party that shows who is signed in. */
export function createAccountRouter(deps: AccountRouterDeps): Router {
  const { store, pages, csrf } = deps;
  const secure = deps.issuer.startsWith('https:');
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure, signed: true, path: '/account' };
  const callbackUrl = `${deps.issuer}/account/callback`;
  const router = new Router({ prefix: '/account' });
  const signIn = createFirstPartySignIn<AccountSignInExtra>({
    client: deps.client,
    store,
    pages,
    sessions: deps.sessions,
    providerSessionId: deps.providerSessionId,
    callbackUrl,
    loginPath: '/account/login',
    scope: 'openid email profile roles',
    signInCookie,
    signInKey: storeKeys.accountSignIn,
    sessionCookie,
    sessionKey: storeKeys.accountSession,
    sessionTtlSeconds: deps.sessionTtlSeconds,
    cookieOptions,
    name: 'account',
  });

  /** This browser's Gatehouse session (oidc-provider's signed cookie), if it has a live one. */
  async function browserSession(ctx: Context) {
    const id = deps.providerSessionId(ctx);
    return id ? deps.sessions.findBrowserSession(id) : undefined;
  }

  /**
   * The account page lives no longer than the Gatehouse session it was signed in through, nor than an active
   * account: signing out (here or in any app), sign-out-everywhere, a revoked session, a password changed
   * elsewhere, a disabled or deleted account all end it at its next request. The uid is compared, not the id:
   * oidc-provider gives the session a new id at each sign-in step (another app's consent, a second factor).
   */
  async function stillSignedIn(ctx: Context, session: AccountSession): Promise<boolean> {
    const signedIn = await browserSession(ctx);
    if (!signedIn || signedIn.uid !== session.providerSessionUid || signedIn.accountId !== session.sub)
      return false;
    return (await deps.accounts.findById(session.sub))?.status === 'active';
  }

  async function currentSession(ctx: Context): Promise<CurrentAccountSession | undefined> {
    const id = ctx.cookies.get(sessionCookie, { signed: true });
    if (!id) return undefined;
    const stored = await store.get(storeKeys.accountSession(id));
    if (!stored) return undefined;
    const session = JSON.parse(stored) as AccountSession;
    if (await stillSignedIn(ctx, session)) return { id, session };
    await store.delete(storeKeys.accountSession(id));
    ctx.cookies.set(sessionCookie, null, cookieOptions);
    return undefined;
  }

  async function requireSession(ctx: Context) {
    const current = await currentSession(ctx);
    if (!current)
      ctx.redirect(
        `/account/login?return_to=${encodeURIComponent(ctx.method === 'GET' ? ctx.path : '/account')}`,
      );
    return current;
  }

  async function requireSubmission<T extends z.ZodType<{ csrf: string }>>(ctx: Context, schema: T) {
    const current = await requireSession(ctx);
    if (!current) return undefined;
    return { ...current, form: readCsrfForm(ctx, csrf, accountCsrfBinding(current.id), schema) };
  }

  /**
   * A sensitive page or change whose sign-in is too old: nothing is done, the audit log says so, and the browser
   * signs in again (password, and the second factor when the account has one) before coming back to `page`.
   */
  async function signInAgain(ctx: Context, current: CurrentAccountSession, page: string): Promise<void> {
    // A form post is not replayed after the sign-in: its page is shown again and says nothing was changed.
    const interrupted = ctx.method !== 'GET' && ctx.method !== 'HEAD';
    await deps.audit.record('account.reauth_required', {
      accountId: current.session.sub,
      ip: ctx.ip,
      details: {
        page: accountPath(page),
        ...(interrupted ? { stopped: `${ctx.method} ${ctx.path}` } : {}),
        ...(current.session.authTime ? { signedInAt: current.session.authTime } : {}),
      },
    });
    if (interrupted) ctx.status = 303;
    await startSignIn(ctx, accountPath(page), {
      email: current.session.email,
      interrupted,
    });
  }

  async function requireRecentSession(ctx: Context) {
    const current = await requireSession(ctx);
    if (!current || signedInRecently(current.session)) return current;
    await signInAgain(ctx, current, ctx.path);
    return undefined;
  }

  async function requireRecentSubmission<T extends z.ZodType<{ csrf: string }>>(
    ctx: Context,
    schema: T,
    page: string,
  ) {
    // The form and its CSRF token first: a post from another site is refused, not turned into a sign-in.
    const current = await requireSubmission(ctx, schema);
    if (!current || signedInRecently(current.session)) return current;
    await signInAgain(ctx, current, page);
    return undefined;
  }
  const guard: AccountPageGuard = {
    requireSession,
    requireSubmission,
    requireRecentSession,
    requireRecentSubmission,
  };

  /**
   * Why a sign-in again for a sensitive change does not count, if it does not: it must have been made after it was
   * asked for, with the password when the account has one (an upstream may sign its user in without asking anything,
   * and a browser left signed in to Gatehouse is often signed in there too), and with the second factor when the
   * account has one. Else the account page would take an old sign-in, or less than the account's factors, for new.
   */
  async function reauthRefusal(
    reauth: NonNullable<AccountSignInExtra['reauth']>,
    accountId: string,
    authTime: number | undefined,
    amr: string[],
  ): Promise<string | undefined> {
    if (authTime === undefined || authTime < reauth.requestedAt - clockToleranceSeconds)
      return 'Gatehouse did not confirm that you signed in again. Start again.';
    const account = await deps.accounts.findById(accountId);
    // A passkey whose authenticator verified the person (`hwk`/`swk` with `user`) proves at least what the password
    // does, and cannot be phished: it counts as signing in again.
    const verifiedPasskey = (amr.includes('hwk') || amr.includes('swk')) && amr.includes('user');
    if (account?.hasPassword && !amr.includes('pwd') && !verifiedPasskey)
      return 'To make this change, sign in again with your password, not through another account. Start again.';
    if (!amr.includes('mfa') && (await deps.mfa.hasSecondFactor(accountId)))
      return 'To make this change, sign in again with your second factor too. Start again.';
    return undefined;
  }

  /**
   * Sends the browser to Gatehouse's authorization endpoint for the account page. `reauth` asks for a sign-in
   * again whatever the session (`max_age=0`, which oidc-provider turns into `prompt=login`), for this email.
   */
  async function startSignIn(
    ctx: Context,
    returnTo: string,
    reauth?: { email: string; interrupted: boolean },
  ): Promise<void> {
    await signIn.start(
      ctx,
      {
        returnTo,
        ...(reauth ? { reauth: { requestedAt: nowSeconds(), interrupted: reauth.interrupted } } : {}),
      },
      reauth ? { max_age: '0', login_hint: reauth.email } : {},
    );
  }

  // Every account page shows personal data: the family's prelude, before any route.
  router.use(noStore);

  router.get('/', async (ctx) => {
    const current = await requireSession(ctx);
    if (!current) return;
    // The address and name as they are now (changed on this page, or by an administrator, since the sign-in).
    const account = await deps.accounts.findById(current.session.sub);
    ctx.type = 'html';
    ctx.body = pages.render('account', {
      title: 'Your account',
      account: {
        ...current.session,
        email: account?.email ?? current.session.email,
        name: account?.name ?? null,
      },
      emailChange: deps.emailChange.emailChange.enabled,
      csrf: csrf.tokenFor(accountCsrfBinding(current.id)),
    });
  });

  router.get('/login', (ctx) => startSignIn(ctx, accountPath(ctx.query.return_to)));

  router.get('/callback', async (ctx) => {
    const completed = await signIn.finish(ctx);
    if (!completed) return;
    const { pending, tokens, claims, signedIn, authTime, amr } = completed;
    if (pending.reauth) {
      const refusal = await reauthRefusal(pending.reauth, claims.sub, authTime, amr);
      if (refusal) {
        ctx.state.log.warn({ refusal, amr }, 'account page sign-in again refused');
        signIn.failed(ctx, refusal, pending.returnTo);
        return;
      }
    }
    const session: AccountSession = {
      sub: claims.sub,
      email: String(claims.email ?? ''),
      name: typeof claims.name === 'string' ? claims.name : null,
      roles: Array.isArray(claims.roles) ? claims.roles.map(String) : [],
      idToken: tokens.id_token!,
      providerSessionUid: signedIn.uid,
      ...(authTime !== undefined ? { authTime } : {}),
      amr,
    };
    await signIn.establish(ctx, session);
    if (pending.reauth)
      await deps.audit.record('account.reauthenticated', {
        accountId: claims.sub,
        ip: ctx.ip,
        details: { amr, page: pending.returnTo },
      });
    ctx.redirect(
      pending.reauth?.interrupted ? `${pending.returnTo}?${signedInAgainQuery}=1` : pending.returnTo,
    );
  });

  router.post('/logout', async (ctx) => {
    const current = await currentSession(ctx);
    if (!current) return ctx.redirect('/account/login');
    readCsrfForm(ctx, csrf, accountCsrfBinding(current.id), csrfOnlyForm);
    await store.delete(storeKeys.accountSession(current.id));
    ctx.cookies.set(sessionCookie, null, cookieOptions);
    const config = await deps.client.configuration();
    // Ends the Gatehouse session too (RP-initiated logout), so every app of this browser session is signed out.
    const url = oidc.buildEndSessionUrl(config, {
      id_token_hint: current.session.idToken,
      post_logout_redirect_uri: `${deps.issuer}/account/signed-out`,
    });
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  router.get('/signed-out', (ctx) => {
    ctx.type = 'html';
    ctx.body = pages.render('logged-out', { title: 'Signed out' });
  });

  registerAccountMfa(router, { mfa: deps.mfa, audit: deps.audit, pages, csrf, ...guard });
  registerAccountPasskeys(router, {
    passkeys: deps.passkeys,
    accounts: deps.accounts,
    federation: deps.federation,
    audit: deps.audit,
    pages,
    csrf,
    ...guard,
  });
  registerAccountIdentities(router, {
    accounts: deps.accounts,
    federation: deps.federation,
    identityProviders: deps.identityProviders,
    pages,
    csrf,
    ...guard,
  });
  registerAccountPassword(router, {
    browserSessionId: deps.providerSessionId,
    accounts: deps.accounts,
    mfa: deps.mfa,
    sessions: deps.sessions,
    audit: deps.audit,
    throttle: deps.passwordThrottle,
    pages,
    csrf,
    minLength: deps.passwordMinLength,
    ...guard,
  });
  registerAccountEmail(router, { ...deps.emailChange, accounts: deps.accounts, pages, csrf, ...guard });
  registerAccountSessions(router, {
    sessions: deps.sessions,
    pages,
    csrf,
    clientName: deps.clientName,
    browserSessionId: deps.providerSessionId,
    ...guard,
  });
  return router;
}
