import type { Client, Provider } from 'oidc-provider';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Clients Gatehouse's operators marked first-party skip the consent page (their users already trust them). */
export function isFirstParty(client: Client): boolean {
  return client.metadata()['first_party'] === true;
}

/**
 * Records what the client asked for in the user's grant (creating it on first consent) and returns its id.
 */
export async function grantRequestedAccess(provider: Provider, interaction: Interaction): Promise<string> {
  const accountId = interaction.session?.accountId;
  if (!accountId) throw new Error('consent without a signed-in account');
  const grant =
    (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ??
    new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
  const details = interaction.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

/**
 * Where to send someone whose sign-in page expired: only the application can start a new authorization request
 * (it holds the state, nonce and PKCE verifier), so this is its `initiate_login_uri` (OIDC Core section 4), else
 * its `client_uri`, else the origin of its first redirect URI.
 */
export async function restartUrlFor(
  provider: Provider,
  clientId: string | undefined,
): Promise<string | undefined> {
  if (!clientId || clientId.length > 128) return undefined;
  const client = await provider.Client.find(clientId).catch(() => undefined);
  if (!client) return undefined;
  const metadata = client.metadata();
  const candidate = metadata.initiate_login_uri ?? metadata.client_uri ?? client.redirectUris?.[0];
  if (typeof candidate !== 'string') return undefined;
  try {
    const url = new URL(candidate);
    return metadata.initiate_login_uri || metadata.client_uri ? url.href : url.origin + '/';
  } catch {
    return undefined;
  }
}
