import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { MfaLibrary } from '../libraries/mfa.ts';
import { guardStorage } from '../storage/guarded-adapter.ts';
import { stepUpChecks } from '../vocabulary/interaction-paths.ts';

const { base, Check } = interactionPolicy;

/**
 * oidc-provider's default prompts (login, consent) plus two reasons to ask a signed-in user for a second factor
 * (step-up), whose names the interaction routes recognise:
 *
 * - `mfa_requested`: the authorization request asks for the MFA `acr` in `acr_values`;
 * - `mfa_policy`: a role of the user or the client requires MFA.
 *
 * and one more reason to ask for the password again: `account_unavailable`, a session whose account is gone.
 *
 * Both are satisfied by a session whose `acr` is the MFA one, so they cost one prompt per session.
 */
export function createInteractionPolicy(deps: { mfa: MfaLibrary; mfaAcr: string }) {
  const policy = base();
  const login = policy.get('login')!;
  const hasMfa = (ctx: KoaContextWithOIDC) => ctx.oidc.session?.acr === deps.mfaAcr;

  // A session outlives its account when the account is disabled or deleted without ending its sessions (straight
  // in the database, say): findAccount no longer finds it, and the browser must sign in again, not go on as nobody.
  login.checks.add(
    new Check('account_unavailable', "the session's account is disabled or deleted", (ctx) =>
      ctx.oidc.session?.accountId && !ctx.oidc.account ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  login.checks.add(
    new Check(stepUpChecks.requested, 'the client asks for a second factor (acr_values)', (ctx) => {
      const requested = String(ctx.oidc.params?.acr_values ?? '').split(' ');
      if (!requested.includes(deps.mfaAcr) || !ctx.oidc.session?.accountId) return Check.NO_NEED_TO_PROMPT;
      return hasMfa(ctx) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  login.checks.add(
    new Check(
      stepUpChecks.policy,
      'a role of the user or the client requires a second factor',
      async (ctx) => {
        const accountId = ctx.oidc.session?.accountId;
        if (!accountId || hasMfa(ctx)) return Check.NO_NEED_TO_PROMPT;
        const required = await guardStorage(() => deps.mfa.isRequired(accountId, ctx.oidc.client?.clientId));
        return required ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
      },
    ),
  );
  // RFC 8628 section 5.4: the person confirms the device after signing in, even for first-party tools and when a
  // grant already covers the request (Gatehouse's device pages skip oidc-provider's confirmation before sign-in).
  policy
    .get('consent')!
    .checks.add(
      new Check('device_confirmation', 'the person confirms the device', (ctx) =>
        ctx.oidc.deviceCode && !ctx.oidc.result?.consent ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
      ),
    );
  return policy;
}
