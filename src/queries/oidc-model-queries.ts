import type { Queryable } from '../db/pg-pool.ts';

export interface OidcModelRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
  expires_at: Date | null;
  /** RefreshToken: the first of the tokens rotated from this one that was itself used. */
  successor_id: string | null;
  /** RefreshToken: another successor of its parent was used first, or it was minted from such a token. */
  superseded: boolean;
}

export interface OidcModelWrite {
  model: string;
  id: string;
  payload: Record<string, unknown>;
  grantId: string | null;
  accountId: string | null;
  expiresAt: Date | null;
  /** RefreshToken: the token this one was rotated from (oidc-provider's RotatedRefreshToken), if any. */
  rotatedFrom?: string | null;
}

/**
 * Durable oidc-provider models (Grant, RefreshToken), see the storage adapter. On a real Postgres the statements
 * of the refresh path are named (prepared once per connection), so Postgres skips parsing and planning them on
 * every refresh (measured: refresh grants 686 -> about 930/s on this machine). Not on embedded PGlite: its socket
 * server keeps prepared statements across client connections, so a reconnecting client's PREPARE would collide.
 */
export function createOidcModelQueries(db: Queryable, options: { prepared?: boolean } = {}) {
  const named = (name: string) => (options.prepared ? { name } : {});
  return {
    /**
     * A token rotated from a dead one (its parent superseded, or a sibling of the parent used first) is stored
     * superseded at once: by the time oidc-provider saves it, the consume of its parent has settled which
     * sibling won, so the check cannot race.
     */
    async upsert(row: OidcModelWrite): Promise<void> {
      await db.query({
        ...named('oidc-model-upsert-chain'),
        text: `INSERT INTO oidc_models (model, id, payload, grant_id, account_id, expires_at, rotated_from, superseded_at)
         SELECT $1, $2, $3, $4, $5, $6, $7::text,
           CASE WHEN EXISTS (
             SELECT 1 FROM oidc_models p
             LEFT JOIN oidc_models g ON g.model = p.model AND g.id = p.rotated_from
             WHERE p.model = $1 AND p.id = $7::text
               AND (p.superseded_at IS NOT NULL
                    OR (p.successor_id IS NOT NULL AND p.successor_id <> $2)
                    OR (g.successor_id IS NOT NULL AND g.successor_id <> p.id))
           ) THEN now() END
         ON CONFLICT (model, id) DO UPDATE
         SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, account_id = EXCLUDED.account_id,
             expires_at = EXCLUDED.expires_at`,
        values: [
          row.model,
          row.id,
          row.payload,
          row.grantId,
          row.accountId,
          row.expiresAt,
          row.rotatedFrom ?? null,
        ],
      });
    },

    async find(model: string, id: string): Promise<OidcModelRow | undefined> {
      const { rows } = await db.query<OidcModelRow>({
        ...named('oidc-model-find-chain'),
        text: `SELECT m.payload, m.consumed_at, m.expires_at, m.successor_id,
           (m.superseded_at IS NOT NULL OR (p.successor_id IS NOT NULL AND p.successor_id <> m.id)) AS superseded
         FROM oidc_models m
         LEFT JOIN oidc_models p ON p.model = m.model AND p.id = m.rotated_from
         WHERE m.model = $1 AND m.id = $2 AND (m.expires_at IS NULL OR m.expires_at > now())`,
        values: [model, id],
      });
      return rows[0];
    },

    /**
     * Marks a model consumed once; a second consume keeps the first time (reuse detection depends on it). A
     * refresh token's first consume also names it its parent's successor, unless a sibling was consumed before
     * it (one row, one atomic COALESCE: of concurrent siblings exactly one wins).
     */
    async consume(model: string, id: string): Promise<void> {
      await db.query({
        ...named('oidc-model-consume-chain'),
        text: `WITH used AS (
           UPDATE oidc_models SET consumed_at = COALESCE(consumed_at, now())
           WHERE model = $1 AND id = $2 RETURNING rotated_from
         )
         UPDATE oidc_models p SET successor_id = COALESCE(p.successor_id, $2)
         FROM used WHERE p.model = $1 AND p.id = used.rotated_from`,
        values: [model, id],
      });
    },

    async destroy(model: string, id: string): Promise<void> {
      await db.query('DELETE FROM oidc_models WHERE model = $1 AND id = $2', [model, id]);
    },

    async revokeByGrantId(model: string, grantId: string): Promise<void> {
      await db.query('DELETE FROM oidc_models WHERE model = $1 AND grant_id = $2', [model, grantId]);
    },

    /**
     * Deletes the durable models (grants, refresh tokens) of an account: what a process without the hot store (the
     * CLI) can revoke at once when it disables or deletes the account.
     */
    async deleteOfAccount(accountId: string): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM oidc_models WHERE account_id = $1', [accountId]);
      return rowCount ?? 0;
    },

    /** Deletes the durable models (grants, refresh tokens) issued to a client, when the client is deleted. */
    async deleteOfClient(clientId: string): Promise<number> {
      const { rowCount } = await db.query("DELETE FROM oidc_models WHERE payload->>'clientId' = $1", [
        clientId,
      ]);
      return rowCount ?? 0;
    },

    async deleteExpired(): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM oidc_models WHERE expires_at < now()');
      return rowCount ?? 0;
    },
  };
}

export type OidcModelQueries = ReturnType<typeof createOidcModelQueries>;
