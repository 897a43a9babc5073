import type { Context } from 'koa';
import { TooManyAttempts } from '../errors/too-many-attempts.ts';
import type { AttemptThrottle } from '../libraries/attempt-throttle.ts';
import type { AuditEventType, AuditLog } from '../libraries/audit.ts';

/** The throttle keys of one attempt: the account's (or the typed email's), and the client address's. */
export interface AttemptKeys {
  account: readonly string[];
  ip?: readonly string[];
}

type AuditEntry = Parameters<AuditLog['record']>[1];

/**
 * The guard of one factor (a password, a second-factor code): its two throttles, per account and per address, and
 * its audit. Every handler that checks a factor goes through it, so none can forget a step: a locked or waiting
 * attempt is answered with 429 and `Retry-After`; each failure counts on both throttles and is audited, and so is
 * the lock it causes (naming which kind of key locked, never the key); a success forgets the account's failures
 * (the address's stay, or one address could probe many accounts between its own successes).
 */
export function createAttemptGuard(deps: {
  audit: AuditLog;
  perAccount: AttemptThrottle;
  perIp?: AttemptThrottle;
  events: { failed: AuditEventType; locked?: AuditEventType };
}) {
  return {
    /** Undefined when the attempt may go on; else the refusal to show (429 and `Retry-After` already set). */
    async admit(ctx: Context, keys: AttemptKeys): Promise<TooManyAttempts | undefined> {
      try {
        await deps.perAccount.check(keys.account);
        if (deps.perIp && keys.ip) await deps.perIp.check(keys.ip);
        return undefined;
      } catch (error) {
        if (!(error instanceof TooManyAttempts)) throw error;
        ctx.status = 429;
        ctx.set('Retry-After', String(error.retryAfterSeconds));
        return error;
      }
    },

    async failed(keys: AttemptKeys, entry: AuditEntry): Promise<void> {
      const locked = [
        ...(await deps.perAccount.fail(keys.account)),
        ...(deps.perIp && keys.ip ? await deps.perIp.fail(keys.ip) : []),
      ];
      await deps.audit.record(deps.events.failed, entry);
      if (locked.length > 0 && deps.events.locked)
        await deps.audit.record(deps.events.locked, {
          ...entry,
          details: { keys: locked.map((key) => key.split(':')[0]) },
        });
    },

    succeeded: (keys: AttemptKeys) => deps.perAccount.succeed(keys.account),
  };
}

export type AttemptGuard = ReturnType<typeof createAttemptGuard>;
