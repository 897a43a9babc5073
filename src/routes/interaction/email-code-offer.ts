import type { EmailCodeLibrary } from '../../libraries/email-codes.ts';
import type { Interaction, InteractionKit } from './interaction-kit.ts';

/** The kits whose router has the email code step (email-code-step.ts): their login page offers it. */
const withStep = new WeakMap<InteractionKit, EmailCodeLibrary>();

/** Called by the step when it is registered on a kit's router. */
export function offerEmailCodes(kit: InteractionKit, codes: EmailCodeLibrary): void {
  withStep.set(kit, codes);
}

/** Where the login page's "Email me a sign-in code" button posts, or undefined when the client is not offered it. */
export function emailCodeAction(kit: InteractionKit, interaction: Interaction): string | undefined {
  const codes = withStep.get(kit);
  return codes?.offeredTo(String(interaction.params.client_id))
    ? kit.url(interaction, 'email-code')
    : undefined;
}
