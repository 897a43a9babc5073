import type { Queryable } from '../db/pg-pool.ts';
import { findUnknownRoles } from './role-queries.ts';

export interface AccountRow {
  id: string;
  email: string;
  email_verified: boolean;
  name: string | null;
  status: 'active' | 'disabled';
  password_hash: string | null;
  /** Custom attributes (typed JSON values by name), for policies. */
  attributes: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export interface NewAccount {
  email: string;
  name: string | null;
  passwordHash: string | null;
  emailVerified: boolean;
  /** The account's `sub`; default a new UUID. */
  id?: string | undefined;
  attributes?: Record<string, unknown> | undefined;
}

const columns = 'id, email, email_verified, name, status, password_hash, attributes, created_at, updated_at';

export function createAccountQueries(db: Queryable) {
  return {
    async insert(account: NewAccount, tx: Queryable = db): Promise<AccountRow> {
      const { rows } = await tx.query<AccountRow>(
        `INSERT INTO accounts (id, email, name, password_hash, email_verified, attributes)
         VALUES (COALESCE($5, gen_random_uuid()::text), $1, $2, $3, $4, COALESCE($6::jsonb, '{}'::jsonb))
         RETURNING ${columns}`,
        [
          account.email,
          account.name,
          account.passwordHash,
          account.emailVerified,
          account.id ?? null,
          account.attributes ? JSON.stringify(account.attributes) : null,
        ],
      );
      return rows[0]!;
    },

    /**
     * A new account holding `roleNames`, in one statement so it is all or nothing: a role that is gone by the time
     * it is written (foreign key, 23503) or a taken email (23505) leaves no account behind. Returns the roles as
     * the account holds them (sorted, as rolesOfAccount reads them).
     */
    async insertWithRoles(
      account: NewAccount,
      roleNames: readonly string[],
    ): Promise<{ row: AccountRow; roles: string[] }> {
      const { rows } = await db.query<AccountRow & { roles: string[] }>(
        `WITH account AS (
           INSERT INTO accounts (id, email, name, password_hash, email_verified, attributes)
           VALUES (COALESCE($6, gen_random_uuid()::text), $1, $2, $3, $4, COALESCE($7::jsonb, '{}'::jsonb))
           RETURNING ${columns}
         ), granted AS (
           INSERT INTO account_roles (account_id, role_name)
           SELECT account.id, role_name FROM account, unnest($5::text[]) AS role_name
           RETURNING role_name
         )
         SELECT account.*, ARRAY(SELECT role_name FROM granted ORDER BY role_name) AS roles FROM account`,
        [
          account.email,
          account.name,
          account.passwordHash,
          account.emailVerified,
          [...new Set(roleNames)],
          account.id ?? null,
          account.attributes ? JSON.stringify(account.attributes) : null,
        ],
      );
      const { roles, ...row } = rows[0]!;
      return { row, roles };
    },

    /** Which of these role names are not roles (checked before writing, so the error can name one). */
    unknownRoles: (names: readonly string[]) => findUnknownRoles(db, names),

    async findByEmail(email: string): Promise<AccountRow | undefined> {
      const { rows } = await db.query<AccountRow>(
        `SELECT ${columns} FROM accounts WHERE lower(email) = lower($1)`,
        [email],
      );
      return rows[0];
    },

    async findById(id: string): Promise<AccountRow | undefined> {
      const { rows } = await db.query<AccountRow>(`SELECT ${columns} FROM accounts WHERE id = $1`, [id]);
      return rows[0];
    },

    /**
     * Accounts in creation order, `limit` of them after the position `after` (keyset: a page is one index range).
     * Each row carries its own position, `created_at` as Postgres text, exact to the microsecond (a JavaScript Date
     * would round it to the millisecond and repeat or skip rows at a page boundary).
     */
    async listAfter(
      limit: number,
      after?: { createdAt: string; id: string },
    ): Promise<(AccountRow & { position: string })[]> {
      const select = `SELECT ${columns}, created_at::text AS position FROM accounts`;
      const { rows } = after
        ? await db.query<AccountRow & { position: string }>(
            `${select} WHERE (created_at, id) > ($2::timestamptz, $3) ORDER BY created_at, id LIMIT $1`,
            [limit, after.createdAt, after.id],
          )
        : await db.query<AccountRow & { position: string }>(`${select} ORDER BY created_at, id LIMIT $1`, [
            limit,
          ]);
      return rows;
    },

    async count(): Promise<number> {
      const { rows } = await db.query<{ count: string }>('SELECT count(*) FROM accounts');
      return Number(rows[0]!.count);
    },

    async update(
      id: string,
      patch: { name?: string | null; status?: 'active' | 'disabled'; emailVerified?: boolean },
    ): Promise<AccountRow | undefined> {
      const { rows } = await db.query<AccountRow>(
        `UPDATE accounts SET
           name = CASE WHEN $2 THEN $3 ELSE name END,
           status = COALESCE($4, status),
           email_verified = COALESCE($5, email_verified),
           updated_at = now()
         WHERE id = $1 RETURNING ${columns}`,
        [id, patch.name !== undefined, patch.name ?? null, patch.status ?? null, patch.emailVerified ?? null],
      );
      return rows[0];
    },

    /**
     * Sets the attributes of `set` (replacing a value of the same name) and removes those of `remove`, in one
     * statement. Undefined when there is no such account.
     */
    async updateAttributes(
      id: string,
      set: Record<string, unknown>,
      remove: readonly string[],
    ): Promise<AccountRow | undefined> {
      const { rows } = await db.query<AccountRow>(
        `UPDATE accounts SET attributes = (attributes - $3::text[]) || $2::jsonb, updated_at = now()
         WHERE id = $1 RETURNING ${columns}`,
        [id, JSON.stringify(set), remove],
      );
      return rows[0];
    },

    /** Deletes an account and what hangs off it (roles, factors, links, sessions ledger: ON DELETE CASCADE). */
    async delete(id: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM accounts WHERE id = $1', [id]);
      return (rowCount ?? 0) > 0;
    },

    /**
     * Moves an account to another address, verified (the link to it was used). Undefined when there is no such
     * account; a unique violation when another account has the address.
     */
    async changeEmail(id: string, email: string): Promise<AccountRow | undefined> {
      const { rows } = await db.query<AccountRow>(
        `UPDATE accounts SET email = $2, email_verified = true, updated_at = now() WHERE id = $1
         RETURNING ${columns}`,
        [id, email],
      );
      return rows[0];
    },

    async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
      await db.query('UPDATE accounts SET password_hash = $2, updated_at = now() WHERE id = $1', [
        id,
        passwordHash,
      ]);
    },
  };
}

export type AccountQueries = ReturnType<typeof createAccountQueries>;
