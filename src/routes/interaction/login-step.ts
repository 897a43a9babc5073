import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { textField } from '../forms.ts';
import { passkeyBinding, type Interaction, type InteractionKit } from './interaction-kit.ts';
import { throttleKeys } from '../../vocabulary/throttle-keys.ts';
import { createAttemptGuard } from '../attempt-guard.ts';
import { knownDeviceSeconds } from '../../libraries/known-devices.ts';
import { knownDeviceCookieName } from '../../vocabulary/cookie-names.ts';
import { forgotPasswordUrl } from './forgot-password-step.ts';
import { signUpUrl } from './sign-up-step.ts';
import { emailCodeAction } from './email-code-offer.ts';

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
    // "Forgot password?": only when mail is on (forgot-password-step.ts).
    forgotPasswordUrl: forgotPasswordUrl(kit, interaction),
    // "Email me a sign-in code": only for the clients it is on for (email-code-step.ts).
    emailCodeAction: emailCodeAction(kit, interaction),
    // "Create an account": only when sign-up is on (sign-up-step.ts).
    signUpUrl: signUpUrl(kit, interaction),
    // A passwordless sign-in with a discoverable passkey: a challenge for this interaction's login page.
    passkey: {
      action: kit.url(interaction, 'passkey'),
      options: JSON.stringify(
        await kit.deps.passkeys.authenticationOptions(passkeyBinding.login(interaction.uid)),
      ),
    },
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
 *
 * A browser where the account's password was right before (a device cookie, `known-devices.ts`) counts its
 * failures under its own key instead of the email's: strangers who lock the email by guessing do not lock its
 * owner out, and the audit says whom a lock spared (`signin.lock_spared`).
 */
export function registerLoginStep(router: Router, kit: InteractionKit): void {
  const { accounts, audit, throttles, knownDevices } = kit.deps;
  const deviceCookieSecure = kit.deps.issuer.startsWith('https:');
  const deviceCookieName = knownDeviceCookieName(deviceCookieSecure);
  const guard = createAttemptGuard({
    audit,
    perAccount: throttles.passwordPerAccount,
    perIp: throttles.passwordPerIp,
    events: { failed: 'signin.failed', locked: 'signin.locked' },
  });

  router.post('/login', async (ctx) => {
    const submitted = await kit.submission(ctx, loginForm, 'login');
    if (!submitted) return;
    const { interaction, form } = submitted;

    const clientId = String(interaction.params.client_id);
    const deviceCookie = ctx.cookies.get(deviceCookieName);
    const device = knownDevices.recognise(deviceCookie, form.email);
    const keys = {
      account: [device ? throttleKeys.knownDevice(device) : throttleKeys.email(form.email)],
      ip: [throttleKeys.ip(ctx.ip)],
    };
    const remember = form.remember === 'yes';
    const refused = await guard.admit(ctx, keys);
    if (refused)
      return renderLogin(kit, ctx, interaction, { email: form.email, remember, error: refused.message });

    const account = await accounts.authenticate(form.email, form.password);
    if (!account) {
      const known = await accounts.findByEmail(form.email);
      await guard.failed(keys, {
        accountId: known?.id,
        clientId,
        ip: ctx.ip,
        details: { reason: 'wrong email or password', ...(device ? { browser: 'known' } : {}) },
      });
      return renderLogin(kit, ctx, interaction, {
        email: form.email,
        remember,
        error: 'Wrong email or password.',
      });
    }
    await guard.succeeded(keys);
    ctx.cookies.set(deviceCookieName, knownDevices.remember(deviceCookie, form.email), {
      httpOnly: true,
      sameSite: 'lax',
      secure: deviceCookieSecure,
      path: '/',
      overwrite: true,
      maxAge: knownDeviceSeconds * 1000,
    });
    if (device && (await throttles.passwordPerAccount.isLocked(throttleKeys.email(form.email))))
      await audit.record('signin.lock_spared', {
        accountId: account.id,
        clientId,
        ip: ctx.ip,
        details: { reason: 'known browser' },
      });

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
