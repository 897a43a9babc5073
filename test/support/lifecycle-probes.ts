import * as oidc from 'openid-client';
import { authorizeOverHttp, createHttpBrowser } from './http-sign-in.ts';
import type { TestGatehouse } from './test-gatehouse.ts';

const redirectUri = 'http://127.0.0.1:9/cb';
const webSecret = 'web-app-secret-0123456789';

/**
 * What the lifecycle tests (CLI and admin API) look at from outside: a relying party (`web-app`, registered here)
 * signing people in through the real pages, what its refresh tokens and a client's secret still get, and the last
 * audited change of an action.
 */
export async function lifecycleProbes(gh: TestGatehouse, password: string) {
  await gh.gatehouse.clients.create({
    id: 'web-app',
    secret: webSecret,
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code', 'refresh_token'],
    scope: 'openid email profile offline_access',
    public: false,
    firstParty: true,
  });
  const rp = await oidc.discovery(new URL(gh.url), 'web-app', undefined, oidc.ClientSecretBasic(webSecret), {
    execute: [oidc.allowInsecureRequests],
  });

  return {
    /** Signs in through the real pages and returns the tokens (with a refresh token: offline_access). */
    async signIn(email: string, secret = password) {
      const flow = await authorizeOverHttp(
        createHttpBrowser(),
        {
          issuer: gh.url,
          clientId: 'web-app',
          redirectUri,
          scope: 'openid email offline_access',
          params: { prompt: 'consent' },
        },
        { email, password: secret },
      );
      return oidc.authorizationCodeGrant(rp, flow.callback, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
      });
    },

    /** The OAuth error a refresh with this token gets, undefined when it works. */
    async refreshError(refreshToken: string): Promise<string | undefined> {
      try {
        await oidc.refreshTokenGrant(rp, refreshToken);
        return undefined;
      } catch (error) {
        return (error as { error?: string }).error;
      }
    },

    /** What a client_credentials request with this secret gets. */
    async tokenStatus(clientId: string, secret: string): Promise<{ status: number; error?: string }> {
      const response = await fetch(`${gh.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      const body = (await response.json()) as { error?: string };
      return { status: response.status, ...(body.error ? { error: body.error } : {}) };
    },

    /** The newest `admin.change` audit event of `action` in the last ten minutes. */
    async lastChange(action: string) {
      const events = await gh.gatehouse.audit.list({
        since: new Date(Date.now() - 600_000),
        type: 'admin.change',
      });
      return events.filter((event) => event.details.action === action).at(-1);
    },
  };
}
