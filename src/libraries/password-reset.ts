import type { Logger } from 'pino';
import type { GatehouseConfig } from '../config/load-config.ts';
import type { HotState } from '../storage/hot-state.ts';
import { throttleKeys } from '../vocabulary/throttle-keys.ts';
import { createRequestThrottles } from './request-throttles.ts';
import type { SignInThrottles } from './throttles.ts';
import type { AccountQueries } from '../queries/account-queries.ts';
import type { EmailTokenQueries } from '../queries/email-token-queries.ts';
import { isPlaceholderEmail } from './accounts.ts';
import type { AuditLog } from './audit.ts';
import { createMailedLinks } from './mailed-links.ts';
import type { Mailer } from './mailer.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { PasswordHasher } from './passwords.ts';

/** The path of the reset page; its link carries the token in the query (request logs hold the path only). */
export const passwordResetPath = '/password-reset';

export type ResetOutcome = { kind: 'done'; accountId: string; returnTo: string | null } | { kind: 'invalid' };

/** What mailing a reset link came to: `no_account` covers every address without an active account with a password. */
export type SendResetOutcome = 'sent' | 'send_failed' | 'no_account' | 'mail_off';

interface ResetLinkDeps {
  tokens: Pick<EmailTokenQueries, 'insert' | 'findUsable'>;
  accounts: Pick<AccountQueries, 'findByEmail'>;
  mailer: Mailer;
  audit: AuditLog;
  issuer: string;
  tokenSeconds: number;
}

/**
 * Mailing a password reset link (the one "Forgot password?" sends, opening the same page), shared by the login
 * page's step and `gatehouse user send-reset`. Only active accounts with a password get one (an account that signs
 * in only through an upstream, or an invitee who has not set a password yet, has none to reset). The request is
 * audited (`password.reset_requested`) with whether the mail left.
 */
export function createResetLinkSender(deps: ResetLinkDeps) {
  const { accounts, mailer } = deps;
  const links = createMailedLinks(deps, 'password_reset', passwordResetPath);
  return {
    async send(
      email: string,
      context: { ip?: string | undefined; actor?: string; returnTo?: string | undefined },
    ): Promise<SendResetOutcome> {
      if (!mailer.enabled) return 'mail_off';
      const row = await accounts.findByEmail(email.trim());
      if (!row || row.status !== 'active' || !row.password_hash || isPlaceholderEmail(row.email))
        return 'no_account';
      const returnTo = context.returnTo?.startsWith('/interaction/') ? context.returnTo : null;
      const sent = await mailer.send('password-reset', row.email, {
        email: row.email,
        site: links.site,
        link: await links.mint(row.id, row.email, returnTo),
        validFor: links.validFor,
      });
      await deps.audit.record('password.reset_requested', {
        accountId: row.id,
        ip: context.ip,
        ...(context.actor === undefined ? {} : { actor: context.actor }),
        details: { sent },
      });
      return sent ? 'sent' : 'send_failed';
    },
  };
}

export type ResetLinkSender = ReturnType<typeof createResetLinkSender>;

/**
 * "Forgot password?": a link with a single-use token (32 random bytes, only its SHA-256 stored, valid for
 * `tokenSeconds`) mailed to an account's address, and setting a new password with it.
 *
 * `request` does everything (lookup, token, mail) whether or not the address has an account, and is meant to run
 * after the answer is sent: the page answers the same, at the same time, for every address. Only active accounts
 * with a password get a link (an account that signs in only through an upstream has none to reset).
 *
 * A reset does not touch second factors: the next sign-in still asks for one. It ends every session and grant of
 * the account, lifts its sign-in locks, ends its other reset links and tells the address by mail.
 */
