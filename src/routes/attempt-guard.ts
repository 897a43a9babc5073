import type { Context } from 'koa';
import { TooManyAttempts } from '../errors/too-many-attempts.ts';
import type { Attempt, AttemptThrottle } from '../libraries/attempt-throttle.ts';
import type { AuditEventType, AuditLog } from '../libraries/audit.ts';

/** The throttle keys of one attempt: the account's (or the typed email's), and the client address's. */
export interface AttemptKeys {
  account: readonly string[];
  ip?: readonly string[];
}

type AuditEntry = Parameters<AuditLog['record']>[1];

/**
 * The guard of one factor (a password, a second-factor code): its two throttles, per account and per address, and
 * its audit. Every handler that checks a factor goes through it, so none can forget a step:
 *
 * - `admit` takes the attempt on both throttles before the guess is evaluated (atomically with the check, so
 *   parallel guesses cannot all pass it); a locked, waiting or full key is answered with 429 and `Retry-After`;
 * - `failed` counts the failure on both throttles and audits it, and the lock it causes (naming which kind of key
 *   locked, never the key);
 * - `succeeded` gives the attempt back and forgets the account's failures (the address's stay, or one address
 *   could probe many accounts between its own successes).
 *
 * The attempt belongs to the `keys` object the handler passed to `admit`, so `failed` and `succeeded` take the same
 * object. An attempt never settled (the request failed) stops counting after a while.
 */
export function createAttemptGuard(deps: {
  audit: AuditLog;
  perAccount: AttemptThrottle;
  perIp?: AttemptThrottle;
  events: { failed: AuditEventType; locked?: AuditEventType };
}) {
  const attempts = new WeakMap<AttemptKeys, { account: Attempt; ip?: Attempt }>();
  const attemptOf = (keys: AttemptKeys) => {
    const attempt = attempts.get(keys);
    if (!attempt) throw new Error('an attempt is settled before it was admitted');
    attempts.delete(keys);
    return attempt;
  };

  return {
    /** Undefined when the attempt may go on; else the refusal to show (429 and `Retry-After` already set). */
    async admit(ctx: Context, keys: AttemptKeys): Promise<TooManyAttempts | undefined> {
      try {
        const account = await deps.perAccount.reserve(keys.account);
        let ip: Attempt | undefined;
        if (deps.perIp && keys.ip) {
          try {
            ip = await deps.perIp.reserve(keys.ip);
          } catch (error) {
            await account.succeeded();
            throw error;
          }
        }
        attempts.set(keys, ip ? { account, ip } : { account });
        return undefined;
      } catch (error) {
        if (!(error instanceof TooManyAttempts)) throw error;
        ctx.status = 429;
        ctx.set('Retry-After', String(error.retryAfterSeconds));
        return error;
      }
    },

    async failed(keys: AttemptKeys, entry: AuditEntry): Promise<void> {
      const attempt = attemptOf(keys);
      const locked = [...(await attempt.account.failed()), ...(attempt.ip ? await attempt.ip.failed() : [])];
      await deps.audit.record(deps.events.failed, entry);
      if (locked.length > 0 && deps.events.locked)
        await deps.audit.record(deps.events.locked, {
          ...entry,
          details: { keys: locked.map((key) => key.split(':')[0]) },
        });
    },

    async succeeded(keys: AttemptKeys): Promise<void> {
      const attempt = attemptOf(keys);
      await Promise.all([attempt.account.succeeded({ forget: true }), attempt.ip?.succeeded()]);
    },
  };
}

export type AttemptGuard = ReturnType<typeof createAttemptGuard>;
