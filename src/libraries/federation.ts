import type { Logger } from 'pino';
import { withTransaction, type Pool } from '../db/pg-pool.ts';
import { invalidRequest, notFound } from '../errors/app-error.ts';
import type { AccountQueries } from '../queries/account-queries.ts';
import type { FederationQueries } from '../queries/federation-queries.ts';
import type { KeyValueStore } from '../storage/hot-state.ts';
import { placeholderEmail, usableUpstreamEmail, type Account, type AccountLibrary } from './accounts.ts';
import type { AuditLog } from './audit.ts';
import { ruleClaimProblem, ruleClaims, type IdentityProvider, type RoleRule } from './identity-providers.ts';
import type { RbacLibrary } from './rbac.ts';
import type { UpstreamProfile } from './upstream-sign-in.ts';
import { storeKeys } from '../vocabulary/store-keys.ts';
import { isUniqueViolation } from '../db/sql-state.ts';

export type FederatedResolution =
  | { kind: 'signed-in'; accountId: string; created: boolean }
  /**
   * An account already has the upstream's verified email: its password, and its second factor if it has one,
   * confirm the link (policy `confirm`, or `auto` without the trust to skip them).
   */
  | { kind: 'confirm-link'; accountId: string; email: string }
  | { kind: 'refused'; reason: string };

export interface LinkedIdentity {
  idpId: string;
  idpName: string;
  email: string | null;
  linkedAt: string;
  lastUsedAt: string;
}

