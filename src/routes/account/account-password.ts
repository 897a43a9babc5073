import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors/app-error.ts';
import type { AccountLibrary } from '../../libraries/accounts.ts';
import { TooManyAttempts, type AttemptThrottle } from '../../libraries/attempt-throttle.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import type { SessionManagement } from '../../libraries/session-management.ts';
import { assertCsrf, readForm, textField } from '../forms.ts';
import type { AccountSession } from './account-router.ts';

const passwordForm = z.object({
  csrf: textField(100),
  email: textField(320).optional(),
  current_password: textField(1024),
  new_password: textField(1024),
});

export interface AccountPasswordDeps {
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
  requireSession(ctx: Context): Promise<{ id: string; session: AccountSession } | undefined>;
}

/**
 * Password change on the account page: the current password first (guessing it is limited like sign-in), the new
 * one checked against the password rules, then every other session is signed out (OWASP ASVS 3.3.3).
 */
export function registerAccountPassword(router: Router, deps: AccountPasswordDeps): void {
  const binding = (id: string) => `account:${id}`;

  function render(
    ctx: Context,
    current: { id: string; session: AccountSession },
    extra: { error?: string; done?: boolean } = {},
  ) {
    ctx.type = 'html';
    ctx.body = deps.pages.render('account-password', {
      title: 'Change your password',
      csrf: deps.csrf.tokenFor(binding(current.id)),
      email: current.session.email,
      minLength: deps.minLength,
      ...extra,
    });
  }

  router.get('/password', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const current = await deps.requireSession(ctx);
    if (current) render(ctx, current);
  });

  router.post('/password', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const current = await deps.requireSession(ctx);
    if (!current) return;
    const form = readForm(ctx, passwordForm);
    assertCsrf(deps.csrf, binding(current.id), form.csrf);
    const accountId = current.session.sub;
    const keys = [`change:${accountId}`];
    try {
      await deps.throttle.check(keys);
      const changed = await deps.accounts.changePassword(
        accountId,
        form.current_password,
        form.new_password,
        await deps.mfa.isEnrolled(accountId),
      );
      if (!changed) {
        await deps.throttle.fail(keys);
        await deps.audit.record('password.change_failed', { accountId, ip: ctx.ip });
        ctx.status = 400;
        return render(ctx, current, { error: 'The current password is not right.' });
      }
    } catch (error) {
      if (error instanceof TooManyAttempts) {
        ctx.status = 429;
        ctx.set('Retry-After', String(error.retryAfterSeconds));
        return render(ctx, current, { error: error.message });
      }
      if (error instanceof AppError && error.status === 400) {
        ctx.status = 400;
        return render(ctx, current, { error: `The new password was not accepted: ${error.message}.` });
      }
      throw error;
    }
    await deps.throttle.succeed(keys);
    await deps.audit.record('password.changed', { accountId, ip: ctx.ip });
    // This browser just proved the current password and stays signed in (the page says "your other sessions").
    await deps.sessions.signOutEverywhere(accountId, `account:${accountId}`, {
      except: deps.browserSessionId(ctx),
    });
    render(ctx, current, { done: true });
  });
}
