import Router from '@koa/router';
import { AppError } from '../../errors/app-error.ts';
import {
  grantAndFinish,
  registerConsentStep,
  renderConsent,
  renderDeviceConfirmation,
} from './consent-step.ts';
import { noStore } from '../forms.ts';
import { isFirstParty } from './interaction-helpers.ts';
import { createInteractionKit, type Interaction, type InteractionDeps } from './interaction-kit.ts';
import { registerLoginStep, renderLogin } from './login-step.ts';
import { registerFederationStep } from './federation-step.ts';
import { registerSecondFactorStep } from './second-factor-step.ts';
import { registerPasskeyStep } from './passkey-step.ts';
import { registerForgotPasswordStep, type ForgotPasswordDeps } from './forgot-password-step.ts';
import { registerSignUpStep, type SignUpDeps } from './sign-up-step.ts';
import { registerEmailCodeStep, type EmailCodeDeps } from './email-code-step.ts';
import { stepUpChecks } from '../../vocabulary/interaction-paths.ts';
import { deviceCodeOf } from '../../oidc/provider-internals.ts';

export type { InteractionDeps } from './interaction-kit.ts';

/** Reasons of the login prompt that only a second factor answers (see src/oidc/interaction-policy.ts). */
export const stepUpReasons: ReadonlySet<string> = new Set(Object.values(stepUpChecks));

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
export function createInteractionRouter(
  deps: InteractionDeps,
  /** "Forgot password?" (a step only when mail is on). */
  forgotPassword?: ForgotPasswordDeps,
  /** "Create an account" (a step only when `signUp.enabled` and mail is on). */
  signUp?: SignUpDeps,
  /** "Email me a sign-in code" (a step only when `emailCode.enabled` and mail is on). */
  emailCode?: EmailCodeDeps,
): Router {
  const kit = createInteractionKit(deps);
  const router = new Router({ prefix: '/interaction/:uid' });

  // Every interaction page shows or takes personal data and codes: the family's prelude, before any route.
  router.use(noStore);

  router.get('/', async (ctx) => {
    const interaction = await kit.load(ctx);
    if (!interaction) return;
    switch (interaction.prompt.name) {
      case 'login':
        if (
          needsOnlySecondFactor(interaction) &&
          (await deps.mfa.hasSecondFactor(interaction.session!.accountId!))
        ) {
          // Step-up: the session's account proves a factor it has. (An account without one signs in again in
          // full, password first, before it may enroll one.)
          const session = await deps.provider().Session.find(interaction.session!.cookie!);
          await kit.state.set(interaction.uid, {
            accountId: interaction.session!.accountId!,
            remember: !session?.transient,
            stepUp: true,
            session: { amr: interaction.session!.amr ?? [], loginTs: session?.loginTs },
          });
          ctx.status = 303;
          return ctx.redirect(kit.url(interaction, 'mfa'));
        }
        return renderLogin(kit, ctx, interaction);
      case 'consent': {
        if (deviceCodeOf(interaction)) return renderDeviceConfirmation(kit, ctx, interaction);
        const client = await deps.provider().Client.find(String(interaction.params.client_id));
        if (client && isFirstParty(client)) return grantAndFinish(kit, ctx, interaction);
        return renderConsent(kit, ctx, interaction);
      }
      default:
        // The interaction policy asked for a prompt Gatehouse has no page for: a bug, not the browser's doing.
        throw new AppError(
          'server_error',
          500,
          `no page for the interaction prompt ${interaction.prompt.name}`,
        );
    }
  });

  registerLoginStep(router, kit);
  registerSecondFactorStep(router, kit);
  registerPasskeyStep(router, kit);
  if (forgotPassword) registerForgotPasswordStep(router, kit, forgotPassword);
  if (signUp) registerSignUpStep(router, kit, signUp);
  if (emailCode) registerEmailCodeStep(router, kit, emailCode);
  registerConsentStep(router, kit);
  if (deps.federation) registerFederationStep(router, kit, deps.federation);
  return router;
}
