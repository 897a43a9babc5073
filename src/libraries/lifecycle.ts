import type { OidcModelQueries } from '../queries/oidc-model-queries.ts';
import type { Account, AccountLibrary } from './accounts.ts';
import type { AuditLog } from './audit.ts';
import type { ClientLibrary } from './clients.ts';

/**
 * Ends every session of an account and revokes its grants (refresh and access tokens). A serving process does it at
 * once through its hot store (SessionManagement.signOutEverywhere); the CLI queues it for the running servers.
 */
export type SignOutEverywhere = (accountId: string, actor: string) => Promise<unknown>;

/**
 * How a process without the hot store (the CLI) signs an account out: it revokes the durable grants and refresh
 * tokens in Postgres itself, so they stop working even with no server running, and queues the rest (sessions,
 * back-channel logout notices) for the running servers. `wait` is how long to wait for a server to carry it out
 * (before a deletion, whose cascade would take the queued request with it).
 */
export function queuedSignOut(deps: {
  oidcModels: Pick<OidcModelQueries, 'deleteOfAccount'>;
  request: (action: 'sign-out-everywhere', accountId: string, requestedBy: string) => Promise<string>;
  waitFor: (id: string, timeoutMs: number) => Promise<Record<string, unknown> | undefined>;
  waitMs: number;
}): SignOutEverywhere & { beforeDelete: SignOutEverywhere } {
  const signOut = async (accountId: string, actor: string) => {
    const id = await deps.request('sign-out-everywhere', accountId, actor);
    await deps.oidcModels.deleteOfAccount(accountId);
    return id;
  };
  return Object.assign(signOut, {
    beforeDelete: async (accountId: string, actor: string) =>
      deps.waitFor(await signOut(accountId, actor), deps.waitMs),
  });
}

/**
 * The lifecycle use cases of accounts and clients (issue 17): disable, enable, delete, set a password, rotate a
 * secret. One implementation shared by the CLI, the admin API and the admin console; each is audited
 * (`admin.change`, `details.action` naming the use case) with the acting administrator: `admin:<sub>` (admin API),
 * `console:<sub>` (console) or `cli`. Unknown ids are AppError 404 (`not_found`).
 */
export function createLifecycle(deps: {
  accounts: Pick<AccountLibrary, 'get' | 'update' | 'setPassword' | 'delete'>;
  clients: Pick<ClientLibrary, 'get' | 'rotateSecret' | 'delete'>;
  audit: AuditLog;
  /** Whether the account has a second factor (decides the password's minimum length). */
  hasSecondFactor: (accountId: string) => Promise<boolean>;
  signOutEverywhere: SignOutEverywhere;
  /** Before a deletion; default `signOutEverywhere`. */
  signOutBeforeDelete?: SignOutEverywhere;
  /** Revokes what was issued to a deleted client (its durable grants and refresh tokens). */
  revokeClientTokens?: (clientId: string) => Promise<unknown>;
}) {
  const { accounts, clients, audit } = deps;
  const change = (
    actor: string,
    action: string,
    target: string,
    details: { accountId?: string; clientId?: string; before?: unknown; after?: unknown },
  ) =>
    audit.record('admin.change', {
      actor,
      ...(details.accountId ? { accountId: details.accountId } : {}),
      ...(details.clientId ? { clientId: details.clientId } : {}),
      details: {
        action,
        target,
        ...(details.before === undefined ? {} : { before: details.before }),
        ...(details.after === undefined ? {} : { after: details.after }),
      },
    });

  return {
    /**
     * Disables an account: it can no longer sign in, and every session ends and every grant (refresh and access
     * tokens, offline ones too) is revoked at once, not only refused at the next sign-in. The status is written
     * first, so nothing signed in after the sign-out can outlive it (findAccount refuses a disabled account).
     */
    async disableUser(accountId: string, actor: string): Promise<Account> {
      const before = await accounts.get(accountId);
      const account = await accounts.update(accountId, { status: 'disabled' });
      await deps.signOutEverywhere(accountId, actor);
      await change(actor, 'user.disabled', `user:${accountId}`, {
        accountId,
        before: { status: before.status },
        after: { status: account.status },
      });
      return account;
    },

    async enableUser(accountId: string, actor: string): Promise<Account> {
      const before = await accounts.get(accountId);
      const account = await accounts.update(accountId, { status: 'active' });
      await change(actor, 'user.enabled', `user:${accountId}`, {
        accountId,
        before: { status: before.status },
        after: { status: account.status },
      });
      return account;
    },

    /** Ends the account's sessions and grants, then deletes it with what cascades (roles, factors, links). */
    async deleteUser(accountId: string, actor: string): Promise<void> {
      const before = await accounts.get(accountId);
      await (deps.signOutBeforeDelete ?? deps.signOutEverywhere)(accountId, actor);
      await accounts.delete(accountId);
      await change(actor, 'user.deleted', `user:${accountId}`, {
        accountId,
        before: { id: before.id, email: before.email, name: before.name, status: before.status },
      });
    },

    /** Sets a password without the current one; the password policy applies (a 400 naming `password`). */
    async setUserPassword(accountId: string, password: string, actor: string): Promise<void> {
      await accounts.get(accountId);
      await accounts.setPassword(accountId, password, await deps.hasSecondFactor(accountId));
      // Never the password itself.
      await change(actor, 'user.password_set', `user:${accountId}`, { accountId });
    },

    /** A new secret for a confidential client, shown once; the old one is refused from then on. */
    async rotateClientSecret(clientId: string, actor: string): Promise<{ clientId: string; secret: string }> {
      const secret = await clients.rotateSecret(clientId);
      // Never the secret itself.
      await change(actor, 'client.secret_rotated', `client:${clientId}`, { clientId });
      return { clientId, secret };
    },

    async deleteClient(clientId: string, actor: string): Promise<void> {
      const before = await clients.get(clientId);
      await clients.delete(clientId);
      await deps.revokeClientTokens?.(clientId);
      await change(actor, 'client.deleted', `client:${clientId}`, { clientId, before });
    },
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
