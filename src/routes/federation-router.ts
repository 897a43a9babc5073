import Router from '@koa/router';
import type { IdentityProviderLibrary } from '../libraries/identity-providers.ts';
import { federationRedirectUri } from '../libraries/identity-providers.ts';
import type { PageRenderer } from '../libraries/page-renderer.ts';
import { UpstreamError, type UpstreamSignIn } from '../libraries/upstream-sign-in.ts';
import type { KeyValueStore } from '../storage/hot-state.ts';
import { interactionUrl } from './interaction/interaction-helpers.ts';
import {
  outcomeKey,
  pendingKey,
  type FederationOutcome,
  type PendingFederation,
} from './interaction/federation-step.ts';

const outcomeSeconds = 600;

const failureMessages: Record<string, (name: string) => string> = {
  denied: (name) => `You did not allow ${name} to sign you in. Sign in another way, or try again.`,
  unreachable: (name) => `${name} did not answer. Try again in a moment, or sign in another way.`,
  rejected: (name) => `${name} could not sign you in. Try again, or sign in another way.`,
};

/**
 * `<ISSUER>/federation/<id>/callback`, where upstreams send the browser back. Its `state` must be one Gatehouse
 * issued, for this upstream, not used before (taking it deletes it, so a replay finds nothing). The code is
 * exchanged here; the result goes back to the interaction that started the round trip.
 */
export function createFederationRouter(deps: {
  issuer: string;
  identityProviders: IdentityProviderLibrary;
  upstream: UpstreamSignIn;
  store: KeyValueStore;
  pages: PageRenderer;
}): Router {
  const router = new Router();

  router.get('/federation/:idp/callback', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const state =
      typeof ctx.query.state === 'string' && ctx.query.state.length <= 200 ? ctx.query.state : undefined;
    const stored = state ? await deps.store.take(pendingKey(state)) : undefined;
    const pending = stored ? (JSON.parse(stored) as PendingFederation) : undefined;
    if (!pending || pending.idp !== ctx.params.idp) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = deps.pages.render('error', {
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
