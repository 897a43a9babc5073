import type { GatehouseConfig } from './config/load-config.ts';
import type { Libraries } from './libraries/create-libraries.ts';
import { accountClientId } from './routes/account/account-client.ts';
import { adminPermissions } from './routes/admin-api/admin-router.ts';
import { authzenPermission } from './routes/authzen/authzen-router.ts';
import { adminAudienceOf, authzAudienceOf } from './routes/create-routers.ts';

/**
 * What Gatehouse makes sure exists in its database at every start, before its provider is built: signing keys of
 * every configured algorithm (the provider loads them as it is built), the built-in admin API and the built-in AuthZEN
 * API (`<ISSUER>/authz`, the policy decision point).
 */
export async function ensureBuiltins(
  config: GatehouseConfig,
  { keys, rbac }: Pick<Libraries, 'keys' | 'rbac'>,
): Promise<void> {
  await keys.ensureKeys();
  await rbac.ensureBuiltinApi(adminAudienceOf(config), 'Gatehouse admin API', {
    [adminPermissions.read]: 'See the users, applications and settings of this Gatehouse',
    [adminPermissions.write]: 'Change the users, applications and settings of this Gatehouse',
  });
  await rbac.ensureBuiltinApi(authzAudienceOf(config), 'Gatehouse AuthZEN API', {
    [authzenPermission]: 'Ask the policy decision point for decisions and searches (AuthZEN)',
  });
}

/**
 * The client of Gatehouse's own account page, ensured at every start once the provider is built: the client
 * library validates its metadata with the running provider's client schema.
 */
export async function ensureAccountClient(
  config: GatehouseConfig,
  { clients }: Pick<Libraries, 'clients'>,
): Promise<void> {
  await clients.ensure({
    id: accountClientId,
    name: 'Gatehouse account',
    redirectUris: [`${config.issuer}/account/callback`],
    postLogoutRedirectUris: [`${config.issuer}/account/signed-out`],
    grantTypes: ['authorization_code'],
    scope: 'openid email profile roles',
    public: true,
    firstParty: true,
    clientUri: `${config.issuer}/account`,
  });
}
