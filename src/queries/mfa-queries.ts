import type { Queryable } from '../db/pg-pool.ts';

export interface TotpFactorRow {
  account_id: string;
  sealed_secret: string;
  confirmed_at: Date | null;
  last_used_step: string | null;
}

/** TOTP factors, recovery codes and the MFA policies of roles and clients. */
export function createMfaQueries(db: Queryable) {
  return {
    /** Starts (or restarts) an enrollment: an unconfirmed factor replaces any earlier unconfirmed one. */
    async savePendingFactor(accountId: string, sealedSecret: string): Promise<boolean> {
      const { rowCount } = await db.query(
        `INSERT INTO totp_factors (account_id, sealed_secret) VALUES ($1, $2)
         ON CONFLICT (account_id) DO UPDATE SET sealed_secret = $2, created_at = now(), last_used_step = NULL
         WHERE totp_factors.confirmed_at IS NULL`,
        [accountId, sealedSecret],
      );
      return (rowCount ?? 0) > 0;
    },

    async saveConfirmedFactor(accountId: string, sealedSecret: string, step: number | null): Promise<void> {
      await db.query(
        `INSERT INTO totp_factors (account_id, sealed_secret, confirmed_at, last_used_step) VALUES ($1, $2, now(), $3)
         ON CONFLICT (account_id) DO UPDATE SET sealed_secret = $2, confirmed_at = now(), last_used_step = $3, created_at = now()`,
        [accountId, sealedSecret, step],
      );
    },

    async findFactor(accountId: string): Promise<TotpFactorRow | undefined> {
      const { rows } = await db.query<TotpFactorRow>(
        'SELECT account_id, sealed_secret, confirmed_at, last_used_step FROM totp_factors WHERE account_id = $1',
        [accountId],
      );
      return rows[0];
    },

    async confirmFactor(accountId: string, step: number): Promise<boolean> {
      const { rowCount } = await db.query(
        'UPDATE totp_factors SET confirmed_at = now(), last_used_step = $2 WHERE account_id = $1 AND confirmed_at IS NULL',
        [accountId, step],
      );
      return (rowCount ?? 0) > 0;
    },

    /**
     * Records a used time step only if it is later than every step used before: of two concurrent sign-ins with
     * the same code, exactly one wins.
     */
    async useStep(accountId: string, step: number): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE totp_factors SET last_used_step = $2
         WHERE account_id = $1 AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $2)`,
        [accountId, step],
      );
      return (rowCount ?? 0) > 0;
    },

    async deleteFactor(accountId: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM totp_factors WHERE account_id = $1', [accountId]);
      return (rowCount ?? 0) > 0;
    },

    async replaceRecoveryCodes(
      accountId: string,
      hashes: readonly string[],
      tx: Queryable = db,
    ): Promise<void> {
      await tx.query('DELETE FROM recovery_codes WHERE account_id = $1', [accountId]);
      await tx.query('INSERT INTO recovery_codes (account_id, code_hash) SELECT $1, unnest($2::text[])', [
        accountId,
        hashes,
      ]);
    },

    /** Spends a recovery code once (true only for the first use), given its hash under each key it may be made with. */
    async useRecoveryCode(accountId: string, hashes: readonly string[]): Promise<boolean> {
      const { rowCount } = await db.query(
        'UPDATE recovery_codes SET used_at = now() WHERE account_id = $1 AND code_hash = ANY($2) AND used_at IS NULL',
        [accountId, hashes],
      );
      return (rowCount ?? 0) > 0;
    },

    async remainingRecoveryCodes(accountId: string): Promise<number> {
      const { rows } = await db.query<{ count: string }>(
        'SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL',
        [accountId],
      );
      return Number(rows[0]!.count);
    },

    async deleteRecoveryCodes(accountId: string): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM recovery_codes WHERE account_id = $1', [accountId]);
      return rowCount ?? 0;
    },

    /** Whether a role of the account, or the client, requires a second factor. */
    async mfaRequired(accountId: string, clientId: string | undefined): Promise<boolean> {
      const { rows } = await db.query<{ required: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM gatehouse_account_roles($1) held JOIN roles r ON r.name = held
                        WHERE r.mfa_required)
             OR EXISTS (SELECT 1 FROM clients WHERE id = $2 AND mfa_required) AS required`,
        [accountId, clientId ?? null],
      );
      return rows[0]!.required;
    },

    async setRoleMfaRequired(roleName: string, required: boolean): Promise<boolean> {
      const { rowCount } = await db.query('UPDATE roles SET mfa_required = $2 WHERE name = $1', [
        roleName,
        required,
      ]);
      return (rowCount ?? 0) > 0;
    },

    async setClientMfaRequired(clientId: string, required: boolean): Promise<boolean> {
      const { rowCount } = await db.query(
        'UPDATE clients SET mfa_required = $2, updated_at = now() WHERE id = $1',
        [clientId, required],
      );
      return (rowCount ?? 0) > 0;
    },
  };
}

export type MfaQueries = ReturnType<typeof createMfaQueries>;
