import type { Context } from 'koa';
import type { z } from 'zod';

/** The console's own first-party client (code + PKCE, public), ensured at every start (src/ensure-builtins.ts). */
export const consoleClientId = 'gatehouse-console';

/**
 * How recent the second factor must be for a change in the console: five minutes, as for the account page's
 * sensitive changes (src/routes/account/account-session.ts). A change with an older sign-in, or one made without a
 * second factor, first goes through a step-up (`max_age=0` and the MFA `acr`: password and second factor again).
 * A code change on purpose: no setting can widen it by mistake.
 */
export const freshSecondFactorSeconds = 300;

/** The console's signed-in session (in the hot store, found by the id in the console cookie). */
export interface ConsoleSession {
  sub: string;
  email: string;
  name: string | null;
  idToken: string;
  /** The uid of the Gatehouse session this browser signed in through: the console ends with it. */
  providerSessionUid: string;
  /** The ID token's `auth_time` (seconds since the epoch). */
  authTime?: number;
  /** The ID token's `amr` (`pwd`, `otp`, `mfa`, `hwk`/`swk` + `user`, `fed`). */
  amr: string[];
}

export interface CurrentConsoleSession {
  id: string;
  session: ConsoleSession;
}

/**
 * Whether the sign-in passed a second factor: `mfa` (what Gatehouse adds with any second factor and with a
 * passwordless passkey), `otp`, or a passkey whose authenticator verified the person (RFC 8176 `hwk`/`swk` with
 * `user`).
 */
export function passedSecondFactor(amr: readonly string[]): boolean {
  if (amr.includes('mfa') || amr.includes('otp')) return true;
  return (amr.includes('hwk') || amr.includes('swk')) && amr.includes('user');
}

/** Whether the session may change things now: a second factor no older than `freshSecondFactorSeconds`. */
export function hasFreshSecondFactor(session: ConsoleSession, nowMs: number = Date.now()): boolean {
  return (
    typeof session.authTime === 'number' &&
    Math.floor(nowMs / 1000) - session.authTime <= freshSecondFactorSeconds &&
    passedSecondFactor(session.amr)
  );
}

/** The actor the audit log names for what an administrator does in the console. */
export const consoleActor = (accountId: string) => `console:${accountId}`;

/** What a console form's CSRF token is bound to: the console session, so a token outlives neither. */
export const consoleCsrfBinding = (consoleSessionId: string) => `console:${consoleSessionId}`;

/** The query a page comes back with after a step-up that stopped a change, and what the page then says. */
export const steppedUpQuery = 'stepped_up';
export const steppedUpNotice =
  'You confirmed your second factor. Nothing was changed yet: make your change once more.';

/**
 * The prelude of every console route. `read` answers a GET page: the console session (else the browser signs in)
 * holding `admin:read` (else a 403 page); `change` answers a form post: the same session, its form and CSRF token,
 * `admin:write`, and a fresh second factor (else a step-up, back to `page`). Each returns undefined once it has
 * answered the request itself.
 */
export interface ConsoleGuard {
  read(ctx: Context): Promise<CurrentConsoleSession | undefined>;
  change<T extends z.ZodType<{ csrf: string }>>(
    ctx: Context,
    schema: T,
    page: string,
  ): Promise<(CurrentConsoleSession & { form: z.infer<T>; actor: string }) | undefined>;
  /** The CSRF token for the forms of a page of this session. */
  csrfFor(current: CurrentConsoleSession): string;
}

/** What every page module of the console gets: the guard, and a renderer inside the console's layout. */
export interface ConsoleKit extends ConsoleGuard {
  render(
    ctx: Context,
    current: CurrentConsoleSession,
    view: string,
    data: { title: string; notice?: string | undefined; error?: string | undefined } & Record<
      string,
      unknown
    >,
  ): void;
}
