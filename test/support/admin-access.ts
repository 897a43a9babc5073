import * as oidc from 'openid-client';
import type { TestGatehouse } from './test-gatehouse.ts';

/**
 * A service client holding the `admin` role (registered on first use) and an access token of it for the admin API,
 * as an operator's automation would get one.
 */
export async function adminApiToken(
  gh: TestGatehouse,
  clientId = 'operator',
  roles: string[] = ['admin'],
): Promise<string> {
  const secret = `${clientId}-secret-0123456789`;
  await gh.gatehouse.clients.register({
    id: clientId,
    secret,
    redirectUris: [],
    postLogoutRedirectUris: [],
    grantTypes: ['client_credentials'],
    public: false,
    firstParty: false,
    roles,
  });
  const operator = await oidc.discovery(
    new URL(gh.url),
    clientId,
    undefined,
    oidc.ClientSecretBasic(secret),
    { execute: [oidc.allowInsecureRequests] },
  );
  return (await oidc.clientCredentialsGrant(operator, { resource: `${gh.url}/admin` })).access_token;
}

/**
 * A token of a service client (`auditor-bot`) whose role (`auditor`, created here) holds `admin:read` only: it may
 * read the admin API and change nothing.
 */
export async function readOnlyAdminApiToken(gh: TestGatehouse): Promise<string> {
  await gh.gatehouse.rbac.createRole('auditor', { permissions: ['admin:read'] });
  return adminApiToken(gh, 'auditor-bot', ['auditor']);
}
