import { randomBytes } from 'node:crypto';
import { SignJWT, decodeJwt, importJWK } from 'jose';
import { invalidRequest } from '../errors/app-error.ts';
import type { ClientLibrary } from './clients.ts';
import type { RbacLibrary } from './rbac.ts';
import type { SigningKeyLibrary } from './signing-keys.ts';

export type ProbeExpectation = 'challenge' | 'invalid_token' | 'insufficient_scope' | 'allowed';

export interface ProbeCase {
  name: string;
  expected: ProbeExpectation;
  status: number;
  wwwAuthenticate: string | null;
  /** `ok`, a `fail` (401/403 confused, or a bad token let through) or a `warn` (right status, weak challenge). */
  verdict: 'ok' | 'fail' | 'warn';
  note: string;
}

export interface ProbeInput {
  url: string;
  method: string;
  resource: string;
  permission: string;
}

const expectedStatus: Record<ProbeExpectation, string> = {
  challenge: '401 + Bearer challenge',
  invalid_token: '401 + error="invalid_token"',
  insufficient_scope: '403 + error="insufficient_scope"',
  allowed: 'not 401/403',
};

export function describeExpectation(expected: ProbeExpectation): string {
  return expectedStatus[expected];
}

/** Judges one response against what RFC 6750 section 3 asks for. */
export function judge(
  expected: ProbeExpectation,
  status: number,
  wwwAuthenticate: string | null,
): Pick<ProbeCase, 'verdict' | 'note'> {
  const bearer = /^Bearer\b/i.test(wwwAuthenticate ?? '');
  const error = /error="([^"]+)"/.exec(wwwAuthenticate ?? '')?.[1];
  switch (expected) {
    case 'allowed':
      if (status === 401 || status === 403)
        return { verdict: 'fail', note: 'a token holding the permission was refused' };
      return { verdict: 'ok', note: '' };
    case 'insufficient_scope':
      if (status === 403)
        return error === 'insufficient_scope'
          ? { verdict: 'ok', note: '' }
          : { verdict: 'warn', note: '403 without error="insufficient_scope"' };
      if (status === 401)
        return {
          verdict: 'fail',
          note: 'answered 401 for a valid token: the client will sign in again instead of being told it may not',
        };
      return { verdict: 'fail', note: 'let a token without the permission through' };
    case 'challenge':
    case 'invalid_token':
      if (status === 401) {
        if (!bearer) return { verdict: 'warn', note: '401 without a WWW-Authenticate: Bearer challenge' };
        if (expected === 'invalid_token' && error !== 'invalid_token')
          return { verdict: 'warn', note: '401 without error="invalid_token"' };
        return { verdict: 'ok', note: '' };
      }
      if (status === 403)
        return { verdict: 'fail', note: 'answered 403 for a missing or bad token: that is a 401' };
      return { verdict: 'fail', note: 'let a request without a valid token through' };
  }
}

/**
 * `gatehouse probe-api`: sends an API the six kinds of request that tell a correct 401/403 implementation from a
 * wrong one. Tokens come from Gatehouse itself: two temporary service clients (one holding the permission through
 * a temporary role, one holding nothing) get real tokens at the token endpoint; the expired and foreign-audience
 * tokens are signed with Gatehouse's current key. Everything temporary is removed afterwards.
 */