/** A claim equal to the rule's value, or a list holding it. Only plain values count: an absent claim never does. */
function matchesRule(claims: Record<string, unknown>, rule: RoleRule): boolean {
  const same = (value: unknown) =>
    (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') &&
    (rule.claim === 'email'
      ? String(value).toLowerCase() === rule.value.toLowerCase()
      : String(value) === rule.value);
  const value = claims[rule.claim];
  return Array.isArray(value) ? value.some(same) : same(value);
}

/**
 * Accounts behind upstream sign-ins: find the linked account, link to an existing one when the upstream vouches
 * for its email (as the provider's policy says), or create one; account and link are written together or not at
 * all. Roles come from Gatehouse, plus what the provider's role rules map from upstream claims.
 *
 * An email the upstream has not verified is no email at all here: it never finds an existing account, never
 * links, and never becomes an account's address (the account gets a placeholder instead, see placeholderEmail).
 * Otherwise whoever typed someone else's address at a careless upstream would own it at Gatehouse, and relying
 * parties trusting `email` would take them for its owner.
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
  log?: Pick<Logger, 'warn'>;
}) {
  const { queries, audit } = deps;

  /**
   * Role rules, at every sign-in through the upstream: the account gets the roles whose rules match now and loses
   * those this upstream gave whose rules no longer do. A rule reads only claims the user cannot set at will (see
   * ruleClaims); one that cannot be applied (a claim refused since, a deleted role) is audited, never skipped
   * quietly.
   */
  async function applyRoleRules(provider: IdentityProvider, accountId: string, profile: UpstreamProfile) {
    const claims = ruleClaims(provider.type, profile);
    const matched: string[] = [];
    const ignored: { claim?: string; role: string; reason: string }[] = [];
    for (const rule of provider.roleRules) {
      const problem = ruleClaimProblem(provider.type, rule.claim);
      if (problem) ignored.push({ claim: rule.claim, role: rule.role, reason: problem });
      else if (matchesRule(claims, rule)) matched.push(rule.role);
    }
    const { granted, removed, missing } = await deps.rbac.syncRolesFromIdp(accountId, provider.id, matched);
    for (const role of missing) ignored.push({ role, reason: `no role named ${role} exists` });
    if (granted.length > 0 || removed.length > 0 || ignored.length > 0) {
      await audit.record('federation.roles_changed', {
        accountId,
        details: { idp: provider.id, granted, removed, ...(ignored.length > 0 ? { ignored } : {}) },
      });
    }
    if (ignored.length > 0)
      deps.log?.warn(
        { idp: provider.id, accountId, ignored },
        'role rules of an upstream could not be applied',
      );
  }

  /** Writes a link; false when the identity was linked meanwhile (by a concurrent sign-in). */
  async function link(
    provider: IdentityProvider,
    profile: UpstreamProfile,
    accountId: string,
    email: string,
    how: string,
  ): Promise<boolean> {
    try {
      await queries.insertLink({ idpId: provider.id, subject: profile.subject, accountId, email });
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
    await audit.record('federation.linked', { accountId, details: { idp: provider.id, how } });
    return true;
  }

  /** An account already has the address the upstream verified: link at once, ask for proof, or refuse. */
  async function toExisting(
    provider: IdentityProvider,
    profile: UpstreamProfile,
    existing: Account,
    email: string,
  ): Promise<FederatedResolution> {
    if (provider.linkPolicy === 'never') {
      return {
        kind: 'refused',
        reason: `A Gatehouse account already uses ${email}. Sign in with your password instead.`,
      };
    }
    if (existing.status !== 'active') return { kind: 'refused', reason: 'This account is disabled.' };
    // `auto` takes the upstream's word only where the operator vouched for it (`--trust-email`), and only for an
    // account whose own address is verified: an unverified local address proves nobody owns it.
    if (provider.linkPolicy === 'auto' && provider.trustEmail && existing.emailVerified) {
      if (await link(provider, profile, existing.id, email, 'verified email'))
        await applyRoleRules(provider, existing.id, profile);
      return { kind: 'signed-in', accountId: existing.id, created: false };
    }
    if (!existing.hasPassword) {
      return {
        kind: 'refused',
        reason: `A Gatehouse account already uses ${email}, and it has no password to confirm a link to ${provider.name} with. Sign in the way you usually do.`,
      };
    }
    return { kind: 'confirm-link', accountId: existing.id, email: existing.email };
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
      const email = profile.emailVerified ? usableUpstreamEmail(profile.email) : undefined;
      const existing = email ? await deps.accounts.findByEmail(email) : undefined;
      if (existing && email) return toExisting(provider, profile, existing, email);

      // A new account, with its link, in one transaction: never one without the other.
      let accountId: string;
      try {
        accountId = await withTransaction(deps.pool, async (tx) => {
          const row = await deps.accountQueries.insert(
            {
              email: email ?? placeholderEmail(provider.id, profile.subject),
              name: profile.name?.slice(0, 200) ?? null,
              passwordHash: null,
              emailVerified: email !== undefined,
            },
            tx,
          );
          await queries.insertLink(
            { idpId: provider.id, subject: profile.subject, accountId: row.id, email: email ?? null },
            tx,
          );
          return row.id;
        });
      } catch (error) {
        // A concurrent sign-in took the address or linked the identity first; the next attempt finds it.
        if (isUniqueViolation(error))
          return { kind: 'refused', reason: 'This sign-in could not be finished. Try again.' };
        throw error;
      }
      await audit.record('federation.linked', {
        accountId,
        details: { idp: provider.id, how: 'new account', emailVerified: email !== undefined },
      });
      await applyRoleRules(provider, accountId, profile);
      return { kind: 'signed-in', accountId, created: true };
    },

    /**
     * The link a `confirm-link` waited for, once the account's password and every factor its sign-in requires
     * have passed (written when that sign-in finishes, never before).
     */
    async linkConfirmed(
      provider: IdentityProvider,
      profile: UpstreamProfile,
      accountId: string,
    ): Promise<void> {
      const email = profile.emailVerified ? usableUpstreamEmail(profile.email) : undefined;
      if (!email) return;
      if (await link(provider, profile, accountId, email, 'password confirmed'))
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
      deps.store.set(storeKeys.loginIdp(accountId, loginTs), idpId, deps.sessionTtlSeconds),

    idpOfLogin: (accountId: string, authTime: number) =>
      deps.store.get(storeKeys.loginIdp(accountId, authTime)),
  };
}

export type Federation = ReturnType<typeof createFederation>;
