import { createHash } from 'node:crypto';
import { IssuerUnavailableError, type GuardAuth } from './types.ts';

/** An AuthZEN subject or resource: `{ type, id, properties? }` (Gatehouse: Cedar entity type and id). */
export interface AuthzenEntity {
  type: string;
  id: string;
  properties?: Record<string, unknown>;
}

/** One question for the policy decision point. */
export interface AuthzenEvaluation {
  subject: AuthzenEntity;
  action: { name: string; properties?: Record<string, unknown> };
  resource: AuthzenEntity;
  context?: Record<string, unknown>;
}

/** How `authorize()` reaches Gatehouse's AuthZEN API (the `authz` option of a guard). */
export interface AuthzenOptions {
  /**
   * The guard's own client at Gatehouse (`client_credentials`, holding a role with `authz:evaluate`): it gets a token
   * for `<issuer>/authz` with them, keeps it, and gets a new one before it expires.
   */
  clientId: string;
  clientSecret: string;
  /** The API the token is for (default `<issuer>/authz`). */
  resource?: string;
  /** Default: `access_evaluations_endpoint` of `<issuer>/.well-known/authzen-configuration`. */
  evaluationsEndpoint?: string;
  /** Default: `token_endpoint` of `<issuer>/.well-known/openid-configuration`. */
  tokenEndpoint?: string;
  /** How long a decision (allow or deny) is reused for the same question, in seconds (default 5; 0: ask every time). */
  cacheSeconds?: number;
  /** How many decisions are remembered (default 10,000; the oldest go first). */
  cacheMaxEntries?: number;
  /**
   * How long the first of a batch waits for others, in ms (default 2; 0: the questions asked in the same tick).
   * Every question asked meanwhile goes to the PDP in one `evaluations` request.
   */
  batchWindowMs?: number;
  /** The most questions in one `evaluations` request (default 100; the PDP takes at most 1,000). */
  maxBatchSize?: number;
  /** Timeout of each call to Gatehouse, in ms (default 5000). */
  timeoutMs?: number;
  /**
   * Who asks, from the verified token. Default: `{type: 'client', id: clientId}` for a client's own token
   * (`client_credentials`: `sub` is the client id), else `{type: 'user', id: sub}` (a Gatehouse account).
   */
  subject?: (auth: GuardAuth) => AuthzenEntity;
  /** The `fetch` to use (default: the global one), e.g. to count or proxy calls. */
  fetch?: typeof fetch;
}

/** Asks the PDP; resolves to the decision, rejects with {@link IssuerUnavailableError} when it cannot be had. */
export interface AuthzenClient {
  evaluate(question: AuthzenEvaluation): Promise<boolean>;
}

/** The default subject of a verified token (see {@link AuthzenOptions.subject}). */
export function defaultSubject(auth: GuardAuth): AuthzenEntity {
  return auth.clientId !== '' && auth.subject === auth.clientId
    ? { type: 'client', id: auth.clientId }
    : { type: 'user', id: auth.subject };
}

/** JSON with object keys sorted, so that equal questions have equal cache keys. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

interface Pending {
  key: string;
  question: AuthzenEvaluation;
  resolve(decision: boolean): void;
  reject(error: unknown): void;
}

/**
 * A client of Gatehouse's AuthZEN API (OpenID AuthZEN Authorization API 1.0): concurrent questions are batched into
 * one `POST evaluations`, identical ones asked once, decisions cached for `cacheSeconds`, and every failure (Gatehouse
 * unreachable, a 401 or 5xx, an answer that is not one decision per question) is an {@link IssuerUnavailableError},
 * never an allow. Failures are never cached.
 */
