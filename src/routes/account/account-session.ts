import type { Context } from 'koa';
import type { z } from 'zod';

/**
 * How recent a sign-in must be for a sensitive change on the account page (the password, the second factor and its
 * recovery codes, linked identities): five minutes. An older sign-in, such as a browser left signed in and
 * unattended, is asked to sign in again (password, and the second factor when the account has one) before the page
 * is shown or the change is made (OWASP ASVS 4.0 V3.7.1). Changing it is a code change on purpose: no setting can
 * widen it by mistake, and the tests age a sign-in instead of waiting (test/e2e/account-reauth.test.ts).
 */
export const recentSignInSeconds = 300;

/**
 * The account page's signed-in session, shared by its router and its pages (sessions, second factor, password,
 * linked identities). Kept apart from the router so the pages need not import it (the router imports them).
 */
export interface AccountSession {
  sub: string;
  email: string;
  name: string | null;
  roles: string[];
  idToken: string;
  /** The uid of the Gatehouse session this browser signed in to the account page through. */
  providerSessionUid: string;
  /**
   * When the person last proved who they are (the ID token's `auth_time`, seconds since the epoch). Absent from a
   * session stored before it was kept, which therefore counts as an old sign-in.
   */
  authTime?: number;
  /** How they did (the ID token's `amr`: `pwd`, `otp`, `mfa`, `fed`). */
  amr?: string[];
}

/** The account page's session as a handler receives it: the store id and what it holds. */
export interface CurrentAccountSession {
  id: string;
  session: AccountSession;
}

/** Whether the session's sign-in is recent enough for a sensitive change (see `recentSignInSeconds`). */
export function signedInRecently(session: AccountSession, nowMs: number = Date.now()): boolean {
  return (
    typeof session.authTime === 'number' && Math.floor(nowMs / 1000) - session.authTime <= recentSignInSeconds
  );
}

/**
 * The prelude every account page starts with: a GET page requires the signed-in account page session (else the
 * browser goes to sign in and the handler gets undefined); a form post also reads its form and checks its CSRF token.
 *
 * The `Recent` variants guard sensitive changes: they also require a sign-in no older than `recentSignInSeconds`.
 * When it is older, nothing is changed and the browser is sent to sign in again (`max_age=0`), then back to
 * `page` (the page of the form: a post is never replayed, its form is shown again), and the handler gets undefined.
 */
export interface AccountPageGuard {
  requireSession(ctx: Context): Promise<CurrentAccountSession | undefined>;
  requireSubmission<T extends z.ZodType<{ csrf: string }>>(
    ctx: Context,
    schema: T,
  ): Promise<(CurrentAccountSession & { form: z.infer<T> }) | undefined>;
  requireRecentSession(ctx: Context): Promise<CurrentAccountSession | undefined>;
  requireRecentSubmission<T extends z.ZodType<{ csrf: string }>>(
    ctx: Context,
    schema: T,
    page: string,
  ): Promise<(CurrentAccountSession & { form: z.infer<T> }) | undefined>;
}

/**
 * The query a page is sent back with after its form post was stopped to sign in again, and the words it shows.
 */
export const signedInAgainQuery = 'signed_in_again';
export const signedInAgainNotice =
  'You signed in again. Nothing was changed yet: make your change once more.';

/** The notice of a page reached after signing in again for a change that was not made, if it is one. */
export const signedInAgainNoticeFor = (ctx: Context): string | undefined =>
  ctx.query[signedInAgainQuery] === '1' ? signedInAgainNotice : undefined;

/**
 * What an account page form's CSRF token is bound to: the account page session (not the account), so a token
 * from a session that ended is worthless.
 */
export const accountCsrfBinding = (accountSessionId: string) => `account:${accountSessionId}`;

/** The actor the audit log names for what a person does on their own account page. */
export const accountActor = (accountId: string) => `account:${accountId}`;
