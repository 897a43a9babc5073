import type { Account as ProviderAccount, FindAccount } from 'oidc-provider';
import { isPlaceholderEmail, type AccountLibrary } from '../libraries/accounts.ts';
import { authenticationOf } from './provider-internals.ts';

/** Role names of an account; supplied by the RBAC library. */
export type RolesOf = (accountId: string) => Promise<string[]>;

/**
 * oidc-provider's `findAccount`: the account behind a `sub`, with the claims Gatehouse can release. oidc-provider
 * filters them by the scopes and claims the user granted. A disabled or deleted account is not found, which makes
 * oidc-provider refuse its tokens and sessions.
 */
export function createFindAccount(
  accounts: AccountLibrary,
  rolesOf: RolesOf,
  idpOfLogin?: (accountId: string, authTime: number) => Promise<string | undefined>,
): FindAccount {
  return async (_ctx, sub, token): Promise<ProviderAccount | undefined> => {
    const account = await accounts.findById(sub);
    if (!account || account.status !== 'active') return undefined;
    // A federated sign-in (amr "fed") names its upstream in the `idp` claim.
    const source = authenticationOf(token);
    const idp =
      source?.amr?.includes('fed') && source.authTime && idpOfLogin
        ? await idpOfLogin(account.id, source.authTime)
        : undefined;
    return {
      accountId: account.id,
      async claims() {
        return {
          ...(idp ? { idp } : {}),
          sub: account.id,
          // A placeholder (an upstream sign-in that vouched for no address) is no address: the account has none.
          ...(isPlaceholderEmail(account.email)
            ? {}
            : { email: account.email, email_verified: account.emailVerified }),
          name: account.name ?? undefined,
          updated_at: Math.floor(account.updatedAt.getTime() / 1000),
          roles: await rolesOf(account.id),
        };
      },
    };
  };
}
