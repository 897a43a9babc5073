import Router from '@koa/router';
import type { IdentityProviderLibrary } from '../libraries/identity-providers.ts';
import { federationRedirectUri } from '../libraries/identity-providers.ts';
import type { PageRenderer } from '../libraries/page-renderer.ts';
import { UpstreamError } from '../errors/upstream-error.ts';
import type { UpstreamSignIn } from '../libraries/upstream-sign-in.ts';
import type { KeyValueStore } from '../storage/hot-state.ts';
import { isSameBrowser } from '../libraries/browser-binding.ts';
import type { AuditLog } from '../libraries/audit.ts';
import { interactionUrl } from '../vocabulary/interaction-paths.ts';
import {
  federationBrowserCookie,
  outcomeKey,
  pendingKey,
  type FederationOutcome,
  type PendingFederation,
} from './interaction/federation-step.ts';
import { showErrorPage } from '../middleware/error-page.ts';

const outcomeSeconds = 600;

const failureMessages: Record<string, (name: string) => string> = {
  denied: (name) => `You did not allow ${name} to sign you in. Sign in another way, or try again.`,
  unreachable: (name) => `${name} did not answer. Try again in a moment, or sign in another way.`,
  rejected: (name) => `${name} could not sign you in. Try again, or sign in another way.`,
};

/**
 * `<ISSUER>/federation/<id>/callback`, where upstreams send the browser back. Its `state` must be one Gatehouse
 * issued, for this upstream, not used before (taking it deletes it, so a replay finds nothing), and the request
 * must come from the browser that started the round trip (its federation cookie). The code is exchanged here; the
 * result goes back to the interaction that started the round trip.
 *
 * Without the browser check, an attacker could start "Continue with X", send the upstream link to a victim signed
 * in at X, and then finish the interaction in their own browser as the victim. A callback from another browser
 * therefore burns the round trip: it is taken, never completed, and nothing is stored for anyone to pick up.
 */
export function createFederationRouter(deps: {
  issuer: string;
  identityProviders: IdentityProviderLibrary;
  upstream: UpstreamSignIn;
  store: KeyValueStore;
  pages: PageRenderer;
  audit: AuditLog;
}): Router {
  const router = new Router();

  router.get('/federation/:idp/callback', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const state =
      typeof ctx.query.state === 'string' && ctx.query.state.length <= 200 ? ctx.query.state : undefined;
    const stored = state ? await deps.store.take(pendingKey(state)) : undefined;
    const pending = stored ? (JSON.parse(stored) as PendingFederation) : undefined;
    const cookie = federationBrowserCookie(deps.issuer);
    if (pending && !isSameBrowser(pending.browser, ctx.cookies.get(cookie.name))) {
      await deps.audit.record('federation.callback_refused', {
        ip: ctx.ip,
        clientId: pending.clientId,
        details: { idp: pending.idp, reason: 'another browser' },
      });
      showErrorPage(ctx, deps.pages, {
        title: 'This sign-in was started in another browser',
        message:
          'For your safety, a sign-in can only be finished in the browser where it began. Nothing was signed in. If you were not trying to sign in, someone may have sent you this link: you can ignore it.',
      });
      return;
    }
    if (!pending || pending.idp !== ctx.params.idp) {
      showErrorPage(ctx, deps.pages, {
        title: 'This sign-in link is not valid',
        message:
          'It was already used, has expired, or was not started here. Go back to the application and sign in again.',
      });
      return;
    }
    const provider = await deps.identityProviders.credentials(pending.idp);
    let outcome: FederationOutcome;
    if (!provider) {
      outcome = { idp: pending.idp, error: 'That sign-in method is no longer available. Use another one.' };
    } else {
      try {
        const callback = new URL(`${federationRedirectUri(deps.issuer, provider.id)}?${ctx.querystring}`);
        outcome = { idp: provider.id, profile: await deps.upstream.complete(provider, callback, pending) };
      } catch (error) {
        if (!(error instanceof UpstreamError)) throw error;
        ctx.state.log.warn(
          {
            idp: provider.id,
            failure: error.kind,
            err: { message: (error.cause as Error | undefined)?.message ?? error.message },
          },
          'upstream sign-in failed',
        );
        outcome = { idp: provider.id, error: failureMessages[error.kind]!(provider.name) };
      }
    }
    await deps.store.set(outcomeKey(pending.uid), JSON.stringify(outcome), outcomeSeconds);
    ctx.status = 303;
    ctx.redirect(
      interactionUrl({ uid: pending.uid, params: { client_id: pending.clientId } }, 'federation/done'),
    );
  });

  return router;
}
