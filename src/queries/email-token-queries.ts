import type { Queryable } from '../db/pg-pool.ts';

export type EmailTokenPurpose = 'password_reset' | 'email_verification' | 'invitation' | 'email_change';

export interface EmailTokenRow {
  account_id: string;
  purpose: EmailTokenPurpose;
  email: string;
  return_to: string | null;
  expires_at: Date;
}

const columns = 'account_id, purpose, email, return_to, expires_at';

/** Single-use links sent by email (migrations 016, 018, 021), found by the SHA-256 of their token. */
export function createEmailTokenQueries(db: Queryable) {
  return {
    /** Stores a token's hash; tokens that expired more than a day ago are deleted on the way. */
    async insert(token: {
      hash: Buffer;
      accountId: string;
      purpose: EmailTokenPurpose;
      email: string;
      returnTo: string | null;
      ttlSeconds: number;
    }): Promise<void> {
      await db.query(`DELETE FROM email_tokens WHERE expires_at < now() - interval '1 day'`);
      await db.query(
        `INSERT INTO email_tokens (token_hash, account_id, purpose, email, return_to, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
        [token.hash, token.accountId, token.purpose, token.email, token.returnTo, token.ttlSeconds],
      );
    },

    /** The token if it is unused and unexpired (it stays usable). */
    async findUsable(hash: Buffer, purpose: EmailTokenPurpose): Promise<EmailTokenRow | undefined> {
      const { rows } = await db.query<EmailTokenRow>(
        `SELECT ${columns} FROM email_tokens
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()`,
        [hash, purpose],
      );
      return rows[0];
    },

    /**
     * Uses the token if it is unused and unexpired, in one statement (two requests with one token: one wins), and
     * ends every other outstanding token of the account with that purpose. Undefined when it was not usable.
     */
    async consume(hash: Buffer, purpose: EmailTokenPurpose): Promise<EmailTokenRow | undefined> {
      const { rows } = await db.query<EmailTokenRow>(
        `WITH used AS (
           UPDATE email_tokens SET used_at = now()
           WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
           RETURNING ${columns}
         ), others AS (
           UPDATE email_tokens SET used_at = now()
           WHERE account_id IN (SELECT account_id FROM used) AND purpose = $2 AND used_at IS NULL
             AND token_hash <> $1
         )
         SELECT * FROM used`,
        [hash, purpose],
      );
      return rows[0];
    },

    /** Ends every outstanding token of an account with that purpose; returns how many. */
    async revokeAll(accountId: string, purpose: EmailTokenPurpose): Promise<number> {
      const { rowCount } = await db.query(
        `UPDATE email_tokens SET used_at = now() WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL`,
        [accountId, purpose],
      );
      return rowCount ?? 0;
    },
  };
}

export type EmailTokenQueries = ReturnType<typeof createEmailTokenQueries>;
