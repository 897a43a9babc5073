import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { AccountQueries } from '../queries/account-queries.ts';
import type { KeyValueStore } from '../storage/hot-state.ts';
import { storeKeys } from '../vocabulary/store-keys.ts';
import { isPlaceholderEmail } from './accounts.ts';
import { describeDuration } from './email-tokens.ts';
import type { Mailer } from './mailer.ts';

/** A sign-in code waiting in the hot store for its interaction: only a hash of the code is kept. */
interface PendingCode {
  email: string;
  /** The account the code was mailed to; null when the address has no active account (no mail was sent). */
  accountId: string | null;
  codeHash: string;
  remember: boolean;
}

export type CodeCheck =
  | { kind: 'right'; accountId: string; remember: boolean }
  | { kind: 'wrong'; email: string; accountId: string | null }
  /** No code is waiting for this sign-in: never asked, expired, or already used. */
  | { kind: 'none' };

/** Six digits, from a uniform source (crypto.randomInt), leading zeros kept. */
const newCode = () => randomInt(0, 1_000_000).toString().padStart(6, '0');

/**
 * Sign-in with a one-time code by email (`emailCode.enabled`, per client with `emailCode.clients`): six digits,
 * valid `codeSeconds`, bound to the sign-in (interaction) that asked for it, used once. Only a salted hash of the
 * code is stored (under the interaction, in the hot store); the code is in the mail only.
 *
 * Asking answers the same for every address: a code is "issued" for any address, but mailed only to an active
 * account's, after the answer. Guesses are limited by the caller's attempt guard (per address and per IP).
 */
export function createEmailCodeLibrary(deps: {
  enabled: boolean;
  /** Clients that offer it; null: every client. */
  clients: readonly string[] | null;
  store: KeyValueStore;
  accounts: Pick<AccountQueries, 'findByEmail'>;
  mailer: Mailer;
  issuer: string;
  codeSeconds: number;
  log: Pick<Logger, 'warn'>;
}) {
  const site = new URL(deps.issuer).host;
  const hashOf = (interactionUid: string, code: string) =>
    createHash('sha256').update(`${interactionUid}:${code}`).digest('hex');

  return {
    validFor: describeDuration(deps.codeSeconds),

    /** Whether the login page of `clientId` offers "Email me a sign-in code". */
    offeredTo(clientId: string): boolean {
      return (
        deps.enabled && deps.mailer.enabled && (deps.clients === null || deps.clients.includes(clientId))
      );
    },

    /**
     * Replaces any code of this sign-in with a new one for `email`, and returns what mails it: the caller answers
     * first and then runs `deliver` (it never throws; a failure is logged without the address or the code).
     */
    async issue(
      interactionUid: string,
      email: string,
      remember: boolean,
    ): Promise<{ deliver: () => Promise<void> }> {
      const row = await deps.accounts.findByEmail(email);
      const account = row && row.status === 'active' && !isPlaceholderEmail(row.email) ? row : undefined;
      const code = newCode();
      const pending: PendingCode = {
        email,
        accountId: account?.id ?? null,
        codeHash: hashOf(interactionUid, code),
        remember,
      };
      await deps.store.set(storeKeys.emailCode(interactionUid), JSON.stringify(pending), deps.codeSeconds);
      return {
        deliver: async () => {
          if (!account) return;
          try {
            await deps.mailer.send('sign-in-code', account.email, {
              email: account.email,
              site,
              code,
              validFor: describeDuration(deps.codeSeconds),
            });
          } catch (error) {
            deps.log.warn(
              { err: error instanceof Error ? { name: error.name, message: error.message } : undefined },
              'a sign-in code could not be sent',
            );
          }
        },
      };
    },

    /** The address a code of this sign-in was asked for, if one is waiting. */
    async pendingEmail(interactionUid: string): Promise<string | undefined> {
      const stored = await deps.store.get(storeKeys.emailCode(interactionUid));
      return stored ? (JSON.parse(stored) as PendingCode).email : undefined;
    },

    /** Checks a code typed for this sign-in; a right one is used up (taken from the store in one step). */
    async check(interactionUid: string, typed: string): Promise<CodeCheck> {
      const key = storeKeys.emailCode(interactionUid);
      const stored = await deps.store.get(key);
      if (!stored) return { kind: 'none' };
      const pending = JSON.parse(stored) as PendingCode;
      const digits = typed.replace(/\s+/g, '');
      const right =
        /^\d{6}$/.test(digits) &&
        timingSafeEqual(Buffer.from(hashOf(interactionUid, digits)), Buffer.from(pending.codeHash));
      if (!right || pending.accountId === null)
        return { kind: 'wrong', email: pending.email, accountId: pending.accountId };
      // Two requests with the right code: the one that takes it signs in.
      if ((await deps.store.take(key)) === undefined) return { kind: 'none' };
      return { kind: 'right', accountId: pending.accountId, remember: pending.remember };
    },
  };
}

export type EmailCodeLibrary = ReturnType<typeof createEmailCodeLibrary>;
