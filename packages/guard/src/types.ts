/** What a handler learns from a valid access token. */
export interface GuardAuth {
  /** The account (user tokens) or the client (client_credentials tokens) the token speaks for. */
  subject: string;
  /** The client the token was issued to. */
  clientId: string;
  roles: string[];
  permissions: string[];
  /** The token's scopes (the `scope` claim or introspection member, split on spaces). */
  scope: string[];
  /** Every claim of the JWT, or every member of the introspection answer. */
  claims: Record<string, unknown>;
  /**
   * The key the token is bound to (RFC 9449 `cnf.jkt`, the JWK SHA-256 thumbprint), when it is DPoP-bound: such a
   * token counts only with the DPoP scheme and a proof signed by that key.
   */
  confirmation?: { jkt: string };
}

/**
 * Checks an access token: returns what it grants, or undefined when it is not a valid token for this API (bad
 * signature, wrong audience, expired, revoked, bound in a way this API cannot check...). Throws only when it cannot
 * tell (the issuer is unreachable), which is then a 503, never a 401. A verifier must return `confirmation` for a
 * DPoP-bound token, or the guard would accept it as a plain Bearer token.
 */
export type AccessTokenVerifier = (token: string) => Promise<GuardAuth | undefined>;

/** Thrown by verifiers when the issuer (discovery, JWKS, introspection) cannot be reached: answered 503. */
export class IssuerUnavailableError extends Error {
  override name = 'IssuerUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
