import type { AccountLibrary } from './accounts.ts';
import type { ClientLibrary } from './clients.ts';
import type { RbacLibrary } from './rbac.ts';

export const demoAccount = {
  email: 'demo@gatehouse.local',
  // Must pass the password rules like any other (no part of the email address, 15+ characters).
  password: 'gatehouse-sample-passphrase',
  name: 'Demo User',
};
export const demoClient = {
  id: 'demo-app',
  secret: 'demo-app-secret-change-me',
  redirectUri: 'http://localhost:8080/callback',
  postLogoutRedirectUri: 'http://localhost:8080/',
};

/**
 * First run on an empty embedded database (outside production): a demo user holding the `admin` role and a demo
 * client, so a newcomer can sign in to `/account` and try an app right away. Never runs once any account exists.
 * The caller never runs it against DATABASE_URL: the demo password is published, so a deployment would hand out
 * an administrator (its first admin comes from `bootstrap-admin.ts` or `gatehouse user create --role admin`).
 */
export async function seedDemo(libraries: {
  accounts: AccountLibrary;
  clients: ClientLibrary;
  rbac: RbacLibrary;
}): Promise<boolean> {
  if ((await libraries.accounts.count()) > 0) return false;
  const account = await libraries.accounts.create({ ...demoAccount, emailVerified: true });
  await libraries.rbac.assignToAccount(account.id, 'admin');
  const existing = await libraries.clients.list();
  if (!existing.some((client) => client.id === demoClient.id)) {
    await libraries.clients.create({
      id: demoClient.id,
      name: 'Demo app',
      secret: demoClient.secret,
      redirectUris: [demoClient.redirectUri],
      postLogoutRedirectUris: [demoClient.postLogoutRedirectUri],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      public: false,
      firstParty: false,
    });
  }
  return true;
}
