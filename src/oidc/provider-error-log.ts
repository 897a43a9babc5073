import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
import type { Logger } from 'pino';

/**
 * oidc-provider's events for a request its endpoint refused (`lib/shared/error_handler.js` emits `<route>.error`
 * for an OAuth error, `server_error` instead for a 5xx, which `create-provider.ts` already logs), with the words
 * used in the log line.
 */
const refusals = {
  'authorization.error': 'authorization request refused',
  'grant.error': 'token request refused',
  'introspection.error': 'introspection request refused',
  'revocation.error': 'revocation request refused',
  'userinfo.error': 'userinfo request refused',
  'device_authorization.error': 'device authorization request refused',
  'code_verification.error': 'device code entry refused',
  'pushed_authorization_request.error': 'pushed authorization request refused',
  'backchannel_authentication.error': 'backchannel authentication request refused',
  'end_session.error': 'logout request refused',
} as const;

/** The parts of an oidc-provider error (`lib/helpers/errors.js`) that describe it without repeating input. */
interface OAuthFailure {
  error?: unknown;
  error_description?: unknown;
  error_detail?: unknown;
  status?: unknown;
}

const maxTextLength = 200;
/**
 * Descriptions are fixed sentences of oidc-provider's (`grant request is invalid`, detail `authorization code not
 * found`); a few name a parameter or an origin. Nothing in them is a credential, but a long run of letters mixed with
 * digits would be one (a code, a token, a secret), so such runs are masked rather than trusted never to appear.
 */
function safeText(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return value
    .slice(0, maxTextLength)
    .replace(/[A-Za-z0-9_~+/=.-]{20,}/g, (run) =>
      /\d/.test(run) && /[A-Za-z]/.test(run) ? '[redacted]' : run,
    );
}

/** The OAuth error code: one of the registry's short snake_case words, never free text. */
function errorCode(value: unknown): string {
  return typeof value === 'string' && /^[a-z_]{1,64}$/.test(value) ? value : 'invalid_request';
}

/**
 * What one refused request is logged with: the OAuth `error` code and its reason (`error_description`, and
 * oidc-provider's `error_detail` where it says more), the route, the client and grant type, and the request id that
 * Gatehouse's request context put on the response. Never a parameter's value: codes, tokens, secrets, user codes
 * and assertions stay out (the body and query are not read here at all).
 */
export function describeRefusal(ctx: KoaContextWithOIDC, failure: OAuthFailure): Record<string, unknown> {
  const requestId = ctx.res.getHeader('x-request-id');
  const grantType = ctx.oidc?.params?.grant_type;
  return {
    route: ctx.oidc?.route,
    status: typeof failure.status === 'number' ? failure.status : ctx.status,
    error: errorCode(failure.error),
    error_description: safeText(failure.error_description),
    error_detail: safeText(failure.error_detail),
    client_id: ctx.oidc?.client?.clientId,
    grant_type: typeof grantType === 'string' ? safeText(grantType) : undefined,
    requestId: typeof requestId === 'string' ? requestId : undefined,
  };
}

/**
 * Logs every request oidc-provider's endpoints refuse (info: refusals are the protocol working, and an attack
 * shows as their rate, which the metrics count). Returns the provider, so the one place that builds it can wrap
 * the call.
 */
export function logProviderErrors(provider: Provider, log: Logger): Provider {
  for (const [event, message] of Object.entries(refusals)) {
    // Every one of these events has the same listener signature (ctx, error); the typings list them one by one.
    provider.on(event as 'userinfo.error', (ctx, error) => {
      log.info(describeRefusal(ctx, error), message);
    });
  }
  return provider;
}
