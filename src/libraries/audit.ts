import type { AuditEventRow, AuditQueries, NewAuditEvent } from '../queries/audit-queries.ts';

/** Audit event types. Details never hold secrets: no passwords, codes, tokens or seeds. */
export type AuditEventType =
  | 'signin.succeeded'
  | 'signin.failed'
  | 'signin.locked'
  | 'signin.lock_spared'
  | 'mfa.enrolled'
  | 'mfa.removed'
  | 'mfa.verified'
  | 'mfa.failed'
  | 'mfa.recovery_code_used'
  | 'mfa.recovery_codes_regenerated'
  | 'mfa.locked'
  | 'account.unlocked'
  | 'account.reauth_required'
  | 'account.reauthenticated'
  | 'operator_request.failed'
  | 'password.changed'
  | 'password.change_failed'
  | 'password.reset_requested'
  | 'password.reset'
  | 'email.verification_sent'
  | 'account.invited'
  | 'account.invitation_accepted'
  | 'account.signed_up'
  | 'account.sign_up_for_existing'
  | 'email.verified'
  | 'email.change_requested'
  | 'email.changed'
  | 'consent.granted'
  | 'token.revoked'
  | 'session.revoked'
  | 'admin.change'
  | 'directory.changed'
  | 'policy.changed'
  | 'resource.changed'
  | 'keys.rotated'
  | 'secrets.reencrypted'
  | 'federation.linked'
  | 'federation.unlinked'
  | 'federation.callback_refused'
  | 'federation.roles_changed'
  | 'passkey.registered'
  | 'passkey.renamed'
  | 'passkey.removed'
  | 'passkey.failed'
  | 'passkey.locked';

export interface AuditEvent {
  id: string;
  at: string;
  type: string;
  accountId: string | null;
  clientId: string | null;
  actor: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

const toEvent = (row: AuditEventRow): AuditEvent => ({
  id: row.id,
  at: row.at.toISOString(),
  type: row.type,
  accountId: row.account_id,
  clientId: row.client_id,
  actor: row.actor,
  ip: row.ip,
  details: row.details,
});

export function createAuditLog(queries: AuditQueries, onRecord?: (type: AuditEventType) => void) {
  return {
    record(type: AuditEventType, event: Omit<NewAuditEvent, 'type'> = {}): Promise<void> {
      onRecord?.(type);
      return queries.insert({ ...event, type });
    },
    /**
     * Events since `since`, oldest first, at most `limit` (10,000 at the most). `type` is a type or a family
     * (`signin`); `actor` an actor, or every actor of a kind when it ends in `:` (`console:`); `afterId` the id of the
     * last event of the previous page.
     */
    async list(filter: {
      since: Date;
      type?: string | undefined;
      accountId?: string | undefined;
      actor?: string | undefined;
      afterId?: string | undefined;
      limit?: number;
    }): Promise<AuditEvent[]> {
      return (await queries.list({ ...filter, limit: Math.min(filter.limit ?? 1000, 10_000) })).map(toEvent);
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
