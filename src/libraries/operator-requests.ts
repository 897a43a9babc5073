import type { SessionQueries } from '../queries/session-queries.ts';
import type { AccountLibrary } from './accounts.ts';
import type { AuditLog } from './audit.ts';
import type { SignInThrottles } from './throttles.ts';
import type { SessionManagement } from './session-management.ts';
import { throttleKeys } from '../vocabulary/throttle-keys.ts';

/**
 * Unlocks an account's sign-in: forgets failed passwords (by email), second-factor codes and password-change
 * attempts. Address-wide limits stay: an operator cannot tell a shared address from an attacker's.
 */
export async function unlockAccount(
  deps: { throttles: SignInThrottles; audit: AuditLog },
  account: { id: string; email: string },
  actor: string,
): Promise<void> {
  const { throttles } = deps;
  await Promise.all([
    throttles.passwordPerAccount.reset(throttleKeys.email(account.email)),
    throttles.passwordPerAccount.reset(throttleKeys.passwordChange(account.id)),
    throttles.factorPerAccount.reset(throttleKeys.secondFactor(account.id)),
  ]);
  await deps.audit.record('account.unlocked', { accountId: account.id, actor });
}

/**
 * Carries out what other processes queued in Postgres (the CLI cannot reach the hot store of the running servers):
 * signing out and unlocking. Every process polls; exactly one handles each request.
 */
export function createOperatorRequestProcessor(deps: {
  queries: SessionQueries;
  sessions: SessionManagement;
  accounts: AccountLibrary;
  throttles: SignInThrottles;
  audit: AuditLog;
}) {
  return async function processQueuedRequests(): Promise<number> {
    let handled = 0;
    for (let request = await deps.queries.claim(); request; request = await deps.queries.claim()) {
      const actor = request.requested_by ?? 'queue';
      let result: Record<string, unknown>;
      switch (request.action) {
        case 'sign-out-everywhere':
          result = { ...(await deps.sessions.signOutEverywhere(request.account_id, actor)) };
          break;
        case 'sign-out-session':
          result = {
            sessions: 1,
            grants: await deps.sessions.endSession(request.account_id, request.session_id ?? ''),
          };
          break;
        case 'unlock': {
          const account = await deps.accounts.get(request.account_id);
          await unlockAccount(deps, account, actor);
          result = { unlocked: true };
          break;
        }
      }
      await deps.queries.complete(request.id, result);
      handled += 1;
    }
    return handled;
  };
}
