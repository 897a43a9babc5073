import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AccountLibrary } from '../../libraries/accounts.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { Federation } from '../../libraries/federation.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import { passkeyNameMaxLength, type PasskeyLibrary } from '../../libraries/passkeys.ts';
import { csrfOnlyForm, textField } from '../forms.ts';
import {
  accountActor,
  accountCsrfBinding,
  type AccountPageGuard,
  type CurrentAccountSession,
  signedInAgainNoticeFor,
} from './account-session.ts';

const passkeysPage = '/account/passkeys';
const addForm = z.object({
  csrf: textField(100),
  name: textField(passkeyNameMaxLength),
  credential: textField(16_000),
});
const renameForm = z.object({ csrf: textField(100), name: textField(passkeyNameMaxLength) });

export interface AccountPasskeysDeps extends AccountPageGuard {
  passkeys: PasskeyLibrary;
  accounts: AccountLibrary;
  federation: Federation;
  audit: AuditLog;
  pages: PageRenderer;
  csrf: CsrfTokens;
}

/** What a registration challenge of the account page is bound to: the account page session that showed it. */
const registrationBinding = (current: CurrentAccountSession) => `account:${current.id}:passkey`;

/**
 * Passkeys on the account page: list, add, rename, remove. A passkey is a way in to the account, so the page and
 * every change take a recent sign-in (`requireRecentSession`/`requireRecentSubmission`). The last way to sign in is
 * never removed: an account without a password or a linked identity keeps its last passkey.
 */
export function registerAccountPasskeys(router: Router, deps: AccountPasskeysDeps): void {
  const { passkeys, audit, pages, csrf } = deps;

  async function render(
    ctx: Context,
    current: CurrentAccountSession,
    extra: { notice?: string; error?: string } = {},
  ) {
    const account = current.session;
    ctx.type = 'html';
    ctx.body = pages.render('account-passkeys', {
      title: 'Passkeys',
      passkeys: await passkeys.list(account.sub),
      options: JSON.stringify(
        await passkeys.registrationOptions(
          { id: account.sub, email: account.email, name: account.name },
          registrationBinding(current),
        ),
      ),
      nameMaxLength: passkeyNameMaxLength,
      csrf: csrf.tokenFor(accountCsrfBinding(current.id)),
      notice: signedInAgainNoticeFor(ctx),
      ...extra,
    });
  }

  router.get('/passkeys', async (ctx) => {
    const current = await deps.requireRecentSession(ctx);
    if (current) await render(ctx, current);
  });

  router.post('/passkeys', async (ctx) => {
    const current = await deps.requireRecentSubmission(ctx, addForm, passkeysPage);
    if (!current) return;
    const accountId = current.session.sub;
    const outcome = await passkeys.register(
      accountId,
      registrationBinding(current),
      current.form.credential,
      current.form.name,
    );
    if (outcome.kind === 'refused') {
      ctx.status = 400;
      return render(ctx, current, { error: outcome.reason });
    }
    await audit.record('passkey.registered', {
      accountId,
      actor: accountActor(accountId),
      ip: ctx.ip,
      details: { passkey: outcome.value.id, name: outcome.value.name, synced: outcome.value.synced },
    });
    return render(ctx, current, { notice: `Passkey "${outcome.value.name}" added.` });
  });

  router.post('/passkeys/:id/rename', async (ctx) => {
    const current = await deps.requireRecentSubmission(ctx, renameForm, passkeysPage);
    if (!current) return;
    const accountId = current.session.sub;
    await passkeys.rename(accountId, ctx.params.id!, current.form.name);
    await audit.record('passkey.renamed', {
      accountId,
      actor: accountActor(accountId),
      ip: ctx.ip,
      details: { passkey: ctx.params.id, name: current.form.name.trim() },
    });
    ctx.status = 303;
    ctx.redirect(passkeysPage);
  });

  router.post('/passkeys/:id/remove', async (ctx) => {
    const current = await deps.requireRecentSubmission(ctx, csrfOnlyForm, passkeysPage);
    if (!current) return;
    const account = await deps.accounts.get(current.session.sub);
    const otherWays = account.hasPassword || (await deps.federation.linksOf(account.id, [])).length > 0;
    const outcome = await passkeys.remove(account.id, ctx.params.id!, otherWays);
    if (outcome.kind === 'refused') {
      ctx.status = 409;
      return render(ctx, current, { error: outcome.reason });
    }
    await audit.record('passkey.removed', {
      accountId: account.id,
      actor: accountActor(account.id),
      ip: ctx.ip,
      details: { passkey: ctx.params.id, during: 'account page' },
    });
    return render(ctx, current, { notice: 'The passkey was removed.' });
  });
}
