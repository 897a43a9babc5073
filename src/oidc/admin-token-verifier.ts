import type { RbacLibrary } from '../libraries/rbac.ts';
import type { AccessTokenVerifier } from '../middleware/require-permission.ts';
import type { TokenInspector } from './token-inspector.ts';

/**
 * Verifies tokens for an API Gatehouse serves itself (the admin API): any Gatehouse access token, JWT or opaque,
 * whose audience is that API, judged by the permissions its subject holds now and its scope names
 * (`rbac.tokenAccess`), so an admin whose role was taken away is refused at once, not when the token expires.
 *
 * A user's token must also come from a client still allowed this API: an app an administrator signs in to never
 * acts on Gatehouse with their rights unless an operator allowed it (`client update --api`).
 */
export function createInProcessVerifier(deps: {
  inspector: TokenInspector;
  rbac: RbacLibrary;
  clientAllowed: (clientId: string, api: string) => Promise<boolean>;
  audience: string;
}): AccessTokenVerifier {
  return async (token) => {
    const inspected = await deps.inspector.inspect(token);
    if (!inspected || !inspected.audience.includes(deps.audience)) return undefined;
    if (inspected.accountId && !(await deps.clientAllowed(inspected.clientId, deps.audience)))
      return undefined;
    const api = await deps.rbac.findApi(deps.audience);
    const access = await deps.rbac.tokenAccess(inspected, api);
    return {
      subject: inspected.accountId ?? inspected.clientId,
      clientId: inspected.clientId,
      ...access,
      // A DPoP-bound token counts only with a proof of its key (requirePermission checks it).
      ...(inspected.confirmation ? { confirmation: inspected.confirmation } : {}),
    };
  };
}
