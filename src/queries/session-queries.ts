import type { Queryable } from '../db/pg-pool.ts';

export interface AccountSessionRow {
  session_id: string;
  account_id: string;
  ip: string | null;
  user_agent: string | null;
  clients: string[];
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
}

export interface GrantRow {
  id: string;
  payload: {
    clientId?: string;
    openid?: { scope?: string };
    resources?: Record<string, string>;
    iat?: number;
  };
  expires_at: Date | null;
}

export type OperatorAction = 'sign-out-everywhere' | 'sign-out-session' | 'unlock';

export interface OperatorRequestRow {
  id: string;
  action: OperatorAction;
  account_id: string;
  session_id: string | null;
  requested_by: string | null;
  /** Attempts so far, this one included. */
  attempts: number;
}

/** The session ledger, the grants of an account, and the queue of operator requests. */
export function createSessionQueries(db: Queryable) {
  return {
    async record(session: {
      sessionId: string;
      accountId: string;
      ip: string | null;
      userAgent: string | null;
      clients: string[];
      expiresAt: Date;
    }): Promise<void> {
      await db.query(
        // A session can outlive its account (deleted straight in the database): nothing is recorded for it then.
        `INSERT INTO account_sessions (session_id, account_id, ip, user_agent, clients, expires_at)
         SELECT $1::text, $2::text, $3::text, $4::text, $5::text[], $6::timestamptz
         WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $2::text)
         ON CONFLICT (session_id) DO UPDATE SET
           account_id = $2, ip = COALESCE($3, account_sessions.ip), user_agent = COALESCE($4, account_sessions.user_agent),
           clients = $5, last_seen_at = now(), expires_at = $6`,
        [
          session.sessionId,
          session.accountId,
          session.ip,
          session.userAgent,
          session.clients,
          session.expiresAt,
        ],
      );
    },

    async forget(sessionId: string): Promise<void> {
      await db.query('DELETE FROM account_sessions WHERE session_id = $1', [sessionId]);
    },

    async listActive(accountId: string): Promise<AccountSessionRow[]> {
      const { rows } = await db.query<AccountSessionRow>(
        `SELECT session_id, account_id, ip, user_agent, clients, created_at, last_seen_at, expires_at FROM account_sessions
         WHERE account_id = $1 AND expires_at > now() ORDER BY last_seen_at DESC`,
        [accountId],
      );
      return rows;
    },

    async deleteExpired(): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM account_sessions WHERE expires_at < now()');
      return rowCount ?? 0;
    },

    async grantsOf(accountId: string): Promise<GrantRow[]> {
      const { rows } = await db.query<GrantRow>(
        `SELECT id, payload, expires_at FROM oidc_models
         WHERE model = 'Grant' AND account_id = $1 AND (expires_at IS NULL OR expires_at > now()) ORDER BY id`,
        [accountId],
      );
      return rows;
    },

    async enqueue(
      action: OperatorAction,
      accountId: string,
      sessionId: string | null,
      requestedBy: string,
    ): Promise<string> {
      const { rows } = await db.query<{ id: string }>(
        'INSERT INTO operator_requests (action, account_id, session_id, requested_by) VALUES ($1, $2, $3, $4) RETURNING id',
        [action, accountId, sessionId, requestedBy],
      );
      return rows[0]!.id;
    },

    /**
     * Claims the oldest pending request that is due, counting the attempt; of several processes polling, one gets
     * it. A request claimed by a process that then went away without recording the outcome (crashed, or lost
     * Postgres) is claimed again once `staleAfterSeconds` have passed.
     */
    async claim(
      options: { skip?: readonly string[]; staleAfterSeconds?: number } = {},
    ): Promise<OperatorRequestRow | undefined> {
      const { rows } = await db.query<OperatorRequestRow>(
        `UPDATE operator_requests SET handled_at = now(), attempts = attempts + 1
         WHERE id = (
           SELECT id FROM operator_requests
           WHERE (handled_at IS NULL
                  OR (result IS NULL AND failed_at IS NULL AND attempts > 0
                      AND handled_at < now() - make_interval(secs => $2)))
             AND next_attempt_at <= now() AND NOT (id = ANY ($1::bigint[]))
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, action, account_id, session_id, requested_by, attempts`,
        [options.skip ?? [], options.staleAfterSeconds ?? 600],
      );
      return rows[0];
    },

    async complete(id: string, result: Record<string, unknown>): Promise<void> {
      await db.query('UPDATE operator_requests SET result = $2 WHERE id = $1', [id, result]);
    },

    /**
     * Records a failed attempt: the request is pending again from `retryInSeconds` on, or, with `retryInSeconds`
     * undefined, failed for good.
     */
    async recordFailure(id: string, error: string, retryInSeconds: number | undefined): Promise<void> {
      await db.query(
        retryInSeconds === undefined
          ? 'UPDATE operator_requests SET last_error = $2, failed_at = now() WHERE id = $1'
          : `UPDATE operator_requests SET last_error = $2, handled_at = NULL,
               next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`,
        retryInSeconds === undefined ? [id, error.slice(0, 500)] : [id, error.slice(0, 500), retryInSeconds],
      );
    },

    async result(id: string): Promise<Record<string, unknown> | undefined> {
      const { rows } = await db.query<{ result: Record<string, unknown> | null }>(
        'SELECT result FROM operator_requests WHERE id = $1',
        [id],
      );
      return rows[0]?.result ?? undefined;
    },
  };
}

export type SessionQueries = ReturnType<typeof createSessionQueries>;
