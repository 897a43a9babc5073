import Router from '@koa/router';
import { errors } from 'oidc-provider';
import {
  grantAndFinish,
  registerConsentStep,
  renderConsent,
  renderDeviceConfirmation,
} from './consent-step.ts';
import { isFirstParty } from './interaction-helpers.ts';
import { createInteractionKit, type Interaction, type InteractionDeps } from './interaction-kit.ts';
import { registerLoginStep, renderLogin } from './login-step.ts';
import { registerFederationStep } from './federation-step.ts';
import { registerSecondFactorStep } from './second-factor-step.ts';

export type { InteractionDeps } from './interaction-kit.ts';

/** Reasons of the login prompt that only a second factor answers (see src/oidc/interaction-policy.ts). */
export const stepUpReasons: ReadonlySet<string> = new Set(['mfa_requested', 'mfa_policy']);

function needsOnlySecondFactor(interaction: Interaction): boolean {
  return (
    !!interaction.session?.accountId &&
    interaction.prompt.reasons.length > 0 &&
    interaction.prompt.reasons.every((reason) => stepUpReasons.has(reason))
  );
}

/**
 * The pages oidc-provider sends people to when it needs them (its interaction policy decides which prompt comes
 * next): password, second factor, consent. The protocol resumes at oidc-provider once a prompt is answered.
 */
export function createInteractionRouter(deps: InteractionDeps): Router {
  const kit = createInteractionKit(deps);
  const router = new Router({ prefix: '/interaction/:uid' });

  router.get('/', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const interaction = await kit.load(ctx);
    if (!interaction) return;
    switch (interaction.prompt.name) {
      case 'login':
        if (needsOnlySecondFactor(interaction)) {
          await kit.state.set(interaction.uid, {
            accountId: interaction.session!.accountId!,
            remember: true,
            stepUp: true,
          });
          ctx.status = 303;
          return ctx.redirect(kit.url(interaction, 'mfa'));
        }
        return renderLogin(kit, ctx, interaction);
      case 'consent': {
        if ((interaction as unknown as { deviceCode?: string }).deviceCode)
          return renderDeviceConfirmation(kit, ctx, interaction);
        const client = await deps.provider().Client.find(String(interaction.params.client_id));
        if (client && isFirstParty(client)) return grantAndFinish(kit, ctx, interaction);
        return renderConsent(kit, ctx, interaction);
      }
      default:
        throw new errors.InvalidRequest(`unsupported interaction prompt ${interaction.prompt.name}`);
    }
  });

  registerLoginStep(router, kit);
  registerSecondFactorStep(router, kit);
  registerConsentStep(router, kit);
  if (deps.federation) registerFederationStep(router, kit, deps.federation);
  return router;
}
