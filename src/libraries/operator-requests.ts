import type { OperatorRequestRow, SessionQueries } from '../queries/session-queries.ts';
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

/** How often, and how far apart, a failed operator request is tried again. */
export interface OperatorRetryPolicy {
  /** Attempts in all (the first included); after the last failure the request is marked failed for good. */
  maxAttempts: number;
  /** The wait after the given failed attempt (1 for the first). */
  delaySeconds(attempt: number): number;
}

/** 1 s, 2 s, 4 s … up to 5 minutes apart; 12 attempts span about 18 minutes. */
export const defaultOperatorRetryPolicy: OperatorRetryPolicy = {
  maxAttempts: 12,
  delaySeconds: (attempt) => Math.min(2 ** (attempt - 1), 300),
};

/**
 * What a failure says, fit for the table and the audit log: the error's name and message, with any credentials of
 * a connection URL (`redis://user:password@host`) blanked out, shortened.
 */
export function describeFailure(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\/\/[^/\s@]*@/g, '//***@').slice(0, 300);
}

/**
 * Carries out what other processes queued in Postgres (the CLI cannot reach the hot store of the running servers):
 * signing out and unlocking. Every process polls; exactly one handles each request. A request that fails (Redis
 * away for a moment) stays pending and is tried again after a growing delay, each failure recorded on the request
 * and audited (`operator_request.failed`), until it succeeds or the policy's attempts are spent.
 */
export function createOperatorRequestProcessor(deps: {
  queries: SessionQueries;
  sessions: SessionManagement;
  accounts: AccountLibrary;
  throttles: SignInThrottles;
  audit: AuditLog;
  retry?: OperatorRetryPolicy;
}) {
  const retry = deps.retry ?? defaultOperatorRetryPolicy;

  async function carryOut(request: OperatorRequestRow, actor: string): Promise<Record<string, unknown>> {
    switch (request.action) {
      case 'sign-out-everywhere':
        return { ...(await deps.sessions.signOutEverywhere(request.account_id, actor)) };
      case 'sign-out-session':
        return {
          sessions: 1,
          grants: await deps.sessions.endSession(request.account_id, request.session_id ?? ''),
        };
      case 'unlock': {
        const account = await deps.accounts.get(request.account_id);
        await unlockAccount(deps, account, actor);
        return { unlocked: true };
      }
    }
  }

  return async function processQueuedRequests(): Promise<number> {
    let handled = 0;
    // A request that failed in this run waits for the next one, even with no delay.
    const failedThisRun: string[] = [];
    for (
      let request = await deps.queries.claim({ skip: failedThisRun });
      request;
      request = await deps.queries.claim({ skip: failedThisRun })
    ) {
      const actor = request.requested_by ?? 'queue';
      let result: Record<string, unknown>;
      try {
        result = await carryOut(request, actor);
      } catch (error) {
        failedThisRun.push(request.id);
        const message = describeFailure(error);
        const retryInSeconds =
          request.attempts < retry.maxAttempts ? retry.delaySeconds(request.attempts) : undefined;
        await deps.queries.recordFailure(request.id, message, retryInSeconds);
        await deps.audit
          .record('operator_request.failed', {
            accountId: request.account_id,
            actor,
            details: {
              requestId: request.id,
              action: request.action,
              attempt: request.attempts,
              error: message,
              ...(retryInSeconds === undefined ? { gaveUp: true } : { retryInSeconds }),
            },
          })
          .catch(() => undefined);
        continue;
      }
      await deps.queries.complete(request.id, result);
      handled += 1;
    }
    return handled;
  };
}
