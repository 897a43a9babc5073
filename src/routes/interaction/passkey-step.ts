import type Router from '@koa/router';
import { z } from 'zod';
import { textField } from '../forms.ts';
import { createAttemptGuard } from '../attempt-guard.ts';
import { passkeyBinding, type InteractionKit } from './interaction-kit.ts';
import { renderLogin } from './login-step.ts';
import { throttleKeys } from '../../vocabulary/throttle-keys.ts';

/** A passkey's answer as the page posts it: the PublicKeyCredential as JSON (see views/assets/passkeys.js). */
export const passkeyForm = z.object({
  csrf: textField(100),
  credential: textField(16_000),
  remember: z.literal('yes').optional(),
});

/**
 * Passwordless sign-in with a discoverable passkey, from the login page. The authenticator must verify the person
 * (PIN or biometrics; the library requires it for this ceremony whatever the policy): a key plus a verified person
 * is two factors, phishing-resistant, so the sign-in gets `amr` `hwk`/`swk`, `user`, `mfa` and the MFA `acr`, and
 * satisfies roles and clients that require a second factor. Failures count per address (no account is known before
 * the passkey is).
 */
export function registerPasskeyStep(router: Router, kit: InteractionKit): void {
  const { accounts, audit, passkeys, throttles } = kit.deps;
  const guard = createAttemptGuard({
    audit,
    perAccount: throttles.factorPerIp,
    events: { failed: 'passkey.failed', locked: 'passkey.locked' },
  });

  router.post('/passkey', async (ctx) => {
    const submitted = await kit.submission(ctx, passkeyForm, 'login');
    if (!submitted) return;
    const { interaction, form } = submitted;
    const clientId = String(interaction.params.client_id);
    const remember = form.remember === 'yes';
    const keys = { account: [throttleKeys.ip(ctx.ip)] };
    const refused = await guard.admit(ctx, keys);
    if (refused) return renderLogin(kit, ctx, interaction, { remember, error: refused.message });

    const outcome = await passkeys.authenticate(passkeyBinding.login(interaction.uid), form.credential);
    const account = outcome.kind === 'ok' ? await accounts.findById(outcome.value.accountId) : undefined;
    if (outcome.kind === 'refused' || account?.status !== 'active') {
      const reason = outcome.kind === 'refused' ? outcome.reason : 'This account cannot sign in.';
      // The account of a known passkey is named in the audit log (a clone or a forged answer is its owner's concern).
      const accountId = outcome.kind === 'ok' ? outcome.value.accountId : outcome.accountId;
      await guard.failed(keys, {
        ...(accountId ? { accountId } : {}),
        clientId,
        ip: ctx.ip,
        details: { during: 'passwordless sign-in', reason },
      });
      ctx.status = 400;
      return renderLogin(kit, ctx, interaction, { remember, error: reason });
    }
    await guard.succeeded(keys);
    const proof = outcome.value;
    return kit.finishSignIn(
      ctx,
      interaction,
      { accountId: proof.accountId, remember, stepUp: false },
      [...proof.amr, 'mfa'],
      kit.deps.acr.mfa,
    );
  });
}
