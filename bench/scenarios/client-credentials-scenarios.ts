import { basicAuthorization } from '../fixtures.ts';
import { postToken } from '../http-sign-in.ts';
import type { Scenario } from './scenario.ts';

/** An opaque access token: no resource, so no audience and no JWT (RFC 8707 section 2). */
export const clientCredentialsOpaque: Scenario = {
  name: 'cc-opaque',
  halfPeakLatency: true,
  description: 'POST /token grant_type=client_credentials (opaque access token)',
  prepare: async (_target, { fixtures }) => ({
    kind: 'request',
    request: {
      method: 'POST',
      path: '/token',
      headers: { authorization: basicAuthorization(fixtures.serviceClient) },
      form: { grant_type: 'client_credentials' },
    },
  }),
};

function clientCredentialsJwt(alg: 'ES256' | 'RS256', variant: Scenario['variant']): Scenario {
  return {
    name: `cc-jwt-${alg.toLowerCase()}`,
    halfPeakLatency: true,
    description: `POST /token grant_type=client_credentials resource=<API> (JWT access token, ${alg})`,
    ...(variant ? { variant } : {}),
    prepare: async (_target, { fixtures }) => ({
      kind: 'request',
      request: {
        method: 'POST',
        path: '/token',
        headers: { authorization: basicAuthorization(fixtures.serviceClient) },
        form: { grant_type: 'client_credentials', resource: fixtures.api.identifier },
      },
    }),
  };
}

/** The shared targets sign access tokens with ES256 (Gatehouse's default `keys.accessTokenAlg`). */
export const clientCredentialsEs256 = clientCredentialsJwt('ES256', undefined);

/** RS256 signing is several times slower; Gatehouse picks the algorithm at start-up, hence separate processes. */
export const clientCredentialsRs256 = clientCredentialsJwt('RS256', {
  options: { accessTokenAlg: 'RS256' },
  label: 'keys.accessTokenAlg RS256',
});

/** Introspection of one opaque token, minted once before the run (RFC 7662). */
export const introspection: Scenario = {
  name: 'introspection',
  halfPeakLatency: true,
  description: 'POST /token/introspection of an opaque access token',
  async prepare(target, { fixtures }) {
    const { access_token: token } = await postToken(target.origin, fixtures.serviceClient, {
      grant_type: 'client_credentials',
    });
    const request = {
      method: 'POST' as const,
      path: '/token/introspection',
      headers: { authorization: basicAuthorization(fixtures.serviceClient) },
      form: { token },
    };
    // An inactive answer is a 200 too: check once that the load measures introspection of a live token.
    const answer = await fetch(new URL(request.path, target.origin), {
      method: 'POST',
      headers: { ...request.headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(request.form).toString(),
    });
    const body = (await answer.json()) as { active?: boolean };
    if (body.active !== true)
      throw new Error(`introspection of a fresh token answered ${JSON.stringify(body)}`);
    return { kind: 'request', request };
  },
};
