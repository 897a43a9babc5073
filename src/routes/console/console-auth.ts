import type Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { z } from 'zod';
import type { AccountLibrary } from '../../libraries/accounts.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import type { RbacLibrary } from '../../libraries/rbac.ts';
import type { SessionManagement } from '../../libraries/session-management.ts';
import { acrValues } from '../../oidc/acr.ts';
import type { KeyValueStore } from '../../storage/hot-state.ts';
import { adminPermissions } from '../admin-api/admin-router.ts';
import { createFirstPartySignIn } from '../first-party-sign-in.ts';
import { csrfOnlyForm, readCsrfForm } from '../forms.ts';
import { consoleCookieNames } from '../../vocabulary/cookie-names.ts';
import { storeKeys } from '../../vocabulary/store-keys.ts';
import type { ConsoleClient } from './console-client.ts';
import {
  type ConsoleGuard,
  type ConsoleSession,
  type CurrentConsoleSession,
  consoleActor,
  consoleCsrfBinding,
  hasFreshSecondFactor,
  passedSecondFactor,
  steppedUpQuery,
} from './console-session.ts';

export interface ConsoleAuthDeps {
  issuer: string;
  client: ConsoleClient;
  store: KeyValueStore;
  pages: PageRenderer;
  csrf: CsrfTokens;
  sessionTtlSeconds: number;
  accounts: Pick<AccountLibrary, 'findById'>;
  mfa: Pick<MfaLibrary, 'hasSecondFactor'>;
  rbac: Pick<RbacLibrary, 'effectiveAccess'>;
  sessions: Pick<SessionManagement, 'findBrowserSession'>;
  audit: AuditLog;
  /** The id of this browser's Gatehouse session, from oidc-provider's signed session cookie, if it carries one. */
  providerSessionId(ctx: Context): string | undefined;
}

/** What the console adds to a sign-in in progress (src/routes/first-party-sign-in.ts holds the rest). */
interface ConsoleSignInExtra {
  /** A step-up before a change: when it was asked for (the new sign-in must be later) and whether a post was stopped. */
  stepUp?: { requestedAt: number; interrupted: boolean };
}

/** Only console pages are destinations after sign-in (no open redirect, never the admin API). */
export function consolePath(value: unknown): string {
  return typeof value === 'string' &&
    /^\/admin(\/[A-Za-z0-9/_.~%-]*)?$/.test(value) &&
    !/^\/admin\/api(\/|$)/.test(value) &&
    !value.includes('//')
    ? value
    : '/admin';
}

/** How far the clock of the process that signed the person in may lag behind this one's, in seconds. */
const clockToleranceSeconds = 30;
const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * The console's sign-in (a first-party relying party of Gatehouse, like the account page), its sign-out, and the
 * guard every console route starts with. Registers `/login`, `/callback`, `/logout` and `/signed-out` on `router`.
 */
