import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors/app-error.ts';
import { TooManyAttempts } from '../../errors/too-many-attempts.ts';
import type { AccountLibrary } from '../../libraries/accounts.ts';
import type { AttemptThrottle } from '../../libraries/attempt-throttle.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import { describeDuration } from '../../libraries/email-tokens.ts';
import type { EmailChangeLibrary } from '../../libraries/email-change.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import { throttleKeys } from '../../vocabulary/throttle-keys.ts';
import { textField } from '../forms.ts';
import {
  accountCsrfBinding,
  type AccountPageGuard,
  type CurrentAccountSession,
  signedInAgainNoticeFor,
} from './account-session.ts';

const emailForm = z.object({ csrf: textField(100), email: textField(320) });

export interface AccountEmailDeps extends AccountPageGuard {
  accounts: Pick<AccountLibrary, 'findById'>;
  emailChange: EmailChangeLibrary;
  /** Requests per account (every request counts). */
  throttle: AttemptThrottle;
  pages: PageRenderer;
  csrf: CsrfTokens;
  /** How long a confirmation link stays valid (the page says it). */
  tokenSeconds: number;
}

/**
 * Changing the address on the account page (when mail is on): a recent sign-in (else the browser signs in again
 * first), the new address, and a link mailed to it that moves the account when it is used (the address stays as it
 * is until then). The answer is the same whether or not another account has the new address.
 */
export function registerAccountEmail(router: Router, deps: AccountEmailDeps): void {
  if (!deps.emailChange.enabled) return;

  async function render(
    ctx: Context,
    current: CurrentAccountSession,
    extra: { error?: string; requested?: string; value?: string } = {},
  ) {
    const account = await deps.accounts.findById(current.session.sub);
    ctx.type = 'html';
    ctx.body = deps.pages.render('account-email', {
      title: 'Change your email address',
      csrf: deps.csrf.tokenFor(accountCsrfBinding(current.id)),
      email: account?.email ?? current.session.email,
      verified: account?.emailVerified ?? false,
      validFor: describeDuration(deps.tokenSeconds),
      notice: signedInAgainNoticeFor(ctx),
      ...extra,
    });
  }

  router.get('/email', async (ctx) => {
    const current = await deps.requireRecentSession(ctx);
    if (current) await render(ctx, current);
  });

  router.post('/email', async (ctx) => {
    const current = await deps.requireRecentSubmission(ctx, emailForm, '/account/email');
    if (!current) return;
    const accountId = current.session.sub;
    const account = await deps.accounts.findById(accountId);
    if (!account) return ctx.redirect('/account/login');
    const value = current.form.email.trim();
    try {
      const attempt = await deps.throttle.reserve([throttleKeys.emailChange(accountId)]);
      // Every request counts: the limit is on asking, not on being wrong.
      await attempt.failed();
      await deps.emailChange.request(account, value, { ip: ctx.ip });
    } catch (error) {
      if (error instanceof TooManyAttempts) {
        ctx.status = 429;
        ctx.set('Retry-After', String(error.retryAfterSeconds));
        return render(ctx, current, {
          value,
          error: `Too many requests. Try again in ${describeDuration(error.retryAfterSeconds)}.`,
        });
      }
      if (error instanceof AppError && error.status === 400) {
        ctx.status = 400;
        return render(ctx, current, { value, error: `The address was not accepted: ${error.message}.` });
      }
      throw error;
    }
    await render(ctx, current, { requested: value });
  });
}
