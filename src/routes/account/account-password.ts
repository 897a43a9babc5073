import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors/app-error.ts';
import type { AccountLibrary } from '../../libraries/accounts.ts';
import type { AttemptThrottle } from '../../libraries/attempt-throttle.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import type { SessionManagement } from '../../libraries/session-management.ts';
import { throttleKeys } from '../../vocabulary/throttle-keys.ts';
import { createAttemptGuard } from '../attempt-guard.ts';
import { textField } from '../forms.ts';
import {
  accountActor,
  accountCsrfBinding,
  type AccountPageGuard,
  type CurrentAccountSession,
  signedInAgainNoticeFor,
} from './account-session.ts';

const passwordForm = z.object({
  csrf: textField(100),
  email: textField(320).optional(),
  current_password: textField(1024),
  new_password: textField(1024),
});

export interface AccountPasswordDeps extends AccountPageGuard {
  accounts: AccountLibrary;
  mfa: MfaLibrary;
  sessions: SessionManagement;
  audit: AuditLog;
  throttle: AttemptThrottle;
  pages: PageRenderer;
  csrf: CsrfTokens;
  minLength: number;
  /** The Gatehouse sign-in session of this browser, which the password change keeps. */
  browserSessionId(ctx: Context): string | undefined;
}

/**
 * Password change on the account page: a recent sign-in (else the browser signs in again first), the current
 * password (guessing it is limited like sign-in), the new one checked against the password rules, then every other
 * session is signed out (OWASP ASVS 3.3.3).
 */
export function registerAccountPassword(router: Router, deps: AccountPasswordDeps): void {
  function render(
    ctx: Context,
    current: CurrentAccountSession,
    extra: { error?: string; done?: boolean } = {},
  ) {
    ctx.type = 'html';
    ctx.body = deps.pages.render('account-password', {
      title: 'Change your password',
      csrf: deps.csrf.tokenFor(accountCsrfBinding(current.id)),
      email: current.session.email,
      minLength: deps.minLength,
      notice: signedInAgainNoticeFor(ctx),
      ...extra,
    });
  }

  const guard = createAttemptGuard({
    audit: deps.audit,
    perAccount: deps.throttle,
    events: { failed: 'password.change_failed' },
  });

  router.get('/password', async (ctx) => {
    const current = await deps.requireRecentSession(ctx);
    if (current) render(ctx, current);
  });

  router.post('/password', async (ctx) => {
    const current = await deps.requireRecentSubmission(ctx, passwordForm, '/account/password');
    if (!current) return;
    const { form } = current;
    const accountId = current.session.sub;
    const keys = { account: [throttleKeys.passwordChange(accountId)] };
    const refused = await guard.admit(ctx, keys);
    if (refused) return render(ctx, current, { error: refused.message });
    try {
      const changed = await deps.accounts.changePassword(
        accountId,
        form.current_password,
        form.new_password,
        await deps.mfa.isEnrolled(accountId),
      );
      if (!changed) {
        await guard.failed(keys, { accountId, ip: ctx.ip });
        ctx.status = 400;
        return render(ctx, current, { error: 'The current password is not right.' });
      }
    } catch (error) {
      if (error instanceof AppError && error.status === 400) {
        ctx.status = 400;
        return render(ctx, current, { error: `The new password was not accepted: ${error.message}.` });
      }
      throw error;
    }
    await guard.succeeded(keys);
    await deps.audit.record('password.changed', { accountId, ip: ctx.ip });
    // This browser just proved the current password and stays signed in (the page says "your other sessions").
    await deps.sessions.signOutEverywhere(accountId, accountActor(accountId), {
      except: deps.browserSessionId(ctx),
    });
    render(ctx, current, { done: true });
  });
}
