import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors/app-error.ts';
import { TooManyAttempts } from '../../errors/too-many-attempts.ts';
import { normaliseEmail } from '../../libraries/accounts.ts';
import type { AttemptThrottle } from '../../libraries/attempt-throttle.ts';
import { describeDuration } from '../../libraries/email-tokens.ts';
import type { EmailCodeLibrary } from '../../libraries/email-codes.ts';
import type { RequestThrottles } from '../../libraries/request-throttles.ts';
import { throttleKeys } from '../../vocabulary/throttle-keys.ts';
import { createAttemptGuard } from '../attempt-guard.ts';
import { textField } from '../forms.ts';
import type { Interaction, InteractionKit } from './interaction-kit.ts';
import { renderLogin } from './login-step.ts';
import { offerEmailCodes } from './email-code-offer.ts';

export interface EmailCodeDeps {
  codes: EmailCodeLibrary;
  /** Asking for a code: per typed address and per client address, every request counts. */
  requests: RequestThrottles;
  /** Wrong codes per typed address (known or not). */
  guesses: AttemptThrottle;
}

/** The login form, posted to this step by its "Email me a sign-in code" button (the password is ignored). */
const askForm = z.object({
  csrf: textField(100),
  email: textField(320),
  password: textField(1024).optional(),
  remember: z.literal('yes').optional(),
});
const codeForm = z.object({ csrf: textField(100), code: textField(64) });

/**
 * Signing in with a one-time code by email, instead of the password: "Email me a sign-in code" on the login page
 * (`emailCode.enabled`). The answer is the same page for every address (a code is mailed only to an active
 * account's, after the answer); the code is bound to this sign-in, works once, and guesses count per address and
 * per IP like passwords. A right code is a first factor (`amr` `email`): an account with a second factor is asked
 * for it next, as after a password.
 */
export function registerEmailCodeStep(router: Router, kit: InteractionKit, deps: EmailCodeDeps): void {
  offerEmailCodes(kit, deps.codes);
  const { audit, throttles, pages } = kit.deps;
  const guard = createAttemptGuard({
    audit,
    perAccount: deps.guesses,
    perIp: throttles.passwordPerIp,
    events: { failed: 'signin.failed', locked: 'signin.locked' },
  });

  async function renderCode(ctx: Context, interaction: Interaction, email: string, error?: string) {
    ctx.type = 'html';
    ctx.body = pages.render('email-code', {
      title: 'Check your email',
      clientName: await kit.clientName(interaction),
      email,
      validFor: deps.codes.validFor,
      error,
      csrf: kit.csrfFor(interaction),
      action: kit.url(interaction, 'email-code/verify'),
      backUrl: kit.url(interaction),
    });
  }

  /** The interaction of a request to this step, if its client is offered codes (else a 404, as if absent). */
  function offered(ctx: Context, interaction: Interaction): boolean {
    if (deps.codes.offeredTo(String(interaction.params.client_id))) return true;
    ctx.status = 404;
    ctx.body = { error: 'not_found' };
    return false;
  }

  router.post('/email-code', async (ctx) => {
    const submitted = await kit.submission(ctx, askForm, 'login');
    if (!submitted) return;
    const { interaction, form } = submitted;
    if (!offered(ctx, interaction)) return;
    const remember = form.remember === 'yes';
    let email;
    try {
      email = normaliseEmail(form.email);
      await deps.requests.count(throttleKeys.emailCodeRequest(email), ctx.ip);
    } catch (error) {
      if (error instanceof TooManyAttempts) {
        ctx.status = 429;
        ctx.set('Retry-After', String(error.retryAfterSeconds));
        return renderLogin(kit, ctx, interaction, {
          email: form.email,
          remember,
          error: `Too many requests for a code. Try again in ${describeDuration(error.retryAfterSeconds)}.`,
        });
      }
      if (error instanceof AppError && error.status === 400) {
        ctx.status = 400;
        return renderLogin(kit, ctx, interaction, {
          email: form.email,
          remember,
          error: 'Enter your email address to get a code.',
        });
      }
      throw error;
    }
    const { deliver } = await deps.codes.issue(interaction.uid, email, remember);
    // After the answer, for every address alike: the page does not tell whether the address has an account.
    void deliver();
    await renderCode(ctx, interaction, email);
  });

  router.get('/email-code', async (ctx) => {
    const interaction = await kit.load(ctx);
    if (!interaction) return;
    const email = await deps.codes.pendingEmail(interaction.uid);
    if (!email || interaction.prompt.name !== 'login') return ctx.redirect(kit.url(interaction));
    await renderCode(ctx, interaction, email);
  });

  router.post('/email-code/verify', async (ctx) => {
    const submitted = await kit.submission(ctx, codeForm, 'login');
    if (!submitted) return;
    const { interaction, form } = submitted;
    if (!offered(ctx, interaction)) return;
    const email = await deps.codes.pendingEmail(interaction.uid);
    if (!email)
      return renderLogin(kit, ctx, interaction, {
        error: 'That code expired or was already used. Ask for a new one.',
      });
    const keys = { account: [throttleKeys.emailCodeGuess(email)], ip: [throttleKeys.ip(ctx.ip)] };
    const refused = await guard.admit(ctx, keys);
    if (refused) return renderCode(ctx, interaction, email, refused.message);
    const checked = await deps.codes.check(interaction.uid, form.code);
    if (checked.kind === 'right') {
      await guard.succeeded(keys);
      return kit.completeFirstFactor(ctx, interaction, {
        accountId: checked.accountId,
        remember: checked.remember,
        firstFactor: 'email',
      });
    }
    await guard.failed(keys, {
      ...(checked.kind === 'wrong' && checked.accountId ? { accountId: checked.accountId } : {}),
      clientId: String(interaction.params.client_id),
      ip: ctx.ip,
      details: { reason: 'wrong sign-in code' },
    });
    ctx.status = 400;
    await renderCode(ctx, interaction, email, 'That code is not right. Check the latest message we sent.');
  });
}