export function createAuthzenClient(issuer: string, options: AuthzenOptions): AuthzenClient {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? 5000;
  const cacheMs = (options.cacheSeconds ?? 5) * 1000;
  const maxEntries = options.cacheMaxEntries ?? 10_000;
  const windowMs = options.batchWindowMs ?? 2;
  const maxBatch = Math.max(1, Math.min(options.maxBatchSize ?? 100, 1000));
  const audience = options.resource ?? `${trimSlash(issuer)}/authz`;
  const basic = `Basic ${Buffer.from(
    `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
  ).toString('base64')}`;

  const call = async (url: string, init: RequestInit, what: string) => {
    try {
      return await doFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    } catch (error) {
      throw new IssuerUnavailableError(`${what} at ${url} cannot be reached`, { cause: error });
    }
  };
  const json = async (response: Response, url: string, what: string): Promise<Record<string, unknown>> => {
    if (!response.ok) {
      await response.body?.cancel();
      throw new IssuerUnavailableError(`${what} at ${url} answered ${response.status}`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      throw new IssuerUnavailableError(`${what} at ${url} did not answer JSON`, { cause: error });
    }
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new IssuerUnavailableError(`${what} at ${url} did not answer a JSON object`);
    return body as Record<string, unknown>;
  };
  /** A metadata document, kept once fetched (a failure is not kept). */
  const metadata = (path: string, what: string) => {
    let pending: Promise<Record<string, unknown>> | undefined;
    return () => {
      const url = `${trimSlash(issuer)}${path}`;
      pending ??= call(url, { headers: { accept: 'application/json' } }, what)
        .then((response) => json(response, url, what))
        .catch((error: unknown) => {
          pending = undefined;
          throw error;
        });
      return pending;
    };
  };
  const discovery = metadata('/.well-known/openid-configuration', 'discovery');
  const authzenMetadata = metadata('/.well-known/authzen-configuration', 'AuthZEN metadata');
  const endpointOf = async (
    given: string | undefined,
    document: () => Promise<Record<string, unknown>>,
    member: string,
  ) => {
    if (given) return given;
    const value = (await document())[member];
    if (typeof value !== 'string')
      throw new IssuerUnavailableError(`the issuer's metadata names no ${member}`);
    return value;
  };

  // The guard's own access token for the AuthZEN API, fetched once at a time and renewed before it expires.
  let token: { value: string; renewAt: number } | undefined;
  let tokenPending: Promise<string> | undefined;
  const fetchToken = async (): Promise<string> => {
    const url = await endpointOf(options.tokenEndpoint, discovery, 'token_endpoint');
    const response = await call(
      url,
      {
        method: 'POST',
        headers: {
          authorization: basic,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: audience }),
      },
      'the token endpoint',
    );
    const body = await json(response, url, 'the token endpoint');
    if (typeof body.access_token !== 'string')
      throw new IssuerUnavailableError('the token endpoint answered no access_token');
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    // Renewed at 80% of its life (at most a minute early), so that a token is never sent as it expires.
    const margin = Math.min(60, lifetime * 0.2);
    token = { value: body.access_token, renewAt: Date.now() + (lifetime - margin) * 1000 };
    return body.access_token;
  };
  const accessToken = (): Promise<string> => {
    if (token && token.renewAt > Date.now()) return Promise.resolve(token.value);
    tokenPending ??= fetchToken().finally(() => (tokenPending = undefined));
    return tokenPending;
  };

  const ask = async (questions: AuthzenEvaluation[]): Promise<boolean[]> => {
    const url = await endpointOf(options.evaluationsEndpoint, authzenMetadata, 'access_evaluations_endpoint');
    const body = JSON.stringify({ evaluations: questions });
    const send = async (bearer: string) =>
      call(
        url,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${bearer}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body,
        },
        'the AuthZEN evaluations endpoint',
      );
    let bearer = await accessToken();
    let response = await send(bearer);
    if (response.status === 401) {
      // The token may have been revoked or the keys rotated: one more try with a new token, else unavailable.
      await response.body?.cancel();
      if (token?.value === bearer) token = undefined;
      bearer = await accessToken();
      response = await send(bearer);
    }
    const answer = await json(response, url, 'the AuthZEN evaluations endpoint');
    const evaluations = answer.evaluations;
    if (!Array.isArray(evaluations) || evaluations.length !== questions.length)
      throw new IssuerUnavailableError('the AuthZEN evaluations endpoint did not answer every question');
    return evaluations.map(
      (item) => !!item && typeof item === 'object' && (item as { decision?: unknown }).decision === true,
    );
  };

  const cache = new Map<string, { decision: boolean; expiresAt: number }>();
  const inFlight = new Map<string, Promise<boolean>>();
  let queue: Pending[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    for (let start = 0; start < batch.length; start += maxBatch) {
      const part = batch.slice(start, start + maxBatch);
      ask(part.map((pending) => pending.question)).then(
        (decisions) =>
          part.forEach((pending, index) => {
            const decision = decisions[index]!;
            if (cacheMs > 0) {
              cache.delete(pending.key);
              while (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
              cache.set(pending.key, { decision, expiresAt: Date.now() + cacheMs });
            }
            pending.resolve(decision);
          }),
        (error: unknown) => part.forEach((pending) => pending.reject(error)),
      );
    }
  };

  return {
    evaluate(question) {
      const key = createHash('sha256').update(canonical(question)).digest('base64url');
      if (cacheMs > 0) {
        const hit = cache.get(key);
        if (hit && hit.expiresAt > Date.now()) return Promise.resolve(hit.decision);
        if (hit) cache.delete(key);
      }
      const same = inFlight.get(key);
      if (same) return same;
      const decision = new Promise<boolean>((resolve, reject) => {
        queue.push({ key, question, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          if (windowMs > 0) setTimeout(flush, windowMs);
          else setImmediate(flush);
        }
      }).finally(() => inFlight.delete(key));
      inFlight.set(key, decision);
      return decision;
    },
  };
}
