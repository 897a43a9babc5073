import type { Queryable } from '../db/pg-pool.ts';

export interface AuditEventRow {
  id: string;
  at: Date;
  type: string;
  account_id: string | null;
  client_id: string | null;
  actor: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export interface NewAuditEvent {
  type: string;
  accountId?: string | undefined;
  clientId?: string | undefined;
  actor?: string | undefined;
  ip?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

export function createAuditQueries(db: Queryable) {
  return {
    async insert(event: NewAuditEvent, tx: Queryable = db): Promise<void> {
      await tx.query(
        'INSERT INTO audit_events (type, account_id, client_id, actor, ip, details) VALUES ($1, $2, $3, $4, $5, $6)',
        [
          event.type,
          event.accountId ?? null,
          event.clientId ?? null,
          event.actor ?? null,
          event.ip ?? null,
          event.details ?? {},
        ],
      );
    },

    async list(filter: {
      since: Date;
      type?: string | undefined;
      accountId?: string | undefined;
      limit: number;
      /**
       * Only events after this one (by id) in the list's order: the cursor of a page. Its time is read in SQL,
       * exact to the microsecond (a JavaScript Date would round it and repeat or skip events at a page boundary).
       */
      afterId?: string | undefined;
      /** An actor, or (ending in `:`) every actor of a kind: `console:` matches `console:<sub>`. */
      actor?: string | undefined;
    }): Promise<AuditEventRow[]> {
      const { rows } = await db.query<AuditEventRow>(
        `SELECT id, at, type, account_id, client_id, actor, ip, details FROM audit_events
         WHERE at >= $1 AND ($2::text IS NULL OR type = $2 OR type LIKE $2 || '.%') AND ($3::text IS NULL OR account_id = $3)
           AND ($5::bigint IS NULL OR (at, id) > ((SELECT at FROM audit_events WHERE id = $5::bigint), $5::bigint))
           AND ($6::text IS NULL OR actor = $6 OR (right($6, 1) = ':' AND starts_with(actor, $6)))
         ORDER BY at, id LIMIT $4`,
        [
          filter.since,
          filter.type ?? null,
          filter.accountId ?? null,
          filter.limit,
          filter.afterId ?? null,
          filter.actor ?? null,
        ],
      );
      return rows;
    },
  };
}

export type AuditQueries = ReturnType<typeof createAuditQueries>;
