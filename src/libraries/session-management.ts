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
  uid?: string;
  accountId?: string;
  exp?: number;
  authorizations?: Record<string, { grantId?: string; sid?: string }>;
}

/** A live Gatehouse sign-in session: whose it is, and its uid (the id changes at each sign-in step, the uid never). */
export interface BrowserSession {
  uid: string;
  accountId: string;
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

  async function findStored(sessionId: string): Promise<StoredSession | undefined> {
    return (await adapterFor('Session').find(sessionId)) as StoredSession | undefined;
  }

  return {
    listSessions: deps.ledger.listSessions,

    /**
     * The signed-in session with this id (from the browser's session cookie), undefined once it has ended: signed
     * out, revoked, expired or never signed in. One read of the hot store.
     */
    async findBrowserSession(sessionId: string): Promise<BrowserSession | undefined> {
      const stored = await findStored(sessionId);
      if (!stored?.accountId || !stored.uid) return undefined;
      if (typeof stored.exp === 'number' && stored.exp <= Math.floor(Date.now() / 1000)) return undefined;
      return { uid: stored.uid, accountId: stored.accountId };
    },

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

    /**
     * Ends every session of the account and revokes every grant, offline ones included. `except` keeps one session
     * of the account and the grants it holds: the browser that just changed the password stays signed in, and its
     * apps keep working, while every other session and grant ends. `reason` is recorded in the audit event's details
     * (why the sessions were ended, such as a second factor just turned on).
     */
    async signOutEverywhere(
      accountId: string,
      actor: string,
      options: { except?: string | undefined; reason?: string } = {},
    ): Promise<SignOutResult> {
      const kept = options.except ? await findStored(options.except) : undefined;
      const keptSession = kept?.accountId === accountId ? options.except : undefined;
      const keptGrants = new Set(
        keptSession
          ? Object.values(kept?.authorizations ?? {}).map((authorization) => authorization.grantId)
          : [],
      );
      const sessions = (await queries.listActive(accountId)).filter((row) => row.session_id !== keptSession);
      for (const session of sessions) await endSession(accountId, session.session_id);
      const grants = (await queries.grantsOf(accountId)).filter((row) => !keptGrants.has(row.id));
      for (const grant of grants) await revokeGrantTokens(grant.id);
      const result = { sessions: sessions.length, grants: grants.length };
      await audit.record('session.revoked', {
        accountId,
        actor,
        details: {
          everywhere: true,
          ...result,
          ...(keptSession ? { keptCurrent: true } : {}),
          ...(options.reason ? { reason: options.reason } : {}),
        },
      });
      return result;
    },

    /** Ends one session by id (a queued request). */
    endSession,
  };
}

export type SessionManagement = ReturnType<typeof createSessionManagement>;
