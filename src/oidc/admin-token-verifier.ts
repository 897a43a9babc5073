import type { RbacLibrary } from '../libraries/rbac.ts';
import type { AccessTokenVerifier } from '../middleware/require-permission.ts';
import type { TokenInspector } from './token-inspector.ts';

/**
 * Verifies tokens for an API Gatehouse serves itself (the admin API): any Gatehouse access token, JWT or opaque,
 * whose audience is that API, judged by the permissions its subject holds now (an admin whose role was taken away
 * is refused at once, not when the token expires).
 */
export function createInProcessVerifier(deps: {
  inspector: TokenInspector;
  rbac: RbacLibrary;
  audience: string;
}): AccessTokenVerifier {
  return async (token) => {
    const inspected = await deps.inspector.inspect(token);
    if (!inspected || !inspected.audience.includes(deps.audience)) return undefined;
    const api = await deps.rbac.findApi(deps.audience);
    const subject = inspected.accountId
      ? { accountId: inspected.accountId }
      : { clientId: inspected.clientId };
    const access = await deps.rbac.effectiveAccess(subject, api);
    return { subject: inspected.accountId ?? inspected.clientId, clientId: inspected.clientId, ...access };
  };
}
