import type { Logger } from 'pino';
import { isUniqueViolation } from '../db/sql-state.ts';
import { invalidRequest } from '../errors/app-error.ts';
import type { AccountQueries } from '../queries/account-queries.ts';
import type { SignUpQueries } from '../queries/sign-up-queries.ts';
import { isPlaceholderEmail, normaliseEmail } from './accounts.ts';
import { describeDuration, hashEmailToken, newEmailToken } from './email-tokens.ts';
import type { Mailer } from './mailer.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { PasswordHasher } from './passwords.ts';

/** The path of the confirmation page; its link carries the token in the query (request logs hold the path only). */
export const signUpPath = '/sign-up';

/** What the sign-up library records in the audit log. */
export type SignUpAuditType = 'account.signed_up' | 'account.sign_up_for_existing';

export type CompleteOutcome =
  | { kind: 'done'; accountId: string; email: string; returnTo: string | null }
  | { kind: 'invalid' }
  /** The address got an account between the request and the confirmation (an invitation, an operator). */
  | { kind: 'taken'; email: string };

export interface SignUpForm {
  email: string;
  name?: string | undefined;
  password: string;
}

/**
 * Self-service sign-up (`signUp.enabled`, off by default): "Create an account" on the login page, confirmed by a
 * single-use link mailed to the address (32 random bytes, only their SHA-256 stored, valid for `tokenSeconds`).
 *
 * No account exists until the link is used: the request is kept aside (`sign_ups`, the password already an argon2id
 * hash), so a sign-up for somebody else's address creates nothing, reserves nothing and can never become an account
 * with a stranger's password waiting for its owner. Using the link creates the account, its address verified.
 *
 * The answer never says whether the address has an account: the form is checked first (address shape, name,
 * password rules: nothing about accounts), then `request` does the rest after the answer, the same work for every
 * address (the password is hashed either way). An address that has an account gets a message saying so, with the
 * way back in ("Forgot password?"), instead of a link.
 */
export function createSignUpLibrary(deps: {
  enabled: boolean;
  signUps: SignUpQueries;
  accounts: Pick<AccountQueries, 'findByEmail' | 'insertWithRoles'>;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  mailer: Mailer;
  audit: {
    record(
      type: SignUpAuditType,
      event: { accountId?: string; ip?: string | undefined; details?: Record<string, unknown> },
    ): Promise<void>;
  };
  issuer: string;
  tokenSeconds: number;
  log: Pick<Logger, 'warn'>;
}) {
  const { signUps, accounts, mailer } = deps;
  const site = new URL(deps.issuer).host;

  /** A pending sign-up's link, unused and unexpired; none while sign-up is off (an earlier link included). */
  async function usable(token: unknown) {
    if (!deps.enabled) return undefined;
    const hash = hashEmailToken(token);
    if (!hash) return undefined;
    const row = await signUps.findUsable(hash);
    return row ? { hash, row } : undefined;
  }

  async function send(form: SignUpForm, context: { ip?: string | undefined; returnTo?: string | undefined }) {
    const email = normaliseEmail(form.email);
    // Hashed for every address alike: the time to the mail does not tell whether an account exists.
    const passwordHash = await deps.passwords.hash(form.password);
    const existing = await accounts.findByEmail(email);
    if (existing) {
      await mailer.send('sign-up-existing', existing.email, {
        email: existing.email,
        site,
        accountUrl: `${deps.issuer}/account`,
      });
      await deps.audit.record('account.sign_up_for_existing', { accountId: existing.id, ip: context.ip });
      return;
    }
    const { token, hash } = newEmailToken();
    await signUps.insert({
      hash,
      email,
      name: form.name?.trim() || null,
      passwordHash,
      returnTo: context.returnTo?.startsWith('/interaction/') ? context.returnTo : null,
      ttlSeconds: deps.tokenSeconds,
    });
    await mailer.send('sign-up', email, {
      email,
      name: form.name?.trim() || null,
      site,
      link: `${deps.issuer}${signUpPath}?token=${token}`,
      validFor: describeDuration(deps.tokenSeconds),
    });
  }

  return {
    /** On when configured and mail can be sent (an SMTP server or the development mailbox). */
    get enabled() {
      return deps.enabled && mailer.enabled;
    },

    /**
     * Checks what the form says on its own (no account lookup): a well-formed address that can receive mail, a
     * name of at most 200 characters, a password the rules accept. An AppError 400 naming the field otherwise.
     */
    checkForm(form: SignUpForm): void {
      const email = normaliseEmail(form.email);
      if (isPlaceholderEmail(email)) throw invalidRequest(`"${email}" cannot receive mail`, 'email');
      if (form.name !== undefined && form.name.length > 200)
        throw invalidRequest('the name is too long', 'name');
      // A new account has no second factor yet, so the longer minimum applies.
      deps.policy.check(form.password, { email, hasSecondFactor: false });
    },

    /**
     * Mails the confirmation link (or, to an address that has an account, a note saying so). Meant to run after
     * the answer is sent; never throws (a failure is logged without the address or the password).
     */
    async request(
      form: SignUpForm,
      context: { ip?: string | undefined; returnTo?: string | undefined },
    ): Promise<void> {
      try {
        await send(form, context);
      } catch (error) {
        deps.log.warn(
          { err: error instanceof Error ? { name: error.name, message: error.message } : undefined },
          'a sign-up request failed',
        );
      }
    },

    /** What the confirmation page shows, or undefined for a link that is not (or no longer) usable. */
    async check(token: unknown): Promise<{ email: string; name: string | null } | undefined> {
      const found = await usable(token);
      return found ? { email: found.row.email, name: found.row.name } : undefined;
    },

    /**
     * Uses the link (once, however many requests carry it) and creates the account with the password chosen at
     * sign-up, its address verified, no roles.
     */
    async complete(token: unknown, context: { ip?: string | undefined }): Promise<CompleteOutcome> {
      const found = await usable(token);
      if (!found) return { kind: 'invalid' };
      const used = await signUps.consume(found.hash);
      if (!used) return { kind: 'invalid' };
      let created;
      try {
        created = await accounts.insertWithRoles(
          { email: used.email, name: used.name, passwordHash: used.password_hash, emailVerified: true },
          [],
        );
      } catch (error) {
        if (isUniqueViolation(error)) return { kind: 'taken', email: used.email };
        throw error;
      }
      await deps.audit.record('account.signed_up', { accountId: created.row.id, ip: context.ip });
      return { kind: 'done', accountId: created.row.id, email: used.email, returnTo: used.return_to };
    },
  };
}

export type SignUpLibrary = ReturnType<typeof createSignUpLibrary>;
