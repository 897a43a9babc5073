import * as oidc from 'openid-client';
import type { ProviderCredentials } from './identity-providers.ts';
import { UpstreamError } from '../errors/upstream-error.ts';
import { outgoingRefusal, type OutgoingGuard } from './outgoing-guard.ts';

/** What an upstream says about the person, mapped to Gatehouse's terms. */
export interface UpstreamProfile {
  /** The upstream's stable identifier: OpenID `sub`, or GitHub's numeric user id. */
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  name: string | undefined;
  /** Everything the upstream said, for role rules (for example a `groups` claim). */
  claims: Record<string, unknown>;
}

/** The secrets of one round trip, kept server-side between the redirect to the upstream and its callback. */
export interface UpstreamRequest {
  state: string;
  nonce: string;
  codeVerifier: string;
}

const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Whether an error (or one of its causes) means the upstream did not answer at all, or was not asked. */
function isUnreachable(error: unknown): boolean {
  if (outgoingRefusal(error)) return true;
  for (
    let current = error as { name?: string; message?: string; code?: string; cause?: unknown } | undefined,
      depth = 0;
    current && depth < 6;
    current = current.cause as typeof current, depth += 1
  ) {
    if (current.name === 'TimeoutError' || current.name === 'AbortError') return true;
    if (current.code && unreachableCodes.has(current.code)) return true;
    if (current.name === 'TypeError' && current.message === 'fetch failed') return true;
  }
  return false;
}

const githubApi = (base: string) =>
  new URL(base).host === 'github.com' ? 'https://api.github.com' : `${base}/api/v3`;

/**
 * The client side of "Login with ...": Gatehouse as a relying party of an upstream, with openid-client. OpenID
 * providers (and Google) through discovery with `state`, `nonce` and PKCE; GitHub through its OAuth 2.0 endpoints
 * and REST API (`/user`, `/user/emails` for the verified primary address). Every call has a timeout, so an
 * upstream that does not answer ends on a clear page instead of a hung request.
 *
 * Every call (discovery, token, userinfo, JWKS, GitHub's API) goes out through `outgoing`, the private-address
 * guard: in production an upstream whose URLs are or resolve to loopback, private or other special-use addresses
 * is not called (unless `outgoing.allowHosts` lists its host), so whoever can register an upstream, or change what
 * its discovery document says, cannot make Gatehouse reach internal services (SSRF). Such a refusal ends like an
 * upstream that does not answer: `UpstreamError` 'unreachable', with the refusal as its cause.
 */
