import type { Adapter, Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import { notFound } from '../errors/app-error.ts';
import type { SessionQueries } from '../queries/session-queries.ts';
import { grantableModels } from '../storage/model-names.ts';
import type { AuditLog } from './audit.ts';
import type { SessionLedger } from './session-ledger.ts';

export interface SignOutResult {
  sessions: number;
  grants: number;
}

interface StoredSession {
  accountId?: string;
  authorizations?: Record<string, { grantId?: string; sid?: string }>;
}

/**
 * Sessions and grants of an account, and ending them: a session's end revokes the grants it holds (their refresh
 * and access tokens, including offline ones) and tells each app with a back-channel logout URI; signing out
 * everywhere does that for every session and every remaining grant.
 */
export function createSessionManagement(deps: {
  queries: SessionQueries;
  ledger: SessionLedger;
  adapterFor: (model: string) => Adapter;
  provider: () => Provider;
  audit: AuditLog;
  log: Logger;
}) {
  const { queries, adapterFor, audit } = deps;

  async function revokeGrantTokens(grantId: string): Promise<void> {
    await Promise.all([...grantableModels].map((model) => adapterFor(model).revokeByGrantId(grantId)));
    await adapterFor('Grant').destroy(grantId);
  }

  async function notifyApp(clientId: string, accountId: string, sid: string | undefined): Promise<void> {
    try {
      // oidc-provider signs and sends the logout token (OpenID Connect Back-Channel Logout 1.0 section 2.4).
      const client = (await deps.provider().Client.find(clientId)) as
        | { backchannelLogoutUri?: string; backchannelLogout(sub: string, sid: string): Promise<void> }
        | undefined;
      if (client?.backchannelLogoutUri) await client.backchannelLogout(accountId, sid ?? '');
    } catch (error) {
      deps.log.warn({ err: error, clientId }, 'back-channel logout could not be sent');
    }
  }

  async function endSession(accountId: string, sessionId: string): Promise<number> {
    const stored = (await adapterFor('Session').find(sessionId)) as StoredSession | undefined;
    let grants = 0;
    if (stored && stored.accountId === accountId) {
      for (const [clientId, authorization] of Object.entries(stored.authorizations ?? {})) {
        if (authorization.grantId) {
          await revokeGrantTokens(authorization.grantId);
          grants += 1;
        }
        await notifyApp(clientId, accountId, authorization.sid);
      }
      await adapterFor('Session').destroy(sessionId);
    }
    await queries.forget(sessionId);
    return grants;
  }

  return {
    listSessions: deps.ledger.listSessions,
    listGrants: deps.ledger.listGrants,

    async revokeSession(accountId: string, sessionId: string, actor: string): Promise<void> {
      const known = (await queries.listActive(accountId)).some((row) => row.session_id === sessionId);
      if (!known) throw notFound('no such session for this account');
      const grants = await endSession(accountId, sessionId);
      await audit.record('session.revoked', { accountId, actor, details: { grants } });
    },

    async revokeGrant(accountId: string, grantId: string, actor: string): Promise<void> {
      const grant = (await queries.grantsOf(accountId)).find((row) => row.id === grantId);
      if (!grant) throw notFound('no such app access for this account');
      await revokeGrantTokens(grantId);
      await audit.record('token.revoked', {
        accountId,
        clientId: grant.payload.clientId,
        actor,
        details: { grant: 'revoked' },
      });
    },

    /** Ends every session of the account and revokes every grant, offline ones included. */
    async signOutEverywhere(accountId: string, actor: string): Promise<SignOutResult> {
      const sessions = await queries.listActive(accountId);
      for (const session of sessions) await endSession(accountId, session.session_id);
      const grants = await queries.grantsOf(accountId);
      for (const grant of grants) await revokeGrantTokens(grant.id);
      const result = { sessions: sessions.length, grants: grants.length };
      await audit.record('session.revoked', { accountId, actor, details: { everywhere: true, ...result } });
      return result;
    },

    /** Ends one session by id (a queued request). */
    endSession,
  };
}

export type SessionManagement = ReturnType<typeof createSessionManagement>;
