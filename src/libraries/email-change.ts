import { isUniqueViolation } from '../db/sql-state.ts';
import { invalidRequest } from '../errors/app-error.ts';
import type { AccountQueries } from '../queries/account-queries.ts';
import type { EmailTokenQueries } from '../queries/email-token-queries.ts';
import { isPlaceholderEmail, normaliseEmail } from './accounts.ts';
import type { AuditLog } from './audit.ts';
import { createMailedLinks } from './mailed-links.ts';
import type { Mailer } from './mailer.ts';

/** The path of the confirmation page; its link carries the token in the query (request logs hold the path only). */
export const emailChangePath = '/email-change';

export type EmailChangeOutcome =
  | { kind: 'done'; accountId: string; email: string }
  | { kind: 'invalid' }
  /** Another account took the address between the request and the confirmation. */
  | { kind: 'taken'; email: string };

/** `ada@example.com` as `a**@example.com`: enough for its owner to recognise, not to read it off a lost phone. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at);
  return `${local.slice(0, 1)}${'*'.repeat(Math.max(2, local.length - 1))}${email.slice(at)}`;
}

/**
 * Changing an account's address (from /account, after a recent sign-in): a single-use link (32 random bytes, only
 * their SHA-256 stored, valid for `tokenSeconds`) mailed to the new address; the account moves only when that link
 * is used, so the new address is verified by construction. Then the old address is told (masked new address), and
 * the password reset links still in the old mailbox stop working.
 *
 * The answer to a request never says whether the new address has an account: one that has gets no link and the
 * same answer (`request` reports `taken` for the audit log, not for the page).
 */
export function createEmailChangeLibrary(deps: {
  tokens: Pick<EmailTokenQueries, 'insert' | 'findUsable' | 'consume' | 'revokeAll'>;
  accounts: Pick<AccountQueries, 'findByEmail' | 'findById' | 'changeEmail'>;
  mailer: Mailer;
  audit: AuditLog;
  issuer: string;
  tokenSeconds: number;
}) {
  const { tokens, accounts, mailer } = deps;
  const links = createMailedLinks(deps, 'email_change', emailChangePath);
  const { site } = links;

  async function usable(token: unknown) {
    const found = await links.find(token);
    if (!found) return undefined;
    const account = await accounts.findById(found.row.account_id);
    if (!account || account.status !== 'active') return undefined;
    return { ...found, account };
  }

  return {
    get enabled() {
      return mailer.enabled;
    },

    /**
     * Checks the new address (an AppError 400 naming `email`: malformed, cannot receive mail, already the account's)
     * and, when no other account has it, mails it the link. `sent` false when the mail could not leave.
     */
    async request(
      account: { id: string; email: string },
      newEmail: string,
      context: { ip?: string | undefined },
    ): Promise<{ outcome: 'sent' | 'send_failed' | 'taken' }> {
      const email = normaliseEmail(newEmail);
      if (isPlaceholderEmail(email)) throw invalidRequest(`"${email}" cannot receive mail`, 'email');
      if (email.toLowerCase() === account.email.toLowerCase())
        throw invalidRequest('this is already the address of your account', 'email');
      const holder = await accounts.findByEmail(email);
      if (holder) {
        await deps.audit.record('email.change_requested', {
          accountId: account.id,
          ip: context.ip,
          details: { outcome: 'taken' },
        });
        return { outcome: 'taken' };
      }
      const link = await links.mint(account.id, email);
      const sent = await mailer.send('email-change', email, { email, site, link, validFor: links.validFor });
      await deps.audit.record('email.change_requested', {
        accountId: account.id,
        ip: context.ip,
        details: { outcome: sent ? 'sent' : 'send_failed' },
      });
      return { outcome: sent ? 'sent' : 'send_failed' };
    },

    /** What the confirmation page shows, or undefined for a link that is not (or no longer) usable. */
    async check(token: unknown): Promise<{ email: string; current: string } | undefined> {
      const found = await usable(token);
      return found ? { email: found.row.email, current: found.account.email } : undefined;
    },

    /**
     * Uses the link (once, however many requests carry it; the account's other change links end with it) and moves
     * the account to the new address, verified. The old address is told; its reset links stop working.
     */
    async confirm(token: unknown, context: { ip?: string | undefined }): Promise<EmailChangeOutcome> {
      const found = await usable(token);
      if (!found) return { kind: 'invalid' };
      const used = await tokens.consume(found.hash, 'email_change');
      if (!used) return { kind: 'invalid' };
      const previous = found.account.email;
      try {
        if (!(await accounts.changeEmail(found.account.id, used.email))) return { kind: 'invalid' };
      } catch (error) {
        if (isUniqueViolation(error)) return { kind: 'taken', email: used.email };
        throw error;
      }
      await tokens.revokeAll(found.account.id, 'password_reset');
      await deps.audit.record('email.changed', {
        accountId: found.account.id,
        ip: context.ip,
        details: { previous, email: used.email },
      });
      if (!isPlaceholderEmail(previous))
        await mailer.send('email-changed', previous, {
          email: previous,
          site,
          newEmail: maskEmail(used.email),
          when: new Date().toUTCString(),
        });
      return { kind: 'done', accountId: found.account.id, email: used.email };
    },
  };
}

export type EmailChangeLibrary = ReturnType<typeof createEmailChangeLibrary>;