export async function probeApi(
  input: ProbeInput,
  deps: {
    issuer: string;
    clients: ClientLibrary;
    rbac: RbacLibrary;
    keys: SigningKeyLibrary;
    accessTokenAlg: string;
  },
): Promise<ProbeCase[]> {
  const api = await deps.rbac.getApi(input.resource);
  if (!api.permissions.includes(input.permission)) {
    throw invalidRequest(
      `the API ${api.identifier} does not declare ${input.permission}, so no token for it can carry it`,
      'permission',
    );
  }
  const tag = `probe-${randomBytes(4).toString('hex')}`;
  const holder = { id: `${tag}-holder`, secret: randomBytes(24).toString('base64url') };
  const lacking = { id: `${tag}-lacking`, secret: randomBytes(24).toString('base64url') };

  const tokenFor = async (client: { id: string; secret: string }, resource?: string) => {
    const response = await fetch(`${deps.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...(resource ? { resource } : {}) }),
    });
    const body = (await response.json()) as { access_token?: string; error?: string };
    if (!body.access_token)
      throw new Error(
        `Gatehouse at ${deps.issuer} did not issue a probe token: ${body.error ?? response.status}`,
      );
    return body.access_token;
  };

  const signLike = async (claims: Record<string, unknown>) => {
    const { keys } = await deps.keys.loadKeySet();
    const jwk = keys.find((key) => key.alg === deps.accessTokenAlg)!;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: deps.accessTokenAlg, typ: 'at+jwt', kid: jwk.kid! })
      .sign(await importJWK(jwk, deps.accessTokenAlg));
  };

  const send = async (authorization: string | undefined) => {
    const response = await fetch(input.url, {
      method: input.method,
      headers: authorization ? { authorization } : {},
    });
    await response.body?.cancel();
    return { status: response.status, wwwAuthenticate: response.headers.get('www-authenticate') };
  };

  await deps.rbac.createRole(tag, {
    permissions: [input.permission],
    description: 'temporary role of gatehouse probe-api',
  });
  try {
    for (const client of [holder, lacking]) {
      await deps.clients.create({
        id: client.id,
        secret: client.secret,
        redirectUris: [],
        postLogoutRedirectUris: [],
        grantTypes: ['client_credentials'],
        public: false,
        firstParty: false,
      });
    }
    await deps.rbac.assignToClient(holder.id, tag);

    const holding = await tokenFor(holder, api.identifier);
    const without = await tokenFor(lacking, api.identifier);
    const now = Math.floor(Date.now() / 1000);
    const tokens: { name: string; expected: ProbeExpectation; authorization: string | undefined }[] = [
      { name: 'no token', expected: 'challenge', authorization: undefined },
      { name: 'malformed token', expected: 'invalid_token', authorization: 'Bearer not.a-token!' },
    ];
    if (api.format === 'jwt') {
      const claims = decodeJwt(holding);
      tokens.push(
        {
          name: 'expired token',
          expected: 'invalid_token',
          authorization: `Bearer ${await signLike({ ...claims, iat: now - 7200, exp: now - 3600 })}`,
        },
        {
          name: 'token for another audience',
          expected: 'invalid_token',
          authorization: `Bearer ${await signLike({ ...claims, aud: `urn:gatehouse:${tag}:elsewhere` })}`,
        },
      );
    } else {
      const revoked = await tokenFor(holder, api.identifier);
      await fetch(`${deps.issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${holder.id}:${holder.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: revoked }),
      });
      tokens.push(
        { name: 'revoked token', expected: 'invalid_token', authorization: `Bearer ${revoked}` },
        {
          name: 'token for another audience',
          expected: 'invalid_token',
          authorization: `Bearer ${await tokenFor(holder)}`,
        },
      );
    }
    tokens.push(
      {
        name: `token without ${input.permission}`,
        expected: 'insufficient_scope',
        authorization: `Bearer ${without}`,
      },
      { name: `token with ${input.permission}`, expected: 'allowed', authorization: `Bearer ${holding}` },
    );

    const results: ProbeCase[] = [];
    for (const token of tokens) {
      const { status, wwwAuthenticate } = await send(token.authorization);
      results.push({
        name: token.name,
        expected: token.expected,
        status,
        wwwAuthenticate,
        ...judge(token.expected, status, wwwAuthenticate),
      });
    }
    return results;
  } finally {
    for (const client of [holder, lacking]) await deps.clients.delete(client.id).catch(() => undefined);
    await deps.rbac.deleteRole(tag).catch(() => undefined);
  }
}
