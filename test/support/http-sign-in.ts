import * as oidc from 'openid-client';

/** Just enough of a browser's cookie handling for one host: names and values, expiry by deletion. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(';');
      const separator = pair!.indexOf('=');
      const name = pair!.slice(0, separator).trim();
      const value = pair!.slice(separator + 1).trim();
      const expired = attributes.some((attribute) => /expires=thu, 01 jan 1970/i.test(attribute.trim()));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  clear(): void {
    this.cookies.clear();
  }
}

export interface HttpBrowser {
  jar: CookieJar;
  get(url: string): Promise<Response>;
  post(url: string, form: Record<string, string>): Promise<Response>;
}

export function createHttpBrowser(): HttpBrowser {
  const jar = new CookieJar();
  const send = async (url: string, init: RequestInit) => {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: jar.header(), accept: 'text/html' },
    });
    jar.store(response);
    return response;
  };
  return {
    jar,
    get: (url) => send(url, { method: 'GET' }),
    post: (url, form) =>
      send(url, {
        method: 'POST',
        body: new URLSearchParams(form).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
  };
}

export function formField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no field ${name} on the page:\n${html.slice(0, 2000)}`);
  return match[1]!.replaceAll('&amp;', '&');
}

export function formAction(html: string, containing: string): string {
  const actions = [...html.matchAll(/action="([^"]+)"/g)].map((match) => match[1]!.replaceAll('&amp;', '&'));
  const action = actions.find((candidate) => candidate.includes(containing));
  if (!action) throw new Error(`no form posting to *${containing}* on the page`);
  return action;
}

export interface AuthorizationRequest {
  issuer: string;
  clientId: string;
  redirectUri: string;
  scope?: string;
  params?: Record<string, string>;
}

/**
 * Drives an authorization request through Gatehouse's real sign-in pages over plain HTTP (no browser): follows
 * redirects, submits the login form, and the consent form when asked. Returns the redirect to the client.
 */
export async function authorizeOverHttp(
  browser: HttpBrowser,
  request: AuthorizationRequest,
  credentials?: { email: string; password: string },
  /** Answers the second-factor page (its HTML given) when it appears. */
  secondFactor?: (browser: HttpBrowser, html: string) => Promise<Response>,
): Promise<{ callback: URL; codeVerifier: string; state: string; nonce: string }> {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = new URL(`${request.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    response_type: 'code',
    scope: request.scope ?? 'openid email profile',
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...request.params,
  }).toString();

  let response = await browser.get(url.href);
  for (let hops = 0; hops < 12; hops += 1) {
    const location = response.headers.get('location');
    if (location) {
      const next = new URL(location, request.issuer);
      if (next.href.startsWith(request.redirectUri)) return { callback: next, codeVerifier, state, nonce };
      response = await browser.get(next.href);
      continue;
    }
    const html = await response.text();
    if (html.includes('name="password"')) {
      if (!credentials) throw new Error('asked to sign in, but no credentials were given');
      response = await browser.post(new URL(formAction(html, '/login'), request.issuer).href, {
        csrf: formField(html, 'csrf'),
        email: credentials.email,
        password: credentials.password,
      });
      if (response.status === 200) throw new Error('sign-in refused: the login form came back');
      continue;
    }
    if (html.includes('name="code"')) {
      if (!secondFactor) throw new Error('asked for a second factor, but no answer was given');
      response = await secondFactor(browser, html);
      continue;
    }
    if (html.includes('/confirm')) {
      response = await browser.post(new URL(formAction(html, '/confirm'), request.issuer).href, {
        csrf: formField(html, 'csrf'),
      });
      continue;
    }
    throw new Error(`unexpected page (status ${response.status}):\n${html.slice(0, 1500)}`);
  }
  throw new Error('too many redirects');
}

/**
 * Signs in to Gatehouse's own account page over plain HTTP (no browser): `/account`, the login page, back through
 * the callback. Resolves with the account page's HTML once it shows; throws when the login page refuses.
 */
export async function signInToAccountPage(
  browser: HttpBrowser,
  issuer: string,
  credentials: { email: string; password: string },
  page = '/account',
): Promise<string> {
  let response = await browser.get(`${issuer}${page}`);
  for (let hops = 0; hops < 15; hops += 1) {
    const location = response.headers.get('location');
    if (location) {
      response = await browser.get(new URL(location, issuer).href);
      continue;
    }
    const html = await response.text();
    if (html.includes('name="password"') && html.includes('/login')) {
      response = await browser.post(new URL(formAction(html, '/login'), issuer).href, {
        csrf: formField(html, 'csrf'),
        email: credentials.email,
        password: credentials.password,
      });
      if (response.status === 200) throw new Error('sign-in refused: the login form came back');
      continue;
    }
    if (response.status === 200) return html;
    throw new Error(`unexpected page (status ${response.status}):\n${html.slice(0, 1500)}`);
  }
  throw new Error('too many redirects');
}
