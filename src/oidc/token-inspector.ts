import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import type { Provider } from 'oidc-provider';
import { confirmationOf } from '../middleware/access-token-verifiers.ts';
import { grantIdClaim } from './resource-servers.ts';
import { grantOfToken } from './provider-internals.ts';

/** An access token Gatehouse issued and still honours, whatever its format. */
export interface InspectedToken {
  kind: 'AccessToken' | 'ClientCredentials';
  format: 'jwt' | 'opaque';
  /** The account it was issued for; absent for client_credentials tokens. */
  accountId: string | undefined;
  clientId: string;
  audience: string[];
  scope: string | undefined;
  exp: number | undefined;
  iat: number | undefined;
  jti: string | undefined;
  /** The DPoP key the token is bound to (RFC 9449 `cnf.jkt`); absent for a Bearer token. */
  confirmation?: { jkt: string };
  claims: Record<string, unknown>;
}

function looksLikeJwt(token: string): boolean {
  // Opaque tokens have no dots: skip the (throwing, so costly) header parse for them.
  if (token.split('.', 4).length !== 3) return false;
  try {
    return decodeProtectedHeader(token) !== undefined;
  } catch {
    return false;
  }
}

const asArray = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];

/**
 * Checks an access token the way Gatehouse's own APIs need: an opaque token must be stored, unexpired, and its grant
 * alive; a JWT access token must carry Gatehouse's signature, be unexpired, and (for user tokens) its grant must
 * still exist, so signing out or revoking the grant ends it before its expiry. A DPoP-bound token comes back with
 * its `confirmation` (the key thumbprint); one bound some other way (mTLS) is not honoured.
 */
export function createTokenInspector(deps: {
  provider: () => Provider;
  publicKeys: () => JWK[];
  issuer: string;
}) {
  async function grantAlive(
    provider: Provider,
    grantId: string,
    accountId: string | undefined,
    clientId: string,
  ) {
    const grant = await provider.Grant.find(grantId, { ignoreExpiration: true });
    return !!grant && !grant.isExpired && grant.clientId === clientId && grant.accountId === accountId;
  }

  async function inspectJwt(token: string): Promise<InspectedToken | undefined> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, createLocalJWKSet({ keys: deps.publicKeys() }), {
        issuer: deps.issuer,
        typ: 'at+jwt',
        requiredClaims: ['exp', 'client_id'],
      }));
    } catch {
      return undefined;
    }
    const clientId = String(payload.client_id);
    const grantId = typeof payload[grantIdClaim] === 'string' ? (payload[grantIdClaim] as string) : undefined;
    const accountId = grantId ? String(payload.sub) : undefined;
    // A binding Gatehouse cannot check (anything but a DPoP key) makes the token unusable, never a Bearer token.
    const confirmation = confirmationOf(payload.cnf);
    if (confirmation === 'unverifiable') return undefined;
    if (grantId && !(await grantAlive(deps.provider(), grantId, accountId, clientId))) return undefined;
    return {
      kind: grantId ? 'AccessToken' : 'ClientCredentials',
      format: 'jwt',
      accountId,
      clientId,
      audience: asArray(payload.aud),
      scope: typeof payload.scope === 'string' ? payload.scope : undefined,
      exp: payload.exp as number,
      iat: payload.iat as number | undefined,
      jti: payload.jti as string | undefined,
      ...(confirmation ? { confirmation } : {}),
      claims: payload,
    };
  }

  async function inspectOpaque(token: string): Promise<InspectedToken | undefined> {
    const provider = deps.provider();
    const found = (await provider.AccessToken.find(token)) ?? (await provider.ClientCredentials.find(token));
    if (!found?.isValid) return undefined;
    if (found['x5t#S256']) return undefined;
    const { grantId, accountId } = grantOfToken(found);
    if (grantId && !(await grantAlive(provider, grantId, accountId, found.clientId!))) return undefined;
    return {
      kind: found.kind as InspectedToken['kind'],
      format: 'opaque',
      accountId,
      clientId: found.clientId!,
      audience: asArray(found.aud),
      scope: found.scope || undefined,
      exp: found.exp,
      iat: found.iat,
      jti: found.jti,
      ...(found.jkt ? { confirmation: { jkt: found.jkt } } : {}),
      claims: {},
    };
  }

  return {
    inspect(token: string): Promise<InspectedToken | undefined> {
      if (token.length === 0 || token.length > 8192) return Promise.resolve(undefined);
      return looksLikeJwt(token) ? inspectJwt(token) : inspectOpaque(token);
    },
  };
}

export type TokenInspector = ReturnType<typeof createTokenInspector>;
