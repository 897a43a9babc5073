import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AuditLog } from '../../libraries/audit.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import { qrCodeDataUri } from '../../libraries/qr-code.ts';
import { csrfOnlyForm, textField } from '../forms.ts';
import {
  accountActor,
  accountCsrfBinding,
  type AccountPageGuard,
  type CurrentAccountSession,
  signedInAgainNoticeFor,
} from './account-session.ts';

const codeForm = z.object({ csrf: textField(100), code: textField(64) });
const mfaPage = '/account/mfa';

export interface AccountMfaDeps extends AccountPageGuard {
  mfa: MfaLibrary;
  audit: AuditLog;
  pages: PageRenderer;
  csrf: CsrfTokens;
}

/**
 * Two-step verification on the account page: set up an authenticator app, renew recovery codes, turn it off. Each
 * changes how the account is protected, so the page and every change take a recent sign-in (with the second factor
 * when the account has one). Once a factor is on, the page offers to sign out the other sessions, which were
 * signed in without it.
 */
export function registerAccountMfa(router: Router, deps: AccountMfaDeps): void {
  const { mfa, audit, pages, csrf } = deps;

  async function renderStatus(
    ctx: Context,
    current: CurrentAccountSession,
    extra: { notice?: string; error?: string } = {},
  ) {
    ctx.type = 'html';
    ctx.body = pages.render('account-mfa', {
      title: 'Two-step verification',
      status: await mfa.status(current.session.sub),
      csrf: csrf.tokenFor(accountCsrfBinding(current.id)),
      notice: signedInAgainNoticeFor(ctx),
      ...extra,
    });
  }

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

  function renderCodes(
    ctx: Context,
    current: CurrentAccountSession,
    title: string,
    codes: string[],
    offerSignOutOthers: boolean,
  ) {
    ctx.type = 'html';
    ctx.body = pages.render('account-recovery-codes', {
      title,
      codes,
      offerSignOutOthers,
      csrf: csrf.tokenFor(accountCsrfBinding(current.id)),
    });
  }

  router.get('/mfa', async (ctx) => {
    const current = await deps.requireRecentSession(ctx);
    if (current) await renderStatus(ctx, current);
  });

  router.post('/mfa/setup', async (ctx) => {
    const current = await deps.requireRecentSubmission(ctx, csrfOnlyForm, mfaPage);
    if (!current) return;
    if (await mfa.isEnrolled(current.session.sub)) return ctx.redirect(mfaPage);
    return renderEnroll(ctx, current);
  });

  router.post('/mfa/confirm', async (ctx) => {
    const current = await deps.requireRecentSubmission(ctx, codeForm, mfaPage);
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
    renderCodes(ctx, current, 'Your recovery codes', codes, true);
  });

  router.post('/mfa/recovery-codes', async (ctx) => {
    const current = await deps.requireRecentSubmission(ctx, csrfOnlyForm, mfaPage);
    if (!current) return;
    const codes = await mfa.regenerateRecoveryCodes(current.session.sub);
    await audit.record('mfa.recovery_codes_regenerated', { accountId: current.session.sub, ip: ctx.ip });
    renderCodes(ctx, current, 'Your new recovery codes', codes, false);
  });

  router.post('/mfa/remove', async (ctx) => {
    const current = await deps.requireRecentSubmission(ctx, csrfOnlyForm, mfaPage);
    if (!current) return;
    const accountId = current.session.sub;
    // A role that requires a second factor would only ask for a new one at the next sign-in: keep this one.
    if (await mfa.isRequired(accountId, undefined)) {
      ctx.status = 409;
      return renderStatus(ctx, current, {
        error: 'A role of your account requires two-step verification, so it cannot be turned off.',
      });
    }
    if (await mfa.reset(accountId))
      await audit.record('mfa.removed', {
        accountId,
        actor: accountActor(accountId),
        ip: ctx.ip,
        details: { during: 'account page' },
      });
    return renderStatus(ctx, current, { notice: 'Two-step verification is off.' });
  });
}