export function registerConsoleAuth(router: Router, deps: ConsoleAuthDeps): ConsoleGuard {
  const { store, pages, csrf } = deps;
  const cookieOptions = {
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: deps.issuer.startsWith('https:'),
    signed: true,
    path: '/admin',
  };
  const signIn = createFirstPartySignIn<ConsoleSignInExtra>({
    client: deps.client,
    store,
    pages,
    sessions: deps.sessions,
    providerSessionId: deps.providerSessionId,
    callbackUrl: `${deps.issuer}/admin/callback`,
    loginPath: '/admin/login',
    scope: 'openid email profile',
    signInCookie: consoleCookieNames.signIn,
    signInKey: storeKeys.consoleSignIn,
    sessionCookie: consoleCookieNames.session,
    sessionKey: storeKeys.consoleSession,
    sessionTtlSeconds: deps.sessionTtlSeconds,
    cookieOptions,
    name: 'console',
  });

  /**
   * The console lives no longer than the Gatehouse session it was signed in through, nor than an active account:
   * signing out anywhere, a revoked session, a disabled or deleted account end it at its next request.
   */
  async function stillSignedIn(ctx: Context, session: ConsoleSession): Promise<boolean> {
    const id = deps.providerSessionId(ctx);
    const signedIn = id ? await deps.sessions.findBrowserSession(id) : undefined;
    if (!signedIn || signedIn.uid !== session.providerSessionUid || signedIn.accountId !== session.sub)
      return false;
    return (await deps.accounts.findById(session.sub))?.status === 'active';
  }

  async function currentSession(ctx: Context): Promise<CurrentConsoleSession | undefined> {
    const id = ctx.cookies.get(consoleCookieNames.session, { signed: true });
    if (!id) return undefined;
    const stored = await store.get(storeKeys.consoleSession(id));
    if (!stored) return undefined;
    const session = JSON.parse(stored) as ConsoleSession;
    if (await stillSignedIn(ctx, session)) return { id, session };
    await store.delete(storeKeys.consoleSession(id));
    ctx.cookies.set(consoleCookieNames.session, null, cookieOptions);
    return undefined;
  }

  async function requireSession(ctx: Context): Promise<CurrentConsoleSession | undefined> {
    const current = await currentSession(ctx);
    if (current) return current;
    const page = ctx.method === 'GET' || ctx.method === 'HEAD' ? ctx.path : '/admin';
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') ctx.status = 303;
    ctx.redirect(`/admin/login?return_to=${encodeURIComponent(consolePath(page))}`);
    return undefined;
  }

  /** The account's permissions now (through roles, groups and direct grants): a role taken away counts at once. */
  async function holds(accountId: string, permission: string): Promise<boolean> {
    return (await deps.rbac.effectiveAccess({ accountId })).permissions.includes(permission);
  }

  /** A signed-in person without the permission: a page saying so (403), never a new sign-in (no loop). */
  function forbidden(ctx: Context, current: CurrentConsoleSession, permission: string): void {
    ctx.status = 403;
    ctx.type = 'html';
    ctx.body = pages.render('console/forbidden', {
      title: 'Not allowed',
      email: current.session.email,
      permission,
      csrf: csrf.tokenFor(consoleCsrfBinding(current.id)),
    });
  }

  async function read(ctx: Context): Promise<CurrentConsoleSession | undefined> {
    const current = await requireSession(ctx);
    if (!current) return undefined;
    if (await holds(current.session.sub, adminPermissions.read)) return current;
    forbidden(ctx, current, adminPermissions.read);
    return undefined;
  }

  /**
   * A change whose sign-in has no fresh second factor: nothing is done, the audit log says so, and the browser signs
   * in again with both factors before coming back to `page`. An account with no second factor at all cannot step up:
   * it is told to set one up on its account page (403), not sent round in circles.
   */
  async function stepUp(ctx: Context, current: CurrentConsoleSession, page: string): Promise<void> {
    if (!(await deps.mfa.hasSecondFactor(current.session.sub))) {
      ctx.status = 403;
      ctx.type = 'html';
      ctx.body = pages.render('console/needs-second-factor', { title: 'Second factor needed' });
      return;
    }
    await deps.audit.record('account.reauth_required', {
      accountId: current.session.sub,
      actor: consoleActor(current.session.sub),
      ip: ctx.ip,
      details: {
        page: consolePath(page),
        stopped: `${ctx.method} ${ctx.path}`,
        secondFactor: true,
        ...(current.session.authTime ? { signedInAt: current.session.authTime } : {}),
      },
    });
    ctx.status = 303;
    await startSignIn(ctx, consolePath(page), { email: current.session.email });
  }

  async function change<T extends z.ZodType<{ csrf: string }>>(ctx: Context, schema: T, page: string) {
    const current = await requireSession(ctx);
    if (!current) return undefined;
    // The form and its CSRF token first: a post from another site is refused, not turned into a sign-in.
    const form = readCsrfForm(ctx, csrf, consoleCsrfBinding(current.id), schema);
    if (!(await holds(current.session.sub, adminPermissions.write))) {
      forbidden(ctx, current, adminPermissions.write);
      return undefined;
    }
    if (!hasFreshSecondFactor(current.session)) {
      await stepUp(ctx, current, page);
      return undefined;
    }
    return { ...current, form, actor: consoleActor(current.session.sub) };
  }

  /**
   * Sends the browser to Gatehouse's authorization endpoint for the console. A step-up asks for a new sign-in
   * whatever the session (`max_age=0`) with a second factor (`acr_values` naming the MFA class), for this email.
   */
  async function startSignIn(ctx: Context, returnTo: string, stepUpFor?: { email: string }): Promise<void> {
    await signIn.start(
      ctx,
      {
        returnTo,
        ...(stepUpFor ? { stepUp: { requestedAt: nowSeconds(), interrupted: ctx.method === 'POST' } } : {}),
      },
      stepUpFor ? { max_age: '0', acr_values: acrValues.mfa, login_hint: stepUpFor.email } : {},
    );
  }

  router.get('/login', (ctx) => startSignIn(ctx, consolePath(ctx.query.return_to)));

  router.get('/callback', async (ctx) => {
    const completed = await signIn.finish(ctx);
    if (!completed) return;
    const { pending, tokens, claims, signedIn, authTime, amr } = completed;
    if (pending.stepUp) {
      const recent = authTime !== undefined && authTime >= pending.stepUp.requestedAt - clockToleranceSeconds;
      if (!recent || !passedSecondFactor(amr)) {
        ctx.state.log.warn({ amr, recent }, 'console step-up refused');
        return signIn.failed(
          ctx,
          'To make changes, sign in again with your password and your second factor. Start again.',
          pending.returnTo,
        );
      }
    }
    const session: ConsoleSession = {
      sub: claims.sub,
      email: String(claims.email ?? ''),
      name: typeof claims.name === 'string' ? claims.name : null,
      idToken: tokens.id_token!,
      providerSessionUid: signedIn.uid,
      ...(authTime !== undefined ? { authTime } : {}),
      amr,
    };
    await signIn.establish(ctx, session);
    if (pending.stepUp)
      await deps.audit.record('account.reauthenticated', {
        accountId: claims.sub,
        actor: consoleActor(claims.sub),
        ip: ctx.ip,
        details: { amr, page: pending.returnTo },
      });
    ctx.redirect(pending.stepUp?.interrupted ? `${pending.returnTo}?${steppedUpQuery}=1` : pending.returnTo);
  });

  router.post('/logout', async (ctx) => {
    const current = await currentSession(ctx);
    if (!current) {
      ctx.status = 303;
      return ctx.redirect('/admin/signed-out');
    }
    readCsrfForm(ctx, csrf, consoleCsrfBinding(current.id), csrfOnlyForm);
    await store.delete(storeKeys.consoleSession(current.id));
    ctx.cookies.set(consoleCookieNames.session, null, cookieOptions);
    const config = await deps.client.configuration();
    // Ends the Gatehouse session too (RP-initiated logout): an administrator leaving a shared machine is signed out.
    const url = oidc.buildEndSessionUrl(config, {
      id_token_hint: current.session.idToken,
      post_logout_redirect_uri: `${deps.issuer}/admin/signed-out`,
    });
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  router.get('/signed-out', (ctx) => {
    ctx.type = 'html';
    ctx.body = pages.render('logged-out', { title: 'Signed out' });
  });

  return {
    read,
    change,
    csrfFor: (current) => csrf.tokenFor(consoleCsrfBinding(current.id)),
  };
}
