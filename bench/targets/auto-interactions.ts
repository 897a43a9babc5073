import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Provider } from 'oidc-provider';

/**
 * The bare provider's interaction pages, for the bench only: every prompt is answered at once, without a page.
 * Login signs in the fixed account; consent grants what the client asked for (as Gatehouse does for first-party
 * clients, src/routes/interaction/interaction-helpers.ts). This is what lets the bench obtain refresh tokens and
 * run the sign-in flow against the baseline; it has no password step, so no argon2.
 */
export function createAutoInteractions(provider: Provider, accountId: string) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const interaction = await provider.interactionDetails(req, res);
    if (interaction.prompt.name === 'login') {
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId, amr: ['pwd'], ts: Math.floor(Date.now() / 1000) } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const details = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant =
      (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ??
      new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
    if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    await provider.interactionFinished(
      req,
      res,
      { consent: { grantId: await grant.save() } },
      { mergeWithLastSubmission: true },
    );
  };
}
