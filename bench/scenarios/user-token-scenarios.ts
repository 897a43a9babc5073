import { basicAuthorization } from '../fixtures.ts';
import { signIn, type SignInFlow } from '../http-sign-in.ts';
import type { RunningTarget } from '../targets/target.ts';
import type { Scenario, ScenarioContext } from './scenario.ts';

function signInFlow(target: RunningTarget, { fixtures }: ScenarioContext, scope: string): SignInFlow {
  return {
    origin: target.origin,
    client: fixtures.webClient,
    scope,
    // offline_access is only honoured with prompt=consent (OpenID Connect Core 1.0 section 11).
    ...(scope.includes('offline_access') ? { prompt: 'consent' as const } : {}),
    credentials: fixtures.account,
  };
}

/** Runs `count` sign-ins, a few at a time (each costs an argon2 verification on Gatehouse). */
async function signInMany(flow: SignInFlow, count: number): Promise<string[]> {
  const refreshTokens: string[] = [];
  let started = 0;
  const worker = async () => {
    for (; started < count;) {
      started += 1;
      const tokens = await signIn(flow);
      if (!tokens.refresh_token) throw new Error('the sign-in issued no refresh token');
      refreshTokens.push(tokens.refresh_token);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, count) }, worker));
  return refreshTokens;
}

/**
 * Refresh token grants, each connection rotating its own chain (refresh tokens work once). Two sign-ins per
 * connection before the run: one chain for the warm-up, one for the measured run.
 */
export const refresh: Scenario = {
  name: 'refresh',
  description: 'POST /token grant_type=refresh_token (rotating, one chain per connection)',
  async prepare(target, context) {
    const flow = signInFlow(target, context, 'openid offline_access');
    return {
      kind: 'refresh-chains',
      authorization: basicAuthorization(context.fixtures.webClient),
      refreshTokens: await signInMany(flow, 2 * context.connections),
    };
  },
};

export const userinfo: Scenario = {
  name: 'userinfo',
  halfPeakLatency: true,
  description: 'GET /me with an opaque access token',
  async prepare(target, context) {
    const tokens = await signIn(signInFlow(target, context, 'openid email profile'));
    return {
      kind: 'request',
      request: { method: 'GET', path: '/me', headers: { authorization: `Bearer ${tokens.access_token}` } },
    };
  },
};

/**
 * A complete sign-in: authorization request, login page, login form, redirects, code exchange with PKCE.
 * Gatehouse verifies the password (argon2id); the bare provider's interaction answers by itself.
 */
export const passwordSignIn: Scenario = {
  name: 'password-sign-in',
  description: 'GET /auth → login form → POST login → redirects → POST /token (authorization_code + PKCE)',
  note: (target) =>
    target.checksPasswords
      ? 'fetch loop: 1 op = whole sign-in, argon2id'
      : 'fetch loop: 1 op = whole sign-in, automatic login, no argon2',
  prepare: async (target, context) => ({
    kind: 'sign-in',
    flow: signInFlow(target, context, 'openid email profile'),
  }),
};
