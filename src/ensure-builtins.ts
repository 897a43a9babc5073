import type { GatehouseConfig } from './config/load-config.ts';
import type { Libraries } from './libraries/create-libraries.ts';
import { accountClientId } from './routes/account/account-client.ts';
import { adminPermissions } from './routes/admin-api/admin-router.ts';
import { authzenPermission } from './routes/authzen/authzen-router.ts';
import { consoleClientId } from './routes/console/console-session.ts';
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
 * Gatehouse's own first-party clients, ensured at every start once the provider is built (the client library
 * validates their metadata with the running provider's client schema): the account page (`/account`) and the admin
 * console (`/admin`). Both are public clients using code + PKCE, first-party (no consent page), and sign people in
 * through the real sign-in.
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
  await ensureConsoleClient(config, { clients });
}

/**
 * The admin console's client (`gatehouse-console`). It asks for no API: the console calls Gatehouse's libraries in
 * process and checks `admin:read` / `admin:write` on the signed-in account itself (src/routes/console/).
 */
export async function ensureConsoleClient(
  config: GatehouseConfig,
  { clients }: Pick<Libraries, 'clients'>,
): Promise<void> {
  await clients.ensure({
    id: consoleClientId,
    name: 'Gatehouse admin console',
    redirectUris: [`${config.issuer}/admin/callback`],
    postLogoutRedirectUris: [`${config.issuer}/admin/signed-out`],
    grantTypes: ['authorization_code'],
    scope: 'openid email profile',
    public: true,
    firstParty: true,
    clientUri: `${config.issuer}/admin`,
  });
}
