import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors/app-error.ts';
import { TooManyAttempts } from '../../errors/too-many-attempts.ts';
import { describeDuration } from '../../libraries/email-tokens.ts';
import type { RequestThrottles } from '../../libraries/request-throttles.ts';
import type { SignUpLibrary } from '../../libraries/sign-up.ts';
import { throttleKeys } from '../../vocabulary/throttle-keys.ts';
import { textField } from '../forms.ts';
import type { Interaction, InteractionKit } from './interaction-kit.ts';

export interface SignUpDeps {
  signUp: SignUpLibrary;
  throttles: RequestThrottles;
  /** How long a confirmation link stays valid (the page says it). */
  tokenSeconds: number;
  /** The password rules' minimum for an account without a second factor (the form says it). */
  minLength: number;
}

const signUpForm = z.object({
  csrf: textField(100),
  email: textField(320),
  // Longer than a name may be, so that the library's check names the field (200 characters at most).
  name: textField(1000).optional(),
  new_password: textField(1024),
});

/** The kits whose router has the step: their login page links to it (no link when sign-up is off). */
const withStep = new WeakSet<InteractionKit>();

/** Where the login page's "Create an account" link goes, or undefined when sign-up is off. */
export function signUpUrl(kit: InteractionKit, interaction: Interaction): string | undefined {
  return withStep.has(kit) ? kit.url(interaction, 'sign-up') : undefined;
}

/**
 * "Create an account" from the login page, inside the interaction (`signUp.enabled`): the confirmation link that is
 * mailed sends the browser back to this sign-in page, so the person lands in the application they came from.
 *
 * The form is checked on its own (address shape, name, password rules), then every request is answered with the
 * same page, at once, whether or not the address has an account: the lookup, the password hash and the mail happen
 * after the answer (`SignUpLibrary.request`). Every request counts on two throttles, per typed address and per
 * client address.
 */
export function registerSignUpStep(router: Router, kit: InteractionKit, deps: SignUpDeps): void {
  if (!deps.signUp.enabled) return;
  withStep.add(kit);

  function render(
    ctx: Context,
    interaction: Interaction,
    form: { email?: string; name?: string | undefined; error?: string; field?: string } = {},
  ) {
    ctx.type = 'html';
    ctx.body = kit.deps.pages.render('sign-up', {
      title: 'Create an account',
      csrf: kit.csrfFor(interaction),
      action: kit.url(interaction, 'sign-up'),
      backUrl: kit.url(interaction),
      email: form.email ?? '',
      name: form.name ?? '',
      minLength: deps.minLength,
      error: form.error,
      field: form.field,
    });
  }

  router.get('/sign-up', async (ctx) => {
    const interaction = await kit.load(ctx);
    if (!interaction) return;
    if (interaction.prompt.name !== 'login') return ctx.redirect(kit.url(interaction));
    render(ctx, interaction);
  });

  router.post('/sign-up', async (ctx) => {
    const submitted = await kit.submission(ctx, signUpForm, 'login');
    if (!submitted) return;
    const { interaction, form } = submitted;
    const entered = { email: form.email.trim(), name: form.name, password: form.new_password };
    try {
      deps.signUp.checkForm(entered);
    } catch (error) {
      if (!(error instanceof AppError) || error.status !== 400) throw error;
      ctx.status = 400;
      return render(ctx, interaction, {
        email: entered.email,
        name: entered.name,
        error: `${error.message}.`,
        field: error.field,
      });
    }
    try {
      await deps.throttles.count(throttleKeys.signUpEmail(entered.email), ctx.ip);
    } catch (error) {
      if (!(error instanceof TooManyAttempts)) throw error;
      ctx.status = 429;
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      return render(ctx, interaction, {
        email: entered.email,
        name: entered.name,
        error: `Too many sign-up requests. Try again in ${describeDuration(error.retryAfterSeconds)}.`,
      });
    }
    // After the answer, for every address alike (see above): the library logs its own failures, never throws.
    void deps.signUp.request(entered, { ip: ctx.ip, returnTo: kit.url(interaction) });
    ctx.type = 'html';
    ctx.body = kit.deps.pages.render('sign-up-sent', {
      title: 'Check your email',
      email: entered.email,
      validFor: describeDuration(deps.tokenSeconds),
      backUrl: kit.url(interaction),
    });
  });
}
