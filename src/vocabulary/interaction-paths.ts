/**
 * The address of an interaction page. oidc-provider sends browsers there (`interactions.url`) and the interaction
 * pages link to each other's steps. The client id rides along so that an expired page can still send the user back
 * to the application to start again.
 */
export function interactionUrl(
  interaction: { uid: string; params: Record<string, unknown> },
  step?: string,
): string {
  const path = `/interaction/${interaction.uid}${step ? `/${step}` : ''}`;
  return `${path}?client_id=${encodeURIComponent(String(interaction.params.client_id))}`;
}

/**
 * Names of the interaction policy's login checks (`src/oidc/interaction-policy.ts`) that ask a signed-in user for a
 * second factor: the interaction pages show the second-factor step, not the password, for these.
 */
export const stepUpChecks = {
  /** The authorization request asks for the MFA `acr` in `acr_values`. */
  requested: 'mfa_requested',
  /** A role of the user or the client requires a second factor. */
  policy: 'mfa_policy',
} as const;
