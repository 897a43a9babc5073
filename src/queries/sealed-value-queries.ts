import type { Queryable } from '../db/pg-pool.ts';
import { sealContexts } from '../vocabulary/seal-contexts.ts';

/** Every column holding a value sealed with the at-rest key, and what it was sealed for (the AEAD context). */
export const sealedColumns = [
  { table: 'clients', key: 'id', column: 'sealed_secret', context: sealContexts.clientSecret },
  { table: 'signing_keys', key: 'kid', column: 'sealed_jwk', context: sealContexts.signingKey },
  { table: 'totp_factors', key: 'account_id', column: 'sealed_secret', context: sealContexts.totpSeed },
  {
    table: 'identity_providers',
    key: 'id',
    column: 'sealed_client_secret',
    context: sealContexts.upstreamClientSecret,
  },
  { table: 'data_keys', key: 'name', column: 'sealed_key', context: sealContexts.dataKey },
] as const;

export type SealedColumn = (typeof sealedColumns)[number];

export function createSealedValueQueries(db: Queryable) {
  return {
    async list(column: SealedColumn): Promise<{ key: string; sealed: string }[]> {
      const { rows } = await db.query<{ key: string; sealed: string }>(
        `SELECT ${column.key} AS key, ${column.column} AS sealed FROM ${column.table} WHERE ${column.column} IS NOT NULL`,
      );
      return rows;
    },

    /** Replaces a sealed value only if it is still the one read (a concurrent change wins). */
    async replace(
      column: SealedColumn,
      key: string,
      previous: string,
      next: string,
      tx: Queryable = db,
    ): Promise<boolean> {
      const { rowCount } = await tx.query(
        `UPDATE ${column.table} SET ${column.column} = $3 WHERE ${column.key} = $1 AND ${column.column} = $2`,
        [key, previous, next],
      );
      return (rowCount ?? 0) > 0;
    },
  };
}

export type SealedValueQueries = ReturnType<typeof createSealedValueQueries>;
