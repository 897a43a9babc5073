import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { qrCodeDataUri } from '../../libraries/qr-code.ts';
import { csrfOnlyForm, readCsrfForm, textField } from '../forms.ts';
import {
  passkeyBinding,
  type Interaction,
  type InteractionKit,
  type SignInState,
} from './interaction-kit.ts';
import { passkeyForm } from './passkey-step.ts';
import { throttleKeys } from '../../vocabulary/throttle-keys.ts';
import { createAttemptGuard } from '../attempt-guard.ts';

const codeForm = z.object({ csrf: textField(100), code: textField(64) });

/**
 * The second factor: a TOTP or recovery code for enrolled accounts, or enrollment during sign-in when a policy
 * requires a factor the account does not have yet. Also serves step-up: a signed-in user whose app asks for MFA
 * (`acr_values`) or whose role/client requires it passes this step without typing the password again.
 */
export function registerSecondFactorStep(router: Router, kit: InteractionKit): void {
  const { accounts, mfa, passkeys, audit, throttles, pages } = kit.deps;

  async function loadWithState(
    ctx: Context,
  ): Promise<{ interaction: Interaction; state: SignInState } | undefined> {
    const interaction = await kit.load(ctx);
    if (!interaction) return undefined;
    const state = await kit.state.get(interaction.uid);
    // A second factor only ever follows a first one (or an existing session, for step-up): a state without either
    // (as a link offer was once kept) must not let anyone verify, or enroll, a factor for its account.
    if (!state || (!state.firstFactor && !state.stepUp) || interaction.prompt.name !== 'login') {
      ctx.redirect(kit.url(interaction));
      return undefined;
    }
    return { interaction, state };
  }

  /**
   * A factor is enrolled during sign-in only after this sign-in's first factor: a step-up (an existing session,
   * nobody asked for the password) never offers enrollment, or whoever sits at a signed-in browser could set up
   * their own authenticator. It goes back to the login page instead.
   */
  function enrollAllowed(ctx: Context, loaded: { interaction: Interaction; state: SignInState }): boolean {
    if (loaded.state.firstFactor) return true;
    ctx.status = 303;
    ctx.redirect(kit.url(loaded.interaction));
    return false;
  }

  /** The factors the account has: a code (authenticator app, recovery codes) and/or its passkeys. */
  async function renderVerify(ctx: Context, interaction: Interaction, state: SignInState, error?: string) {
    const accountId = state.accountId;
    const codes = (await mfa.isEnrolled(accountId)) || (await mfa.remainingRecoveryCodes(accountId)) > 0;
    const hasPasskeys = (await passkeys.count(accountId)) > 0;
    ctx.type = 'html';
    ctx.body = pages.render('mfa-verify', {
      title: 'Two-step verification',
      clientName: await kit.clientName(interaction),
      error,
      csrf: kit.csrfFor(interaction),
      codes,
      action: kit.url(interaction, 'mfa'),
      abortAction: kit.url(interaction, 'abort'),
      passkey: hasPasskeys
        ? {
            action: kit.url(interaction, 'mfa/passkey'),
            options: JSON.stringify(
              await passkeys.authenticationOptions(passkeyBinding.secondFactor(interaction.uid), accountId),
            ),
          }
        : undefined,
    });
  }

  async function renderEnroll(ctx: Context, interaction: Interaction, state: SignInState, error?: string) {
    const account = await accounts.get(state.accountId);
    const enrollment = (await mfa.pendingEnrollment(account)) ?? (await mfa.startEnrollment(account));
    ctx.type = 'html';
    ctx.body = pages.render('mfa-enroll', {
      title: 'Set up two-step verification',
      required: true,
      qrCode: await qrCodeDataUri(enrollment.otpauthUri),
      secret: enrollment.secret,
      error,
      csrf: kit.csrfFor(interaction),
      action: kit.url(interaction, 'mfa/enroll'),
    });
  }

  /**
   * The second factor adds `otp`/`mfa` to how the first factor was passed (`pwd`, or `fed` for an upstream); for a
   * step-up, to the factors the session already had (finishSignIn adds them).
   */
  function finishWithSecondFactor(
    ctx: Context,
    interaction: Interaction,
    state: SignInState,
    factors: string[],
  ) {
    const first = state.firstFactor ? [state.firstFactor] : [];
    return kit.finishSignIn(ctx, interaction, state, [...first, ...factors], kit.deps.acr.mfa);
  }

  const guard = createAttemptGuard({
    audit,
    perAccount: throttles.factorPerAccount,
    perIp: throttles.factorPerIp,
    events: { failed: 'mfa.failed', locked: 'mfa.locked' },
  });
  const keysFor = (ctx: Context, state: SignInState) => ({
    account: [throttleKeys.secondFactor(state.accountId)],
    ip: [throttleKeys.ip(ctx.ip)],
  });

  router.get('/mfa', async (ctx) => {
    const loaded = await loadWithState(ctx);
    if (!loaded) return;
    if (await mfa.hasSecondFactor(loaded.state.accountId))
      return renderVerify(ctx, loaded.interaction, loaded.state);
    if (!enrollAllowed(ctx, loaded)) return;
    return renderEnroll(ctx, loaded.interaction, loaded.state);
  });

  router.post('/mfa', async (ctx) => {
    const loaded = await loadWithState(ctx);
    if (!loaded) return;
    const { interaction, state } = loaded;
    const form = readCsrfForm(ctx, kit.deps.csrf, interaction.uid, codeForm);
    const clientId = String(interaction.params.client_id);
    const keys = keysFor(ctx, state);
    const refused = await guard.admit(ctx, keys);
    if (refused) return renderVerify(ctx, interaction, state, refused.message);

    const factor = await mfa.verify(state.accountId, form.code);
    if (!factor) {
      await guard.failed(keys, { accountId: state.accountId, clientId, ip: ctx.ip });
      return renderVerify(ctx, interaction, state, 'That code is not right. Check your app and try again.');
    }
    await guard.succeeded(keys);
    await audit.record(factor === 'otp' ? 'mfa.verified' : 'mfa.recovery_code_used', {
      accountId: state.accountId,
      clientId,
      ip: ctx.ip,
      ...(factor === 'recovery_code'
        ? { details: { remaining: await mfa.remainingRecoveryCodes(state.accountId) } }
        : {}),
    });
    return finishWithSecondFactor(ctx, interaction, state, factor === 'otp' ? ['otp', 'mfa'] : ['mfa']);
  });

  /**
   * A passkey as the second factor: one of this account's passkeys (the challenge allows no other), answering this
   * page's challenge once. `amr` gets `hwk` or `swk`, `user` when the authenticator verified the person, and `mfa`.
   */
  router.post('/mfa/passkey', async (ctx) => {
    const loaded = await loadWithState(ctx);
    if (!loaded) return;
    const { interaction, state } = loaded;
    const form = readCsrfForm(ctx, kit.deps.csrf, interaction.uid, passkeyForm);
    const clientId = String(interaction.params.client_id);
    const keys = keysFor(ctx, state);
    const refused = await guard.admit(ctx, keys);
    if (refused) return renderVerify(ctx, interaction, state, refused.message);
    const outcome = await passkeys.authenticate(
      passkeyBinding.secondFactor(interaction.uid),
      form.credential,
    );
    if (outcome.kind === 'refused' || outcome.value.accountId !== state.accountId) {
      await guard.failed(keys, {
        accountId: state.accountId,
        clientId,
        ip: ctx.ip,
        details: { method: 'passkey', ...(outcome.kind === 'refused' ? { reason: outcome.reason } : {}) },
      });
      ctx.status = 400;
      return renderVerify(
        ctx,
        interaction,
        state,
        outcome.kind === 'refused' ? outcome.reason : 'This passkey is not one of your account.',
      );
    }
    await guard.succeeded(keys);
    await audit.record('mfa.verified', {
      accountId: state.accountId,
      clientId,
      ip: ctx.ip,
      details: { method: 'passkey', amr: outcome.value.amr },
    });
    return finishWithSecondFactor(ctx, interaction, state, [...outcome.value.amr, 'mfa']);
  });

  router.post('/mfa/enroll', async (ctx) => {
    const loaded = await loadWithState(ctx);
    if (!loaded || !enrollAllowed(ctx, loaded)) return;
    const { interaction, state } = loaded;
    const form = readCsrfForm(ctx, kit.deps.csrf, interaction.uid, codeForm);
    const codes = await mfa.confirmEnrollment(state.accountId, form.code);
    if (!codes)
      return renderEnroll(
        ctx,
        interaction,
        state,
        'That code is not right. Check the time on your device and try again.',
      );
    await audit.record('mfa.enrolled', {
      accountId: state.accountId,
      clientId: String(interaction.params.client_id),
      ip: ctx.ip,
      details: { during: 'sign-in' },
    });
    await kit.state.set(interaction.uid, { ...state, enrolled: true });
    ctx.type = 'html';
    ctx.body = pages.render('recovery-codes', {
      title: 'Your recovery codes',
      codes,
      csrf: kit.csrfFor(interaction),
      continueAction: kit.url(interaction, 'mfa/done'),
    });
  });

  router.post('/mfa/done', async (ctx) => {
    const loaded = await loadWithState(ctx);
    if (!loaded || !enrollAllowed(ctx, loaded)) return;
    readCsrfForm(ctx, kit.deps.csrf, loaded.interaction.uid, csrfOnlyForm);
    if (!loaded.state.enrolled) return ctx.redirect(kit.url(loaded.interaction, 'mfa'));
    return finishWithSecondFactor(ctx, loaded.interaction, loaded.state, ['otp', 'mfa']);
  });
}
