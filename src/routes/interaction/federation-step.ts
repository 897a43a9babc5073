import type Router from '@koa/router';
import type { Context } from 'koa';
import { createBrowserBinding, hashBinding } from '../../libraries/browser-binding.ts';
import { UpstreamError } from '../../errors/upstream-error.ts';
import type { UpstreamProfile } from '../../libraries/upstream-sign-in.ts';
import { federationRedirectUri } from '../../libraries/identity-providers.ts';
import { csrfOnlyForm } from '../forms.ts';
import type { FederationDeps, InteractionKit } from './interaction-kit.ts';
import { renderLogin } from './login-step.ts';
import { storeKeys } from '../../vocabulary/store-keys.ts';
import { federationBrowserCookieName } from '../../vocabulary/cookie-names.ts';

/** A round trip to an upstream in progress, kept server-side under its `state` (single use). */
export interface PendingFederation {
  uid: string;
  clientId: string;
  idp: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Hash of the browser's federation cookie: only the browser that started the round trip may complete it. */
  browser: string;
}

/** What came back from the upstream, for the interaction that started the round trip. */
export type FederationOutcome = { idp: string; profile: UpstreamProfile } | { idp: string; error: string };

export const pendingKey = storeKeys.federationPending;
export const outcomeKey = storeKeys.federationOutcome;
const roundTripSeconds = 600;

/**
 * The cookie binding an upstream round trip to the browser that started it. With an https issuer it carries the
 * `__Host-` prefix (Secure, no Domain, path /), so a sibling subdomain cannot plant a value of its own (cookie
 * tossing) and pass another browser's callback off as this one's.
 */
export function federationBrowserCookie(issuer: string) {
  const secure = issuer.startsWith('https:');
  return {
    name: federationBrowserCookieName(secure),
    options: { httpOnly: true, sameSite: 'lax' as const, secure, path: '/', overwrite: true },
  };
}

/**
 * This browser's federation binding: the value its cookie already holds (so round trips in two tabs both work),
 * or a new one. Returns the hash to keep in the pending record.
 */
function bindBrowser(ctx: Context, issuer: string): string {
  const cookie = federationBrowserCookie(issuer);
  const existing = ctx.cookies.get(cookie.name);
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) {
    ctx.cookies.set(cookie.name, existing, { ...cookie.options, maxAge: roundTripSeconds * 1000 });
    return hashBinding(existing);
  }
  const binding = createBrowserBinding();
  ctx.cookies.set(cookie.name, binding.value, { ...cookie.options, maxAge: roundTripSeconds * 1000 });
  return binding.hash;
}

/**
 * "Continue with <name>": starts the upstream round trip (`state`, `nonce`, PKCE, bound to this interaction), and
 * finishes it once the callback has brought the upstream's answer back into the interaction (whose cookie only
 * this browser has).
 */
export function registerFederationStep(
  router: Router,
  kit: InteractionKit,
  federation: FederationDeps,
): void {
  const { store } = kit.deps;

  router.post('/federation/:idp', async (ctx) => {
    const submitted = await kit.submission(ctx, csrfOnlyForm);
    if (!submitted) return;
    const { interaction } = submitted;
    const provider = await federation.identityProviders.credentials(ctx.params.idp!);
    if (!provider)
      return renderLogin(kit, ctx, interaction, {
        error: 'That sign-in method is not available. Use another one.',
      });
    const request = federation.upstream.newRequest();
    const pending: PendingFederation = {
      uid: interaction.uid,
      clientId: String(interaction.params.client_id),
      idp: provider.id,
      ...request,
      browser: bindBrowser(ctx, federation.issuer),
    };
    try {
      const url = await federation.upstream.authorizationUrl(
        provider,
        request,
        federationRedirectUri(federation.issuer, provider.id),
        { freshSignIn: interaction.prompt.reasons.some((r) => r === 'login_prompt' || r === 'max_age') },
      );
      await store.set(pendingKey(request.state), JSON.stringify(pending), roundTripSeconds);
      ctx.status = 303;
      ctx.redirect(url.href);
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      return renderLogin(kit, ctx, interaction, {
        error: `${provider.name} cannot be reached right now. Try again, or sign in another way.`,
      });
    }
  });

  router.get('/federation/done', async (ctx) => {
    const interaction = await kit.load(ctx);
    if (!interaction) return;
    const stored = await store.take(outcomeKey(interaction.uid));
    if (!stored || interaction.prompt.name !== 'login') return ctx.redirect(kit.url(interaction));
    const outcome = JSON.parse(stored) as FederationOutcome;
    if ('error' in outcome) return renderLogin(kit, ctx, interaction, { error: outcome.error });

    const provider = await federation.identityProviders.get(outcome.idp);
    const resolution = await federation.federation.resolve(provider, outcome.profile);
    switch (resolution.kind) {
      case 'refused':
        return renderLogin(kit, ctx, interaction, { error: resolution.reason });
      case 'confirm-link':
        await kit.linkOffers.set(interaction.uid, {
          accountId: resolution.accountId,
          idpId: provider.id,
          profile: outcome.profile,
        });
        return renderLogin(kit, ctx, interaction, {
          email: resolution.email,
          notice: `You already have an account with ${resolution.email}. Sign in with your password once to link it to ${provider.name}.`,
        });
      case 'signed-in':
        return kit.completeFirstFactor(ctx, interaction, {
          accountId: resolution.accountId,
          remember: false,
          firstFactor: 'fed',
          idp: provider.id,
        });
    }
  });
}