export function createPasswordResetLibrary(deps: {
  tokens: EmailTokenQueries;
  accounts: Pick<AccountQueries, 'findByEmail' | 'findById' | 'updatePasswordHash'>;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  hasSecondFactor: (accountId: string) => Promise<boolean>;
  mailer: Mailer;
  audit: AuditLog;
  issuer: string;
  tokenSeconds: number;
  /** Ends every session and grant of the account (signOutEverywhere). */
  signOutEverywhere: (accountId: string) => Promise<unknown>;
  /** Lifts the sign-in locks of the account (its throttle keys). */
  clearLocks: (account: { id: string; email: string }) => Promise<void>;
  log: Pick<Logger, 'warn'>;
}) {
  const { tokens, accounts, mailer } = deps;
  const links = createResetLinkSender(deps);

  const resetLinks = createMailedLinks(deps, 'password_reset', passwordResetPath);

  async function usable(token: unknown) {
    const found = await resetLinks.find(token);
    if (!found) return undefined;
    const account = await accounts.findById(found.row.account_id);
    if (!account || account.status !== 'active' || !account.password_hash) return undefined;
    return { ...found, account };
  }

  return {
    /** Off without an SMTP server: the login page shows no link. */
    get enabled() {
      return mailer.enabled;
    },

    /**
     * Sends a reset link if `email` belongs to an active account with a password; else does the same lookups and
     * nothing more. Never throws (an outage is logged): its caller has already answered.
     */
    async request(email: string, context: { ip?: string; returnTo?: string | undefined }): Promise<void> {
      try {
        await links.send(email, context);
      } catch (error) {
        deps.log.warn(
          { err: error instanceof Error ? { name: error.name, message: error.message } : undefined },
          'a password reset request failed',
        );
      }
    },

    /** What the reset page needs to show its form, or undefined for a token that is not (or no longer) usable. */
    async check(token: unknown): Promise<{ email: string; hasSecondFactor: boolean } | undefined> {
      const found = await usable(token);
      if (!found) return undefined;
      return { email: found.account.email, hasSecondFactor: await deps.hasSecondFactor(found.account.id) };
    },

    /**
     * Sets a new password with a reset token. The password rules are checked first (an AppError 400 naming why,
     * the token still usable); then the token is used, in one statement with the end of the account's other reset
     * tokens, so a token works once however many requests carry it.
     */
    async reset(token: unknown, password: string, context: { ip?: string }): Promise<ResetOutcome> {
      const found = await usable(token);
      if (!found) return { kind: 'invalid' };
      const { account } = found;
      deps.policy.check(password, {
        email: account.email,
        hasSecondFactor: await deps.hasSecondFactor(account.id),
      });
      const passwordHash = await deps.passwords.hash(password);
      const used = await tokens.consume(found.hash, 'password_reset');
      if (!used) return { kind: 'invalid' };
      await accounts.updatePasswordHash(account.id, passwordHash);
      await deps.audit.record('password.reset', { accountId: account.id, ip: context.ip });
      await deps.signOutEverywhere(account.id);
      await deps.clearLocks({ id: account.id, email: account.email });
      await mailer.send('password-changed', account.email, {
        email: account.email,
        site: resetLinks.site,
        how: 'with a reset link',
        when: new Date().toUTCString(),
      });
      return { kind: 'done', accountId: account.id, returnTo: used.return_to };
    },
  };
}

export type PasswordResetLibrary = ReturnType<typeof createPasswordResetLibrary>;

/** How often "Forgot password?" may be asked, per typed address and per client address (every request counts). */
export function createPasswordResetThrottles(config: GatehouseConfig, hotState: HotState) {
  return createRequestThrottles('reset', config.throttle.passwordReset, {
    redis: hotState.redis,
    prefix: config.redisKeyPrefix,
  });
}

export type PasswordResetThrottles = ReturnType<typeof createPasswordResetThrottles>;

/**
 * Lifts the password locks of an account after its password was reset: failed sign-ins by email and failed current
 * passwords on the account page. The second-factor lock stays: a reset proves the mailbox, not the second factor.
 */
export async function clearPasswordLocks(
  throttles: Pick<SignInThrottles, 'passwordPerAccount'>,
  account: { id: string; email: string },
): Promise<void> {
  await Promise.all([
    throttles.passwordPerAccount.reset(throttleKeys.email(account.email)),
    throttles.passwordPerAccount.reset(throttleKeys.passwordChange(account.id)),
  ]);
}
