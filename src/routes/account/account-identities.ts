import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors/app-error.ts';
import type { AccountLibrary } from '../../libraries/accounts.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { Federation } from '../../libraries/federation.ts';
import type { IdentityProviderLibrary } from '../../libraries/identity-providers.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import { csrfOnlyForm } from '../forms.ts';
import {
  accountCsrfBinding,
  type AccountPageGuard,
  type CurrentAccountSession,
  signedInAgainNoticeFor,
} from './account-session.ts';

export interface AccountIdentitiesDeps extends AccountPageGuard {
  accounts: AccountLibrary;
  federation: Federation;
  identityProviders: IdentityProviderLibrary;
  pages: PageRenderer;
  csrf: CsrfTokens;
}

/**
 * Linked upstream identities on the account page, each removable unless it is the last way to sign in. A linked
 * identity is a way in to the account: the page and a removal take a recent sign-in.
 */
export function registerAccountIdentities(router: Router, deps: AccountIdentitiesDeps): void {
  async function render(ctx: Context, current: CurrentAccountSession, error?: string) {
    ctx.type = 'html';
    ctx.body = deps.pages.render('account-identities', {
      title: 'Linked accounts',
      identities: await deps.federation.linksOf(current.session.sub, await deps.identityProviders.list()),
      csrf: deps.csrf.tokenFor(accountCsrfBinding(current.id)),
      notice: signedInAgainNoticeFor(ctx),
      error,
    });
  }

  router.get('/identities', async (ctx) => {
    const current = await deps.requireRecentSession(ctx);
    if (current) await render(ctx, current);
  });

  router.post('/identities/:idp/remove', async (ctx) => {
    const current = await deps.requireRecentSubmission(ctx, csrfOnlyForm, '/account/identities');
    if (!current) return;
    const account = await deps.accounts.get(current.session.sub);
    try {
      await deps.federation.unlink(account.id, ctx.params.idp!, account.hasPassword);
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      ctx.status = error.status;
      return render(ctx, current, error.message);
    }
    ctx.status = 303;
    ctx.redirect('/account/identities');
  });
}
