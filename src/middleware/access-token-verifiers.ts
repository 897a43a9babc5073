import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { AccessTokenVerifier, VerifiedAccess } from './require-permission.ts';

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);

/**
 * The confirmation (RFC 7800 `cnf`) of a token, as `requirePermission` can check it: none (a plain Bearer token),
 * a DPoP key thumbprint (`{ jkt }`, RFC 9449), or `'unverifiable'` for any other binding (an mTLS certificate
 * thumbprint, a malformed `cnf`), whose token must then be refused rather than taken for a Bearer token.
 */
export function confirmationOf(cnf: unknown): VerifiedAccess['confirmation'] | 'unverifiable' {
  if (cnf === undefined || cnf === null) return undefined;
  if (typeof cnf !== 'object' || Array.isArray(cnf)) return 'unverifiable';
  const { jkt } = cnf as { jkt?: unknown };
  if (Object.keys(cnf).length !== 1 || typeof jkt !== 'string' || jkt.length === 0) return 'unverifiable';
  return { jkt };
}

/**
 * Verifies Gatehouse JWT access tokens (RFC 9068) locally against the issuer's JWKS (fetched once, refreshed when
 * an unknown key id appears). Fast and offline; a revoked token stays valid until it expires, so keep access
 * token lifetimes short or use {@link createIntrospectionVerifier} where revocation must count at once. A
 * DPoP-bound token (`cnf.jkt`) comes back with its `confirmation`, so `requirePermission` demands a proof.
 */
export function createJwtVerifier(options: {
  issuer: string;
  audience: string;
  jwksUri?: string;
}): AccessTokenVerifier {
  const jwks = createRemoteJWKSet(new URL(options.jwksUri ?? `${options.issuer}/jwks`));
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: options.audience,
        typ: 'at+jwt',
      });
      const confirmation = confirmationOf(payload.cnf);
      if (confirmation === 'unverifiable') return undefined;
      return {
        subject: String(payload.sub),
        clientId: String(payload.client_id),
        roles: strings(payload.roles),
        permissions: strings(payload.permissions),
        ...(confirmation ? { confirmation } : {}),
      };
    } catch (error) {
      // An unreachable JWKS is not the token's fault: let it surface as a 5xx instead of a 401.
      if ((error as { code?: string }).code === 'ERR_JWKS_TIMEOUT' || error instanceof TypeError) throw error;
      return undefined;
    }
  };
}

/**
 * Asks Gatehouse about each token (RFC 7662 introspection), authenticating as a confidential client. Works for
 * opaque and JWT tokens, sees revocation at once, and returns the subject's current roles and permissions. The
 * answer's `cnf.jkt` marks a DPoP-bound token (returned as `confirmation`, so `requirePermission` demands a proof).
 */
export function createIntrospectionVerifier(options: {
  issuer: string;
  audience: string;
  clientId: string;
  clientSecret: string;
  introspectionEndpoint?: string;
}): AccessTokenVerifier {
  const endpoint = options.introspectionEndpoint ?? `${options.issuer}/token/introspection`;
  const authorization = `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString('base64')}`;
  return async (token) => {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        authorization,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ token }),
    });
    if (!response.ok) throw new Error(`introspection failed with status ${response.status}`);
    const answer = (await response.json()) as Record<string, unknown>;
    if (answer.active !== true) return undefined;
    const audience = Array.isArray(answer.aud) ? answer.aud.map(String) : [String(answer.aud ?? '')];
    if (!audience.includes(options.audience)) return undefined;
    const confirmation = confirmationOf(answer.cnf);
    if (confirmation === 'unverifiable') return undefined;
    return {
      subject: String(answer.sub ?? answer.client_id),
      clientId: String(answer.client_id),
      roles: strings(answer.roles),
      permissions: strings(answer.permissions),
      ...(confirmation ? { confirmation } : {}),
    };
  };
}
