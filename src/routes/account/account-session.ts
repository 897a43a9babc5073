import type { Context } from 'koa';
import type { z } from 'zod';

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
}

/** The account page's session as a handler receives it: the store id and what it holds. */
export interface CurrentAccountSession {
  id: string;
  session: AccountSession;
}

/**
 * The prelude every account page starts with: a GET page requires the signed-in account page session (else the
 * browser goes to sign in and the handler gets undefined); a form post also reads its form and checks its CSRF token.
 */
export interface AccountPageGuard {
  requireSession(ctx: Context): Promise<CurrentAccountSession | undefined>;
  requireSubmission<T extends z.ZodType<{ csrf: string }>>(
    ctx: Context,
    schema: T,
  ): Promise<(CurrentAccountSession & { form: z.infer<T> }) | undefined>;
}

/**
 * What an account page form's CSRF token is bound to: the account page session (not the account), so a token
 * from a session that ended is worthless.
 */
export const accountCsrfBinding = (accountSessionId: string) => `account:${accountSessionId}`;

/** The actor the audit log names for what a person does on their own account page. */
export const accountActor = (accountId: string) => `account:${accountId}`;
