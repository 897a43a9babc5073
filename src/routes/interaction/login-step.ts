import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { TooManyAttempts } from '../../libraries/attempt-throttle.ts';
import { assertCsrf, readForm, textField } from '../forms.ts';
import type { Interaction, InteractionKit } from './interaction-kit.ts';

const loginForm = z.object({
  csrf: textField(100),
  email: textField(320),
  password: textField(1024),
  remember: z.literal('yes').optional(),
});

export async function renderLogin(
  kit: InteractionKit,
  ctx: Context,
  interaction: Interaction,
  form: { email?: string; error?: string; notice?: string; remember?: boolean } = {},
): Promise<void> {
  const upstreams = (await kit.deps.federation?.identityProviders.listEnabled()) ?? [];
  ctx.type = 'html';
  ctx.body = kit.deps.pages.render('login', {
    title: 'Sign in',
    clientName: await kit.clientName(interaction),
    email:
      form.email ?? (typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : ''),
    error: form.error,
    notice: form.notice,
    remember: form.remember ?? false,
    csrf: kit.csrfFor(interaction),
    action: kit.url(interaction, 'login'),
    abortAction: kit.url(interaction, 'abort'),
    upstreams: upstreams.map((upstream) => ({
      name: upstream.name,
      action: kit.url(interaction, `federation/${upstream.id}`),
    })),
  });
}

/**
 * The password step. Failures count per email (known or not, so guessing at unknown addresses is limited the
 * same way and looks the same) and per IP address; a correct password leads to the second factor when the
 * account has one or a policy requires one.
 */
export function registerLoginStep(router: Router, kit: InteractionKit): void {
  const { accounts, audit, throttles } = kit.deps;

  router.post('/login', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const interaction = await kit.load(ctx);
    if (!interaction) return;
    const form = readForm(ctx, loginForm);
    assertCsrf(kit.deps.csrf, interaction.uid, form.csrf);
    if (interaction.prompt.name !== 'login') return ctx.redirect(kit.url(interaction));

    const clientId = String(interaction.params.client_id);
    const emailKey = `email:${form.email.trim().toLowerCase()}`;
    const ipKey = `ip:${ctx.ip}`;
    const remember = form.remember === 'yes';
    try {
      await throttles.passwordPerAccount.check([emailKey]);
      await throttles.passwordPerIp.check([ipKey]);
    } catch (error) {
      if (!(error instanceof TooManyAttempts)) throw error;
      ctx.status = 429;
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      return renderLogin(kit, ctx, interaction, { email: form.email, remember, error: error.message });
    }

    const account = await accounts.authenticate(form.email, form.password);
    if (!account) {
      const locked = [
        ...(await throttles.passwordPerAccount.fail([emailKey])),
        ...(await throttles.passwordPerIp.fail([ipKey])),
      ];
      const known = await accounts.findByEmail(form.email);
      await audit.record('signin.failed', {
        accountId: known?.id,
        clientId,
        ip: ctx.ip,
        details: { reason: 'wrong email or password' },
      });
      if (locked.length > 0)
        await audit.record('signin.locked', {
          accountId: known?.id,
          clientId,
          ip: ctx.ip,
          details: { keys: locked.map((key) => key.split(':')[0]) },
        });
      return renderLogin(kit, ctx, interaction, {
        email: form.email,
        remember,
        error: 'Wrong email or password.',
      });
    }
    await throttles.passwordPerAccount.succeed([emailKey]);

    // An upstream identity waiting for this account's password (link policy `confirm`) is linked when the
    // sign-in finishes, after the second factor if the account has one: a password alone links nothing.
    const offer = await kit.linkOffers.take(interaction.uid);
    const pendingLink =
      offer?.accountId === account.id ? { idpId: offer.idpId, profile: offer.profile } : undefined;
    return kit.completeFirstFactor(ctx, interaction, {
      accountId: account.id,
      remember,
      firstFactor: 'pwd',
      ...(pendingLink ? { pendingLink } : {}),
    });
  });
}
