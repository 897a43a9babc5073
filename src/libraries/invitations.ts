import type { AccountQueries } from '../queries/account-queries.ts';
import type { EmailTokenQueries } from '../queries/email-token-queries.ts';
import { conflict, invalidRequest } from '../errors/app-error.ts';
import { isUniqueViolation } from '../db/sql-state.ts';
import { isPlaceholderEmail, normaliseEmail, toAccount, type Account } from './accounts.ts';
import { createMailedLinks } from './mailed-links.ts';
import type { Mailer } from './mailer.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { PasswordHasher } from './passwords.ts';
import { noSuchRole } from './rbac.ts';

/** The path of the invitation page; its link carries the token in the query (request logs hold the path only). */
export const invitationPath = '/invitation';

/** What the invitation library records in the audit log. */
export type InvitationAuditType = 'account.invited' | 'account.invitation_accepted';

export type AcceptOutcome = { kind: 'done'; accountId: string; email: string } | { kind: 'invalid' };

/**
 * Inviting a person: an account created without a password (active, its address not verified) and a single-use
 * link (32 random bytes, only its SHA-256 stored, valid for `tokenSeconds`) mailed to its address, with which the
 * invitee chooses a password. Choosing it proves the mailbox, so the address becomes verified.
 *
 * Until then the account cannot sign in with a password (it has none) and gets no reset link ("Forgot password?"
 * mails only accounts with a password). An invitation whose mail could not be sent is undone (the account is
 * deleted), so inviting the address again works once mail does.
 */
export function createInvitationLibrary(deps: {
  tokens: Pick<EmailTokenQueries, 'insert' | 'findUsable' | 'consume'>;
  accounts: Pick<
    AccountQueries,
    | 'findByEmail'
    | 'findById'
    | 'insertWithRoles'
    | 'unknownRoles'
    | 'delete'
    | 'updatePasswordHash'
    | 'update'
  >;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  mailer: Mailer;
  audit: {
    record(
      type: InvitationAuditType,
      event: {
        accountId?: string;
        actor?: string;
        ip?: string | undefined;
        details?: Record<string, unknown>;
      },
    ): Promise<void>;
  };
  issuer: string;
  tokenSeconds: number;
}) {
  const { tokens, accounts, mailer } = deps;
  const links = createMailedLinks(deps, 'invitation', invitationPath);

  /**
   * The account a usable link invites: unused and unexpired, the account still active, still at the address the
   * link was sent to, and still without a password (an accepted invitation is over, whatever its link says).
   */
  async function usable(token: unknown) {
    const found = await links.find(token);
    if (!found) return undefined;
    const { hash, row } = found;
    const account = await accounts.findById(row.account_id);
    if (
      !account ||
      account.status !== 'active' ||
      account.password_hash !== null ||
      account.email.toLowerCase() !== row.email.toLowerCase()
    )
      return undefined;
    return { hash, account };
  }

  return {
    /** Off without mail: an invitation is its link. */
    get enabled() {
      return mailer.enabled;
    },

    /**
     * Creates the account (with its roles, together or not at all) and mails its invitation link. Refused before
     * anything is written: mail off (400 naming smtp.url), a malformed address or name (400), a role that does not
     * exist (404), an address that already has an account (409). An invitation whose mail could not be sent is
     * undone: `sent` false, no account is kept.
     */
    async invite(
      input: { email: string; name?: string | undefined; roles?: readonly string[] | undefined },
      actor: string,
    ): Promise<{ account: Account & { roles: string[] }; sent: boolean }> {
      if (!mailer.enabled)
        throw invalidRequest(
          'mail is off: set smtp.url (env GATEHOUSE_SMTP_URL) to send invitations',
          'smtp.url',
        );
      const email = normaliseEmail(input.email);
      if (isPlaceholderEmail(email)) throw invalidRequest(`"${email}" cannot receive mail`, 'email');
      if (input.name !== undefined && input.name.length > 200)
        throw invalidRequest('the name is too long', 'name');
      const roles = [...new Set(input.roles ?? [])];
      const [unknown] = await accounts.unknownRoles(roles);
      if (unknown !== undefined) throw noSuchRole(unknown);
      const exists = () => conflict(`an account with email ${email} already exists`);
      if (await accounts.findByEmail(email)) throw exists();
      let created;
      try {
        created = await accounts.insertWithRoles(
          { email, name: input.name ?? null, passwordHash: null, emailVerified: false },
          roles,
        );
      } catch (error) {
        // Two invitations (or a creation) of one address at once: the unique index decides.
        if (isUniqueViolation(error)) throw exists();
        throw error;
      }
      const account = { ...toAccount(created.row), roles: created.roles };
      let sent = false;
      try {
        sent = await mailer.send('invitation', account.email, {
          email: account.email,
          name: account.name,
          site: links.site,
          link: await links.mint(account.id, account.email),
          validFor: links.validFor,
        });
      } finally {
        // Undone when the link did not leave (its token goes with the account: ON DELETE CASCADE).
        if (!sent) await accounts.delete(account.id);
      }
      if (sent)
        await deps.audit.record('account.invited', { accountId: account.id, actor, details: { roles } });
      return { account, sent };
    },

    /** What the invitation page needs to show its form, or undefined for a link that is not (or no longer) usable. */
    async check(token: unknown): Promise<{ email: string; name: string | null } | undefined> {
      const found = await usable(token);
      return found ? { email: found.account.email, name: found.account.name } : undefined;
    },

    /**
     * Accepts an invitation: sets the account's first password and verifies its address. The password rules are
     * checked first (an AppError 400 naming why, the link still usable), as for a reset of an account without a
     * second factor; then the link is used in one statement, so it works once however many requests carry it.
     */
    async accept(token: unknown, password: string, context: { ip?: string }): Promise<AcceptOutcome> {
      const found = await usable(token);
      if (!found) return { kind: 'invalid' };
      const { account } = found;
      deps.policy.check(password, { email: account.email, hasSecondFactor: false });
      const passwordHash = await deps.passwords.hash(password);
      if (!(await tokens.consume(found.hash, 'invitation'))) return { kind: 'invalid' };
      await accounts.updatePasswordHash(account.id, passwordHash);
      await accounts.update(account.id, { emailVerified: true });
      await deps.audit.record('account.invitation_accepted', { accountId: account.id, ip: context.ip });
      return { kind: 'done', accountId: account.id, email: account.email };
    },
  };
}

export type InvitationLibrary = ReturnType<typeof createInvitationLibrary>;
