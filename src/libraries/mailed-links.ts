import type { EmailTokenPurpose, EmailTokenQueries, EmailTokenRow } from '../queries/email-token-queries.ts';
import { describeDuration, hashEmailToken, newEmailToken } from './email-tokens.ts';

/**
 * The single-use links of one purpose that Gatehouse mails (`<issuer><path>?token=…`): minting one stores only the
 * SHA-256 of its 32 random bytes, valid for `tokenSeconds`; finding one reads an unused, unexpired link by its token.
 * The token travels in the query, which request logs leave out.
 */
export function createMailedLinks(
  deps: { tokens: Pick<EmailTokenQueries, 'insert' | 'findUsable'>; issuer: string; tokenSeconds: number },
  purpose: EmailTokenPurpose,
  path: string,
) {
  return {
    /** The issuer's host, as messages name the site. */
    site: new URL(deps.issuer).host,
    /** How long a link stays valid, as messages say it ("30 minutes"). */
    validFor: describeDuration(deps.tokenSeconds),

    /** Stores a new link for `accountId` and `email`; returns the URL to mail. */
    async mint(accountId: string, email: string, returnTo: string | null = null): Promise<string> {
      const { token, hash } = newEmailToken();
      await deps.tokens.insert({
        hash,
        accountId,
        purpose,
        email,
        returnTo,
        ttlSeconds: deps.tokenSeconds,
      });
      return `${deps.issuer}${path}?token=${token}`;
    },

    /** The stored link of `token` if it is unused and unexpired (it stays usable), with the hash that names it. */
    async find(token: unknown): Promise<{ hash: Buffer; row: EmailTokenRow } | undefined> {
      const hash = hashEmailToken(token);
      if (!hash) return undefined;
      const row = await deps.tokens.findUsable(hash, purpose);
      return row ? { hash, row } : undefined;
    },
  };
}
