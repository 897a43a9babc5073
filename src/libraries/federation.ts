import { withTransaction, type Pool } from '../db/pg-pool.ts';
import { invalidRequest, notFound } from '../errors/app-error.ts';
import type { AccountQueries } from '../queries/account-queries.ts';
import type { FederationQueries } from '../queries/federation-queries.ts';
import type { KeyValueStore } from '../storage/hot-state.ts';
import type { AccountLibrary } from './accounts.ts';
import type { AuditLog } from './audit.ts';
import type { IdentityProvider, RoleRule } from './identity-providers.ts';
import type { RbacLibrary } from './rbac.ts';
import type { UpstreamProfile } from './upstream-sign-in.ts';

export type FederatedResolution =
  | { kind: 'signed-in'; accountId: string; created: boolean }
  /** An account already has the upstream's verified email: its password confirms the link (policy `confirm`). */
  | { kind: 'confirm-link'; accountId: string; email: string }
  | { kind: 'refused'; reason: string };

export interface LinkedIdentity {
  idpId: string;
  idpName: string;
  email: string | null;
  linkedAt: string;
  lastUsedAt: string;
}

function matchesRule(claims: Record<string, unknown>, rule: RoleRule): boolean {
  const value = claims[rule.claim];
  return Array.isArray(value) ? value.map(String).includes(rule.value) : String(value) === rule.value;
}

/**
 * Accounts behind upstream sign-ins: find the linked account, link to an existing one when the upstream vouches
 * for its email (as the provider's policy says), or create one; account and link are written together or not at
 * all. Roles come from Gatehouse, plus what the provider's role rules map from upstream claims.
 */
export function createFederation(deps: {
  pool: Pool;
  queries: FederationQueries;
  accountQueries: AccountQueries;
  accounts: AccountLibrary;
  rbac: RbacLibrary;
  audit: AuditLog;
  store: KeyValueStore;
  sessionTtlSeconds: number;
}) {
  const { queries, audit } = deps;

  async function applyRoleRules(provider: IdentityProvider, accountId: string, profile: UpstreamProfile) {
    for (const rule of provider.roleRules) {
      if (matchesRule(profile.claims, rule))
        await deps.rbac.assignToAccount(accountId, rule.role).catch(() => undefined);
    }
  }

  async function link(provider: IdentityProvider, profile: UpstreamProfile, accountId: string, how: string) {
    await queries.insertLink({
      idpId: provider.id,
      subject: profile.subject,
      accountId,
      email: profile.email ?? null,
    });
    await audit.record('federation.linked', { accountId, details: { idp: provider.id, how } });
  }

  return {
    async resolve(provider: IdentityProvider, profile: UpstreamProfile): Promise<FederatedResolution> {
      const linked = await queries.findLink(provider.id, profile.subject);
      if (linked) {
        const account = await deps.accounts.findById(linked.account_id);
        if (!account || account.status !== 'active')
          return { kind: 'refused', reason: 'This account is disabled.' };
        await applyRoleRules(provider, account.id, profile);
        return { kind: 'signed-in', accountId: account.id, created: false };
      }
      const email = profile.email?.trim();
      const existing = email ? await deps.accounts.findByEmail(email) : undefined;
      if (existing) {
        if (!profile.emailVerified) {
          return {
            kind: 'refused',
            reason: `${provider.name} has not verified ${email}, and a Gatehouse account already uses that address. Sign in with your password instead.`,
          };
        }
        if (provider.linkPolicy === 'never') {
          return {
            kind: 'refused',
            reason: `A Gatehouse account already uses ${email}. Sign in with your password instead.`,
          };
        }
        if (provider.linkPolicy === 'confirm')
          return { kind: 'confirm-link', accountId: existing.id, email: existing.email };
        await link(provider, profile, existing.id, 'verified email');
        await applyRoleRules(provider, existing.id, profile);
        return { kind: 'signed-in', accountId: existing.id, created: false };
      }
      // A new account, with its link, in one transaction: never one without the other.
      const accountId = await withTransaction(deps.pool, async (tx) => {
        const row = await deps.accountQueries.insert(
          {
            email: email ?? `${provider.id}-${profile.subject}@users.noreply.invalid`,
            name: profile.name?.slice(0, 200) ?? null,
            passwordHash: null,
            emailVerified: profile.emailVerified && email !== undefined,
          },
          tx,
        );
        await queries.insertLink(
          { idpId: provider.id, subject: profile.subject, accountId: row.id, email: email ?? null },
          tx,
        );
        return row.id;
      });
      await audit.record('federation.linked', {
        accountId,
        details: { idp: provider.id, how: 'new account' },
      });
      await applyRoleRules(provider, accountId, profile);
      return { kind: 'signed-in', accountId, created: true };
    },

    /** The link the password confirmed (policy `confirm`). */
    async linkAfterPassword(
      provider: IdentityProvider,
      profile: UpstreamProfile,
      accountId: string,
    ): Promise<void> {
      await link(provider, profile, accountId, 'password confirmed');
      await applyRoleRules(provider, accountId, profile);
    },

    async linksOf(accountId: string, providers: IdentityProvider[]): Promise<LinkedIdentity[]> {
      const names = new Map(providers.map((provider) => [provider.id, provider.name]));
      return (await queries.linksOf(accountId)).map((row) => ({
        idpId: row.idp_id,
        idpName: names.get(row.idp_id) ?? row.idp_id,
        email: row.email,
        linkedAt: row.created_at.toISOString(),
        lastUsedAt: row.last_used_at.toISOString(),
      }));
    },

    /** Removes a link, unless it is the account's last way to sign in. */
    async unlink(accountId: string, idpId: string, hasPassword: boolean): Promise<void> {
      const links = await queries.linksOf(accountId);
      if (!links.some((row) => row.idp_id === idpId)) throw notFound('this sign-in method is not linked');
      if (!hasPassword && links.length === 1) {
        throw invalidRequest(
          'this is your only way to sign in; set a password or link another account first',
          'idp',
        );
      }
      await queries.deleteLink(accountId, idpId);
      await audit.record('federation.unlinked', { accountId, details: { idp: idpId } });
    },

    /** Remembers which upstream a sign-in came through, for the ID token's `idp` claim. */
    rememberLogin: (accountId: string, loginTs: number, idpId: string) =>
      deps.store.set(`login-idp:${accountId}:${loginTs}`, idpId, deps.sessionTtlSeconds),

    idpOfLogin: (accountId: string, authTime: number) => deps.store.get(`login-idp:${accountId}:${authTime}`),
  };
}

export type Federation = ReturnType<typeof createFederation>;
