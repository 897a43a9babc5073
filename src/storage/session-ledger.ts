import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { RequestInfoScope } from './request-info.ts';
import type { SessionQueries } from '../queries/session-queries.ts';

/**
 * Wraps the Session adapter so that every signed-in session is also written to the ledger in Postgres (device,
 * address, apps, last seen) and leaves it when oidc-provider destroys it. The last-seen time is refreshed at most
 * once a minute per session, so an authorization costs no extra write in the common case.
 */
export function withSessionLedger(
  adapter: Adapter,
  deps: { queries: SessionQueries; requestInfo: RequestInfoScope },
): Adapter {
  const written = new Map<string, { at: number; fingerprint: string }>();
  const refreshMs = 60_000;

  return {
    ...adapter,
    async upsert(id, payload: AdapterPayload, expiresIn) {
      await adapter.upsert(id, payload, expiresIn);
      if (!payload.accountId) return;
      const clients = Object.keys(payload.authorizations ?? {}).sort();
      const fingerprint = `${payload.accountId}|${clients.join(',')}|${payload.exp ?? ''}`;
      const previous = written.get(id);
      if (previous && previous.fingerprint === fingerprint && Date.now() - previous.at < refreshMs) return;
      const info = deps.requestInfo.current();
      await deps.queries.record({
        sessionId: id,
        accountId: payload.accountId,
        ip: info?.ip ?? null,
        userAgent: info?.userAgent?.slice(0, 300) ?? null,
        clients,
        expiresAt: new Date(Date.now() + (expiresIn ?? 0) * 1000),
      });
      written.set(id, { at: Date.now(), fingerprint });
      // The map only spares writes; it never needs to hold every session.
      if (written.size > 10_000) written.clear();
    },
    async destroy(id) {
      await adapter.destroy(id);
      written.delete(id);
      await deps.queries.forget(id);
    },
  };
}
