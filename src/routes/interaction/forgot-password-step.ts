import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { TooManyAttempts } from '../../errors/too-many-attempts.ts';
import { describeDuration } from '../../libraries/email-tokens.ts';
import type { PasswordResetLibrary, PasswordResetThrottles } from '../../libraries/password-reset.ts';
import { throttleKeys } from '../../vocabulary/throttle-keys.ts';
import { textField } from '../forms.ts';
import type { Interaction, InteractionKit } from './interaction-kit.ts';

export interface ForgotPasswordDeps {
  passwordReset: PasswordResetLibrary;
  throttles: PasswordResetThrottles;
  /** How long a reset link stays valid (the page says it). */
  tokenSeconds: number;
}

const forgotForm = z.object({ csrf: textField(100), email: textField(320) });

/** The kits whose router has the step: their login page links to it (no link when mail is off). */
const withStep = new WeakSet<InteractionKit>();

/** Where the login page's "Forgot password?" link goes, or undefined when there is no such step (mail is off). */
export function forgotPasswordUrl(kit: InteractionKit, interaction: Interaction): string | undefined {
  return withStep.has(kit) ? kit.url(interaction, 'forgot') : undefined;
}

/**
 * "Forgot password?" from the login page, inside the interaction: the link that is mailed sends the browser back to
 * this sign-in page after the reset, so the person lands in the application they came from.
 *
 * Every request is answered with the same page, at once, whether or not the address has an account: the lookup,
 * the token and the mail happen after the answer (`PasswordResetLibrary.request`). Every request counts on two
 * throttles, per typed address and per client address, so nobody can flood a mailbox or probe addresses at speed.
 */
export function registerForgotPasswordStep(
  router: Router,
  kit: InteractionKit,
  deps: ForgotPasswordDeps,
): void {
  if (!deps.passwordReset.enabled) return;
  withStep.add(kit);

  function render(ctx: Context, interaction: Interaction, form: { email?: string; error?: string } = {}) {
    ctx.type = 'html';
    ctx.body = kit.deps.pages.render('forgot-password', {
      title: 'Forgot your password?',
      csrf: kit.csrfFor(interaction),
      action: kit.url(interaction, 'forgot'),
      backUrl: kit.url(interaction),
      email: form.email ?? '',
      error: form.error,
    });
  }

  router.get('/forgot', async (ctx) => {
    const interaction = await kit.load(ctx);
    if (!interaction) return;
    if (interaction.prompt.name !== 'login') return ctx.redirect(kit.url(interaction));
    render(ctx, interaction);
  });

  router.post('/forgot', async (ctx) => {
    const submitted = await kit.submission(ctx, forgotForm, 'login');
    if (!submitted) return;
    const { interaction, form } = submitted;
    const email = form.email.trim();
    try {
      await deps.throttles.count(throttleKeys.passwordResetEmail(email), ctx.ip);
    } catch (error) {
      if (!(error instanceof TooManyAttempts)) throw error;
      ctx.status = 429;
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      return render(ctx, interaction, {
        email,
        error: `Too many requests for a reset link. Try again in ${describeDuration(error.retryAfterSeconds)}.`,
      });
    }
    // After the answer, for every address alike (see above): the library logs its own failures, never throws.
    void deps.passwordReset.request(email, { ip: ctx.ip, returnTo: kit.url(interaction) });
    ctx.type = 'html';
    ctx.body = kit.deps.pages.render('forgot-password-sent', {
      title: 'Check your email',
      validFor: describeDuration(deps.tokenSeconds),
      backUrl: kit.url(interaction),
    });
  });
}