export function createUpstreamSignIn(deps: { timeoutMs: number; outgoing: OutgoingGuard }) {
  const configurations = new Map<string, { at: number; configuration: Promise<oidc.Configuration> }>();
  const cacheMs = 60_000;

  const timedFetch: oidc.CustomFetch = (url, options) =>
    deps.outgoing.fetch(url, { ...(options as RequestInit), signal: AbortSignal.timeout(deps.timeoutMs) });

  /** The error an upstream call failed with, or the guard's refusal behind it (which says why). */
  const reason = (error: unknown) => outgoingRefusal(error) ?? error;

  function options(issuer: string) {
    return {
      [oidc.customFetch]: timedFetch,
      ...(issuer.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : {}),
    };
  }

  async function build(provider: ProviderCredentials): Promise<oidc.Configuration> {
    let configuration: oidc.Configuration;
    if (provider.type === 'github') {
      configuration = new oidc.Configuration(
        {
          issuer: provider.issuer,
          authorization_endpoint: `${provider.issuer}/login/oauth/authorize`,
          token_endpoint: `${provider.issuer}/login/oauth/access_token`,
        },
        provider.clientId,
        undefined,
        oidc.ClientSecretPost(provider.clientSecret),
      );
      if (provider.issuer.startsWith('http:')) oidc.allowInsecureRequests(configuration);
    } else {
      configuration = await oidc.discovery(
        new URL(provider.issuer),
        provider.clientId,
        undefined,
        oidc.ClientSecretBasic(provider.clientSecret),
        options(provider.issuer),
      );
    }
    configuration[oidc.customFetch] = timedFetch;
    return configuration;
  }

  function configurationOf(provider: ProviderCredentials): Promise<oidc.Configuration> {
    const key = `${provider.id}|${provider.issuer}|${provider.clientId}`;
    const cached = configurations.get(key);
    if (cached && Date.now() - cached.at < cacheMs) return cached.configuration;
    const configuration = build(provider);
    configurations.set(key, { at: Date.now(), configuration });
    configuration.catch(() => configurations.delete(key));
    return configuration;
  }

  async function githubProfile(provider: ProviderCredentials, accessToken: string): Promise<UpstreamProfile> {
    const api = githubApi(provider.issuer);
    const get = async (path: string) => {
      const response = await deps.outgoing.fetch(`${api}${path}`, {
        headers: {
          authorization: `Bearer ${accessToken}`,
          accept: 'application/vnd.github+json',
          'user-agent': 'Gatehouse',
        },
        signal: AbortSignal.timeout(deps.timeoutMs),
      });
      if (!response.ok) throw new UpstreamError('rejected', `GitHub answered ${response.status} for ${path}`);
      return response.json() as Promise<unknown>;
    };
    const user = (await get('/user')) as {
      id?: number;
      login?: string;
      name?: string | null;
      email?: string | null;
    };
    if (typeof user.id !== 'number')
      throw new UpstreamError('rejected', 'GitHub did not say who the user is');
    const emails = (await get('/user/emails')) as { email: string; primary: boolean; verified: boolean }[];
    const primary = Array.isArray(emails) ? emails.find((entry) => entry.primary) : undefined;
    return {
      subject: String(user.id),
      email: primary?.email ?? user.email ?? undefined,
      emailVerified: primary?.verified === true,
      name: user.name ?? user.login ?? undefined,
      claims: { ...user, emails },
    };
  }

  return {
    /** Checks that an issuer answers OpenID discovery (when an operator registers it). */
    async discover(issuer: string): Promise<void> {
      try {
        await oidc.discovery(new URL(issuer), 'discovery-check', undefined, oidc.None(), options(issuer));
      } catch (error) {
        throw reason(error);
      }
    },

    newRequest(): UpstreamRequest {
      return {
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        codeVerifier: oidc.randomPKCECodeVerifier(),
      };
    },

    /**
     * Where to send the browser. `freshSignIn` (the app asked Gatehouse for a new sign-in: `prompt=login`,
     * `max_age`) asks an OpenID upstream for one too (`prompt=login`), so a session there cannot stand in for it;
     * GitHub has no such parameter.
     */
    async authorizationUrl(
      provider: ProviderCredentials,
      request: UpstreamRequest,
      redirectUri: string,
      options: { freshSignIn?: boolean } = {},
    ): Promise<URL> {
      let configuration: oidc.Configuration;
      try {
        configuration = await configurationOf(provider);
      } catch (error) {
        throw new UpstreamError('unreachable', `${provider.name} could not be reached`, {
          cause: reason(error),
        });
      }
      return oidc.buildAuthorizationUrl(configuration, {
        redirect_uri: redirectUri,
        scope: provider.scope,
        state: request.state,
        code_challenge: await oidc.calculatePKCECodeChallenge(request.codeVerifier),
        code_challenge_method: 'S256',
        ...(provider.type === 'github' ? {} : { nonce: request.nonce }),
        ...(provider.type !== 'github' && options.freshSignIn ? { prompt: 'login' } : {}),
      });
    },

    /** Exchanges the code of the callback and reads the profile. */
    async complete(
      provider: ProviderCredentials,
      callback: URL,
      request: UpstreamRequest,
    ): Promise<UpstreamProfile> {
      const error = callback.searchParams.get('error');
      if (error)
        throw new UpstreamError(
          error === 'access_denied' ? 'denied' : 'rejected',
          `${provider.name} answered ${error}`,
        );
      let configuration: oidc.Configuration;
      try {
        configuration = await configurationOf(provider);
      } catch (error) {
        throw new UpstreamError('unreachable', `${provider.name} could not be reached`, {
          cause: reason(error),
        });
      }
      let tokens;
      try {
        tokens = await oidc.authorizationCodeGrant(configuration, callback, {
          pkceCodeVerifier: request.codeVerifier,
          expectedState: request.state,
          ...(provider.type === 'github'
            ? { idTokenExpected: false }
            : { expectedNonce: request.nonce, idTokenExpected: true }),
        });
      } catch (cause) {
        throw new UpstreamError(
          isUnreachable(cause) ? 'unreachable' : 'rejected',
          `${provider.name} did not complete the sign-in`,
          { cause: reason(cause) },
        );
      }
      if (provider.type === 'github') {
        try {
          return await githubProfile(provider, tokens.access_token);
        } catch (cause) {
          if (cause instanceof UpstreamError) throw cause;
          throw new UpstreamError(
            isUnreachable(cause) ? 'unreachable' : 'rejected',
            `${provider.name} did not say who the user is`,
            { cause: reason(cause) },
          );
        }
      }
      const claims = { ...tokens.claims() } as Record<string, unknown>;
      if (claims.email === undefined && configuration.serverMetadata().userinfo_endpoint) {
        Object.assign(
          claims,
          await oidc
            .fetchUserInfo(configuration, tokens.access_token, String(claims.sub))
            .catch((cause: unknown) => {
              // Userinfo is best effort, but a userinfo endpoint the guard refused is an upstream misconfigured
              // (or worse), not one that had nothing to add.
              const refused = outgoingRefusal(cause);
              if (refused)
                throw new UpstreamError('unreachable', `${provider.name} did not say who the user is`, {
                  cause: refused,
                });
              return {};
            }),
        );
      }
      return {
        subject: String(claims.sub),
        email: typeof claims.email === 'string' ? claims.email : undefined,
        emailVerified: claims.email_verified === true,
        name: typeof claims.name === 'string' ? claims.name : undefined,
        claims,
      };
    },
  };
}

export type UpstreamSignIn = ReturnType<typeof createUpstreamSignIn>;
