import type { Queryable } from '../db/pg-pool.ts';

export interface PasskeyRow {
  id: string;
  account_id: string;
  credential_id: string;
  public_key: Buffer;
  counter: string;
  transports: string[];
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  user_verified: boolean;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

export interface NewPasskey {
  accountId: string;
  credentialId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  userVerified: boolean;
  name: string;
}

const columns =
  'id, account_id, credential_id, public_key, counter, transports, device_type, backed_up, user_verified, name, created_at, last_used_at';

/** Passkeys (WebAuthn credentials) of accounts (migration 015). */
export function createPasskeyQueries(db: Queryable) {
  return {
    async insert(passkey: NewPasskey): Promise<PasskeyRow> {
      const { rows } = await db.query<PasskeyRow>(
        `INSERT INTO passkeys (account_id, credential_id, public_key, counter, transports, device_type, backed_up,
                               user_verified, name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${columns}`,
        [
          passkey.accountId,
          passkey.credentialId,
          Buffer.from(passkey.publicKey),
          passkey.counter,
          passkey.transports,
          passkey.deviceType,
          passkey.backedUp,
          passkey.userVerified,
          passkey.name,
        ],
      );
      return rows[0]!;
    },

    async listFor(accountId: string): Promise<PasskeyRow[]> {
      const { rows } = await db.query<PasskeyRow>(
        `SELECT ${columns} FROM passkeys WHERE account_id = $1 ORDER BY created_at, id`,
        [accountId],
      );
      return rows;
    },

    async countFor(accountId: string): Promise<number> {
      const { rows } = await db.query<{ count: string }>(
        'SELECT count(*) AS count FROM passkeys WHERE account_id = $1',
        [accountId],
      );
      return Number(rows[0]?.count ?? 0);
    },

    async findByCredentialId(credentialId: string): Promise<PasskeyRow | undefined> {
      const { rows } = await db.query<PasskeyRow>(
        `SELECT ${columns} FROM passkeys WHERE credential_id = $1`,
        [credentialId],
      );
      return rows[0];
    },

    /**
     * Records a use: the new signature counter, only if it is still the one the assertion was checked against (of
     * two concurrent uses of one assertion or of a cloned key, at most one wins). False when another use came first.
     */
    async recordUse(id: string, previousCounter: string, newCounter: number): Promise<boolean> {
      const { rowCount } = await db.query(
        'UPDATE passkeys SET counter = $3, last_used_at = now() WHERE id = $1 AND counter = $2',
        [id, previousCounter, newCounter],
      );
      return (rowCount ?? 0) > 0;
    },

    async rename(accountId: string, id: string, name: string): Promise<boolean> {
      const { rowCount } = await db.query('UPDATE passkeys SET name = $3 WHERE account_id = $1 AND id = $2', [
        accountId,
        id,
        name,
      ]);
      return (rowCount ?? 0) > 0;
    },

    /** Deletes every passkey of an account (an operator's reset after a lost device); returns how many. */
    async deleteAllFor(accountId: string): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM passkeys WHERE account_id = $1', [accountId]);
      return rowCount ?? 0;
    },

    /**
     * Deletes a passkey unless the account would be left without a way to sign in: with `keepOne` (no password, no
     * linked identity) only while another passkey remains. Run in a transaction (`tx`): the account's passkeys are
     * locked first, so two removals at once cannot both see "another one remains".
     */
    async delete(
      accountId: string,
      id: string,
      keepOne: boolean,
      tx: Queryable = db,
    ): Promise<'deleted' | 'missing' | 'last'> {
      const { rows } = await tx.query<{ id: string }>(
        'SELECT id FROM passkeys WHERE account_id = $1 ORDER BY id FOR UPDATE',
        [accountId],
      );
      if (!rows.some((row) => row.id === id)) return 'missing';
      if (keepOne && rows.length <= 1) return 'last';
      await tx.query('DELETE FROM passkeys WHERE account_id = $1 AND id = $2', [accountId, id]);
      return 'deleted';
    },
  };
}

export type PasskeyQueries = ReturnType<typeof createPasskeyQueries>;
