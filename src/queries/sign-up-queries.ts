import type { Queryable } from '../db/pg-pool.ts';

export interface SignUpRow {
  email: string;
  name: string | null;
  password_hash: string;
  return_to: string | null;
}

const columns = 'email, name, password_hash, return_to';

/** Sign-ups waiting for their address to be confirmed (migration 020), found by the SHA-256 of their link's token. */
export function createSignUpQueries(db: Queryable) {
  return {
    /** Stores a pending sign-up; rows that expired more than a day ago are deleted on the way. */
    async insert(signUp: {
      hash: Buffer;
      email: string;
      name: string | null;
      passwordHash: string;
      returnTo: string | null;
      ttlSeconds: number;
    }): Promise<void> {
      await db.query(`DELETE FROM sign_ups WHERE expires_at < now() - interval '1 day'`);
      await db.query(
        `INSERT INTO sign_ups (token_hash, email, name, password_hash, return_to, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
        [signUp.hash, signUp.email, signUp.name, signUp.passwordHash, signUp.returnTo, signUp.ttlSeconds],
      );
    },

    /** The sign-up if it is unused and unexpired (it stays usable). */
    async findUsable(hash: Buffer): Promise<SignUpRow | undefined> {
      const { rows } = await db.query<SignUpRow>(
        `SELECT ${columns} FROM sign_ups WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()`,
        [hash],
      );
      return rows[0];
    },

    /**
     * Uses the sign-up if it is unused and unexpired, in one statement (two requests with one link: one wins), and
     * ends every other pending sign-up of the same address. Undefined when it was not usable.
     */
    async consume(hash: Buffer): Promise<SignUpRow | undefined> {
      const { rows } = await db.query<SignUpRow>(
        `WITH used AS (
           UPDATE sign_ups SET used_at = now()
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
           RETURNING ${columns}
         ), others AS (
           UPDATE sign_ups SET used_at = now()
           WHERE lower(email) IN (SELECT lower(email) FROM used) AND used_at IS NULL AND token_hash <> $1
         )
         SELECT * FROM used`,
        [hash],
      );
      return rows[0];
    },
  };
}

export type SignUpQueries = ReturnType<typeof createSignUpQueries>;
