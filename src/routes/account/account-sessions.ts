import type Router from '@koa/router';
import type { Context } from 'koa';
import { UAParser } from 'ua-parser-js';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import type { SessionManagement } from '../../libraries/session-management.ts';
import { csrfOnlyForm } from '../forms.ts';
import { accountActor, accountCsrfBinding, type AccountPageGuard } from './account-session.ts';

export interface AccountSessionsDeps extends AccountPageGuard {
  sessions: SessionManagement;
  pages: PageRenderer;
  csrf: CsrfTokens;
  clientName(clientId: string): Promise<string>;
  /** The Gatehouse sign-in session of this browser, to mark it in the list. */
  browserSessionId(ctx: Context): string | undefined;
}

/**
 * A short device description from a user agent string, for people (not a fingerprint): "Chrome 131 on Linux",
 * "Mobile Safari 17 on iOS (iPhone)". The browser's major version only, and the system's name without its version
 * (browsers freeze it: every Mac reports 10.15.7). ua-parser-js is imported here only.
 */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const { browser, os, device } = UAParser(userAgent);
  if (!browser.name && !os.name) return 'Unknown device';
  const browserName = browser.name ? `${browser.name}${browser.major ? ` ${browser.major}` : ''}` : 'Browser';
  const model =
    device.model && (device.type === 'mobile' || device.type === 'tablet') ? ` (${device.model})` : '';
  return `${browserName} on ${os.name ?? 'an unknown system'}${model}`;
}

const othersSignedOutQuery = 'others_signed_out';

/** Active sessions (device, address, last seen) and granted apps, each revocable, on the account page. */
export function registerAccountSessions(router: Router, deps: AccountSessionsDeps): void {
  router.get('/sessions', async (ctx) => {
    const current = await deps.requireSession(ctx);
    if (!current) return;
    const accountId = current.session.sub;
    const browserSession = deps.browserSessionId(ctx);
    const sessions = await deps.sessions.listSessions(accountId);
    const grants = await deps.sessions.listGrants(accountId);
    ctx.type = 'html';
    ctx.body = deps.pages.render('account-sessions', {
      title: 'Sessions and apps',
      notice: ctx.query[othersSignedOutQuery] === '1' ? 'Your other sessions were signed out.' : undefined,
      csrf: deps.csrf.tokenFor(accountCsrfBinding(current.id)),
      sessions: await Promise.all(
        sessions.map(async (session) => ({
          id: session.id,
          device: describeDevice(session.userAgent),
          ip: session.ip,
          lastSeen: session.lastSeenAt.replace('T', ' ').slice(0, 16) + ' UTC',
          clients: await Promise.all(session.clients.map((clientId) => deps.clientName(clientId))),
          current: session.id === browserSession,
        })),
      ),
      apps: await Promise.all(
        grants.map(async (grant) => ({ ...grant, name: await deps.clientName(grant.clientId) })),
      ),
    });
  });

  router.post('/sessions/:sessionId/revoke', async (ctx) => {
    const current = await deps.requireSubmission(ctx, csrfOnlyForm);
    if (!current) return;
    await deps.sessions.revokeSession(
      current.session.sub,
      ctx.params.sessionId!,
      accountActor(current.session.sub),
    );
    ctx.status = 303;
    ctx.redirect('/account/sessions');
  });

  /**
   * Every other session of the account ends, with the app access it holds and any held by none (offline); this
   * browser's session and its apps stay. Offered once a second factor is turned on: sessions signed in before
   * then (perhaps by someone who had only the password) do not have to wait for their end.
   */
  router.post('/sessions/sign-out-others', async (ctx) => {
    const current = await deps.requireSubmission(ctx, csrfOnlyForm);
    if (!current) return;
    const accountId = current.session.sub;
    await deps.sessions.signOutEverywhere(accountId, accountActor(accountId), {
      except: deps.browserSessionId(ctx),
      reason: 'other sessions signed out from the account page',
    });
    ctx.status = 303;
    ctx.redirect(`/account/sessions?${othersSignedOutQuery}=1`);
  });

  router.post('/apps/:grantId/revoke', async (ctx) => {
    const current = await deps.requireSubmission(ctx, csrfOnlyForm);
    if (!current) return;
    await deps.sessions.revokeGrant(
      current.session.sub,
      ctx.params.grantId!,
      accountActor(current.session.sub),
    );
    ctx.status = 303;
    ctx.redirect('/account/sessions');
  });
}
