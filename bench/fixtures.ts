import { randomBytes } from 'node:crypto';

/**
 * The clients, API and account every target is given, so each scenario sends the same requests everywhere.
 * Secrets are fresh per run (the bench's databases are thrown away anyway).
 */
export interface Fixtures {
  api: { identifier: string; permission: string; role: string };
  /** Confidential service client: client_credentials, and the caller of introspection. */
  serviceClient: { id: string; secret: string; scope: string };
  /** First-party web app: authorization code + refresh tokens, consent skipped. */
  webClient: { id: string; secret: string; redirectUri: string; scope: string };
  account: { id: string; email: string; password: string; name: string };
}

export function createFixtures(): Fixtures {
  const secret = () => randomBytes(24).toString('base64url');
  return {
    api: { identifier: 'https://api.bench.local', permission: 'bench:read', role: 'bench-reader' },
    // Gatehouse's CLI default scope, given explicitly so the bare provider's copy of the client matches.
    serviceClient: { id: 'bench-cc', secret: secret(), scope: 'openid email profile roles offline_access' },
    webClient: {
      id: 'bench-web',
      secret: secret(),
      // Never requested: the bench reads the code from the redirect's Location header.
      redirectUri: 'http://127.0.0.1/bench/callback',
      scope: 'openid email profile offline_access',
    },
    account: {
      id: 'bench-account',
      email: 'bench@bench.local',
      password: randomBytes(18).toString('base64url'),
      name: 'Bench User',
    },
  };
}

/** `Authorization: Basic` for a confidential client (RFC 6749 section 2.3.1: form-encode, then base64). */
export function basicAuthorization(client: { id: string; secret: string }): string {
  const encode = (value: string) => encodeURIComponent(value).replaceAll('%20', '+');
  return `Basic ${Buffer.from(`${encode(client.id)}:${encode(client.secret)}`).toString('base64')}`;
}
