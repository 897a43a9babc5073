import type { Queryable } from '../db/pg-pool.ts';

export interface SigningKeyRow {
  kid: string;
  alg: string;
  sealed_jwk: string;
  public_jwk: Record<string, unknown>;
  created_at: Date;
  activates_at: Date;
  expires_at: Date | null;
}

export interface NewSigningKey {
  kid: string;
  alg: string;
  sealedJwk: string;
  publicJwk: Record<string, unknown>;
  activatesAt: Date;
}

const columns = 'kid, alg, sealed_jwk, public_jwk, created_at, activates_at, expires_at';

export function createSigningKeyQueries(db: Queryable) {
  return {
    async insert(key: NewSigningKey, tx: Queryable = db): Promise<void> {
      await tx.query(
        'INSERT INTO signing_keys (kid, alg, sealed_jwk, public_jwk, activates_at) VALUES ($1, $2, $3, $4, $5)',
        [key.kid, key.alg, key.sealedJwk, key.publicJwk, key.activatesAt],
      );
    },

    /** Keys still published: not yet past their expiry. Newest activation first within each algorithm. */
    async listPublished(tx: Queryable = db): Promise<SigningKeyRow[]> {
      const { rows } = await tx.query<SigningKeyRow>(
        `SELECT ${columns} FROM signing_keys WHERE expires_at IS NULL OR expires_at > now()
         ORDER BY alg, activates_at DESC, created_at DESC`,
      );
      return rows;
    },

    /** Sets when keys stop being published; keys that already have an earlier expiry keep it. */
    async expire(kids: readonly string[], expiresAt: Date, tx: Queryable = db): Promise<void> {
      await tx.query(
        `UPDATE signing_keys SET expires_at = $2 WHERE kid = ANY($1) AND (expires_at IS NULL OR expires_at > $2)`,
        [kids, expiresAt],
      );
    },

    /** The longest access-token lifetime an API sets for its JWT access tokens (0 when none sets one). */
    async longestApiJwtLifetime(tx: Queryable = db): Promise<number> {
      const { rows } = await tx.query<{ seconds: number }>(
        "SELECT COALESCE(max(access_token_ttl), 0)::int AS seconds FROM api_resources WHERE format = 'jwt'",
      );
      return rows[0]?.seconds ?? 0;
    },

    /** Serialises concurrent key creation (two processes starting on an empty database). */
    async lock(tx: Queryable): Promise<void> {
      await tx.query("SELECT pg_advisory_xact_lock(hashtext('gatehouse.signing_keys'))");
    },
  };
}

export type SigningKeyQueries = ReturnType<typeof createSigningKeyQueries>;
