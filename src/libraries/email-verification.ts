import type { AccountQueries } from '../queries/account-queries.ts';
import type { EmailTokenQueries } from '../queries/email-token-queries.ts';
import type { Logger } from 'pino';
import { isPlaceholderEmail, type AccountLibrary } from './accounts.ts';
import type { AuditLog } from './audit.ts';
import { createMailedLinks } from './mailed-links.ts';
import type { Mailer } from './mailer.ts';

/** The path of the verification page; its link carries the token in the query (request logs hold the path only). */
export const emailVerificationPath = '/email-verification';

export type SendVerificationOutcome = 'sent' | 'send_failed' | 'already_verified' | 'no_address' | 'mail_off';

/**
 * Verifying that an account owns its address: a single-use link (32 random bytes, only its SHA-256 stored, valid
 * for `tokenSeconds`) mailed to the address; opening it (and confirming) sets `email_verified`, which ID tokens and
 * userinfo release. The link proves the address it was sent to: if the account's address changed since, it does
 * nothing.
 */
export function createEmailVerificationLibrary(deps: {
  tokens: EmailTokenQueries;
  accounts: Pick<AccountQueries, 'findById' | 'update'>;
  mailer: Mailer;
  audit: AuditLog;
  issuer: string;
  tokenSeconds: number;
}) {
  const { tokens, accounts, mailer } = deps;
  const links = createMailedLinks(deps, 'email_verification', emailVerificationPath);

  async function usable(token: unknown) {
    const found = await links.find(token);
    if (!found) return undefined;
    const account = await accounts.findById(found.row.account_id);
    if (!account || account.email.toLowerCase() !== found.row.email.toLowerCase()) return undefined;
    return { ...found, account };
  }

  return {
    get enabled() {
      return mailer.enabled;
    },

    /** Mails a verification link to the account's address (the earlier links stay valid until they expire). */
    async send(
      account: { id: string; email: string; emailVerified: boolean },
      actor: string,
    ): Promise<SendVerificationOutcome> {
      if (!mailer.enabled) return 'mail_off';
      if (account.emailVerified) return 'already_verified';
      if (isPlaceholderEmail(account.email)) return 'no_address';
      const sent = await mailer.send('email-verification', account.email, {
        email: account.email,
        site: links.site,
        link: await links.mint(account.id, account.email),
        validFor: links.validFor,
      });
      await deps.audit.record('email.verification_sent', { accountId: account.id, actor, details: { sent } });
      return sent ? 'sent' : 'send_failed';
    },

    /** The address a usable link would verify, or undefined (expired, used, forged, or the address changed). */
    async check(token: unknown): Promise<{ email: string } | undefined> {
      const found = await usable(token);
      return found ? { email: found.account.email } : undefined;
    },

    /** Uses the link: the account's address is verified. False when the link is not usable. */
    async verify(token: unknown, context: { ip?: string }): Promise<boolean> {
      const found = await usable(token);
      if (!found) return false;
      const used = await tokens.consume(found.hash, 'email_verification');
      if (!used) return false;
      await accounts.update(found.account.id, { emailVerified: true });
      await deps.audit.record('email.verified', { accountId: found.account.id, ip: context.ip });
      return true;
    },
  };
}

export type EmailVerificationLibrary = ReturnType<typeof createEmailVerificationLibrary>;

/**
 * The account library, with a verification link mailed after an administrator creates an account whose address is
 * not known to be verified (when mail is on). A failed send never fails the creation: it is logged.
 */
export function sendingVerificationOnCreate(
  accounts: AccountLibrary,
  verification: EmailVerificationLibrary,
  log: Pick<Logger, 'warn'>,
): AccountLibrary {
  if (!verification.enabled) return accounts;
  return {
    ...accounts,
    async createWithRoles(input) {
      const created = await accounts.createWithRoles(input);
      if (!created.emailVerified)
        await verification.send(created, 'account created').catch((error: unknown) => {
          log.warn(
            { err: error instanceof Error ? { name: error.name, message: error.message } : undefined },
            'the verification link of a new account could not be sent',
          );
        });
      return created;
    },
  };
}
