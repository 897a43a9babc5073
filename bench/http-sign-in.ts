import { createHash, randomBytes } from 'node:crypto';
import { basicAuthorization } from './fixtures.ts';

/**
 * A sign-in over plain HTTP, as a browser would do it (after test/support/http-sign-in.ts, reduced to what the
 * bench needs and kept here so the bench does not break when the tests' helpers change): authorization request
 * with PKCE, Gatehouse's login form (and consent form, if shown), then the code exchanged at the token endpoint.
 * Against the bare provider the interaction pages answer by themselves and no form ever appears.
 */
export interface SignInFlow {
  origin: string;
  client: { id: string; secret: string; redirectUri: string };
  scope: string;
  /** oidc-provider only issues offline_access with prompt=consent (OpenID Connect Core 1.0 section 11). */
  prompt?: 'consent';
  credentials: { email: string; password: string };
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
}

/** Names and values only: every cookie here is for one host, and the flow is over before any expires. */
class CookieJar {
  readonly #cookies = new Map<string, string>();

  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const separator = pair.indexOf('=');
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const expired = attributes.some((attribute) => /expires=thu, 01 jan 1970/i.test(attribute.trim()));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

function decodeAttribute(value: string): string {
  return value.replaceAll('&amp;', '&').replaceAll('&#x2F;', '/').replaceAll('&#47;', '/');
}

function formField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match?.[1]) throw new Error(`no field ${name} on the page`);
  return decodeAttribute(match[1]);
}

function formAction(html: string, containing: string): string {
  const action = [...html.matchAll(/action="([^"]+)"/g)]
    .map((match) => decodeAttribute(match[1] ?? ''))
    .find((candidate) => candidate.includes(containing));
  if (!action) throw new Error(`no form posting to *${containing}* on the page`);
  return action;
}

export async function signIn(flow: SignInFlow): Promise<TokenSet> {
  const jar = new CookieJar();
  const send = async (url: string, form?: Record<string, string>) => {
    const response = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        accept: 'text/html',
        cookie: jar.header(),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    jar.store(response);
    return response;
  };

  const codeVerifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL('/auth', flow.origin);
  authorize.search = new URLSearchParams({
    client_id: flow.client.id,
    redirect_uri: flow.client.redirectUri,
    response_type: 'code',
    scope: flow.scope,
    state,
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...(flow.prompt ? { prompt: flow.prompt } : {}),
  }).toString();

  let response = await send(authorize.href);
  for (let hops = 0; hops < 16; hops += 1) {
    const location = response.headers.get('location');
    // Read every body, so keep-alive connections go back to the pool.
    const body = await response.text();
    if (location) {
      const next = new URL(location, flow.origin);
      if (next.href.startsWith(flow.client.redirectUri)) return exchangeCode(flow, next, state, codeVerifier);
      response = await send(next.href);
    } else if (response.status === 200 && body.includes('name="password"')) {
      response = await send(new URL(formAction(body, '/login'), flow.origin).href, {
        csrf: formField(body, 'csrf'),
        email: flow.credentials.email,
        password: flow.credentials.password,
      });
      if (response.status === 200) throw new Error('sign-in refused: the login form came back');
    } else if (response.status === 200 && body.includes('/confirm')) {
      response = await send(new URL(formAction(body, '/confirm'), flow.origin).href, {
        csrf: formField(body, 'csrf'),
      });
    } else {
      throw new Error(`unexpected answer during sign-in (status ${response.status}): ${body.slice(0, 300)}`);
    }
  }
  throw new Error('sign-in did not reach the redirect URI within 16 hops');
}

async function exchangeCode(
  flow: SignInFlow,
  callback: URL,
  state: string,
  codeVerifier: string,
): Promise<TokenSet> {
  const code = callback.searchParams.get('code');
  if (!code || callback.searchParams.get('state') !== state) {
    throw new Error(`the redirect carried no code for this request: ${callback.search}`);
  }
  return postToken(flow.origin, flow.client, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: flow.client.redirectUri,
    code_verifier: codeVerifier,
  });
}

/** A token endpoint request with client_secret_basic; throws with the OAuth error when it is refused. */
export async function postToken(
  origin: string,
  client: { id: string; secret: string },
  form: Record<string, string>,
): Promise<TokenSet> {
  const response = await fetch(new URL('/token', origin), {
    method: 'POST',
    headers: {
      authorization: basicAuthorization(client),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams(form).toString(),
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}: ${body.slice(0, 300)}`);
  return JSON.parse(body) as TokenSet;
}
