import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AuditLog } from '../../libraries/audit.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import { qrCodeDataUri } from '../../libraries/qr-code.ts';
import { csrfOnlyForm, textField } from '../forms.ts';
import { accountCsrfBinding, type AccountPageGuard, type CurrentAccountSession } from './account-session.ts';

const codeForm = z.object({ csrf: textField(100), code: textField(64) });

export interface AccountMfaDeps extends AccountPageGuard {
  mfa: MfaLibrary;
  audit: AuditLog;
  pages: PageRenderer;
  csrf: CsrfTokens;
  /** The signed-in account page session, or a redirect to sign in (then undefined). */
}

/** Two-step verification on the account page: set up an authenticator app, and renew recovery codes. */
export function registerAccountMfa(router: Router, deps: AccountMfaDeps): void {
  const { mfa, audit, pages, csrf } = deps;

  async function renderEnroll(ctx: Context, current: CurrentAccountSession, error?: string) {
    const account = { id: current.session.sub, email: current.session.email };
    const enrollment = (await mfa.pendingEnrollment(account)) ?? (await mfa.startEnrollment(account));
    ctx.type = 'html';
    ctx.body = pages.render('mfa-enroll', {
      title: 'Set up two-step verification',
      required: false,
      qrCode: await qrCodeDataUri(enrollment.otpauthUri),
      secret: enrollment.secret,
      error,
      csrf: csrf.tokenFor(accountCsrfBinding(current.id)),
      action: '/account/mfa/confirm',
    });
  }

  router.get('/mfa', async (ctx) => {
    const current = await deps.requireSession(ctx);
    if (!current) return;
    ctx.type = 'html';
    ctx.body = pages.render('account-mfa', {
      title: 'Two-step verification',
      status: await mfa.status(current.session.sub),
      csrf: csrf.tokenFor(accountCsrfBinding(current.id)),
    });
  });

  router.post('/mfa/setup', async (ctx) => {
    const current = await deps.requireSubmission(ctx, csrfOnlyForm);
    if (!current) return;
    if (await mfa.isEnrolled(current.session.sub)) return ctx.redirect('/account/mfa');
    return renderEnroll(ctx, current);
  });

  router.post('/mfa/confirm', async (ctx) => {
    const current = await deps.requireSubmission(ctx, codeForm);
    if (!current) return;
    const { form } = current;
    const codes = await mfa.confirmEnrollment(current.session.sub, form.code);
    if (!codes)
      return renderEnroll(
        ctx,
        current,
        'That code is not right. Check the time on your device and try again.',
      );
    await audit.record('mfa.enrolled', {
      accountId: current.session.sub,
      ip: ctx.ip,
      details: { during: 'account page' },
    });
    ctx.type = 'html';
    ctx.body = pages.render('recovery-codes', { title: 'Your recovery codes', codes });
  });

  router.post('/mfa/recovery-codes', async (ctx) => {
    const current = await deps.requireSubmission(ctx, csrfOnlyForm);
    if (!current) return;
    const codes = await mfa.regenerateRecoveryCodes(current.session.sub);
    await audit.record('mfa.recovery_codes_regenerated', { accountId: current.session.sub, ip: ctx.ip });
    ctx.type = 'html';
    ctx.body = pages.render('recovery-codes', { title: 'Your new recovery codes', codes });
  });
}
