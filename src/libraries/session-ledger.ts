import type { OperatorAction, SessionQueries } from '../queries/session-queries.ts';

export interface ActiveSession {
  id: string;
  ip: string | null;
  userAgent: string | null;
  clients: string[];
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

export interface GrantedApp {
  grantId: string;
  clientId: string;
  scope: string;
  resources: string[];
}

/**
 * What Postgres knows about an account's sessions and grants, readable from any process (the CLI too), and the
 * queue through which a process that cannot reach the hot store (the CLI) asks the running servers to act.
 */
export function createSessionLedger(queries: SessionQueries) {
  return {
    async listSessions(accountId: string): Promise<ActiveSession[]> {
      return (await queries.listActive(accountId)).map((row) => ({
        id: row.session_id,
        ip: row.ip,
        userAgent: row.user_agent,
        clients: row.clients,
        createdAt: row.created_at.toISOString(),
        lastSeenAt: row.last_seen_at.toISOString(),
        expiresAt: row.expires_at.toISOString(),
      }));
    },

    async listGrants(accountId: string): Promise<GrantedApp[]> {
      return (await queries.grantsOf(accountId)).map((row) => ({
        grantId: row.id,
        clientId: row.payload.clientId ?? '',
        scope: row.payload.openid?.scope ?? '',
        resources: Object.keys(row.payload.resources ?? {}),
      }));
    },

    /** Queues an operator request (sign out, unlock); a running Gatehouse carries it out within about a second. */
    request: (action: OperatorAction, accountId: string, requestedBy: string) =>
      queries.enqueue(action, accountId, null, requestedBy),

    /** Waits for a queued request to be carried out; undefined if no server did within `timeoutMs`. */
    async waitFor(id: string, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const result = await queries.result(id);
        if (result) return result;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return undefined;
    },
  };
}

export type SessionLedger = ReturnType<typeof createSessionLedger>;
