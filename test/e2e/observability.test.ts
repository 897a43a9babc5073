import { totpCodeAt } from '../../src/libraries/totp.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import { authorizeOverHttp, createHttpBrowser, formAction, formField } from '../support/http-sign-in.ts';

/**
 * What operators see: the process's logs (at debug level, the most talkative) after a full sign-in with a wrong
 * password, a second factor, a code exchange, a refresh, userinfo and introspection hold none of the secrets that
 * went through it; and `/metrics` counts what happened.
 */
const user = { email: 'watched@example.com', password: 'a passphrase nobody may log' };
const client = {
  id: 'observed-app',
  secret: 'observed-app-secret-0123456789',
  redirectUri: 'http://127.0.0.1:9/cb',
};

describe('logs and metrics', () => {
  let gatehouse: GatehouseProcess;
  const secrets: string[] = [user.password, client.secret];
  let totpSecret = '';

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess({ env: { LOG_LEVEL: 'debug' } });
    await gatehouse.cli('user', 'create', '--email', user.email, '--password', user.password);
    await gatehouse.cli(
      'client',
      'create',
      '--id',
      client.id,
      '--secret',
      client.secret,
      '--redirect-uri',
      client.redirectUri,
      '--grant-type',
      'authorization_code',
      '--grant-type',
      'refresh_token',
      '--first-party',
    );
    const enrolled = await gatehouse.cli('user', 'enroll-totp', '--email', user.email, '--json');
    totpSecret = (JSON.parse(enrolled.stdout) as { secret: string }).secret;
    secrets.push(totpSecret);
  }, 120_000);

  afterAll(async () => {
    await gatehouse?.cleanup();
  });

  const basic = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  const post = (path: string, form: Record<string, string>) =>
    fetch(`${gatehouse.url}${path}`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });

  it('logs none of the passwords, codes, tokens or secrets of a full flow', async () => {
    const browser = createHttpBrowser();
    const wrongPassword = 'the wrong passphrase entirely';
    secrets.push(wrongPassword);
    const { callback, codeVerifier } = await authorizeOverHttp(
      browser,
      {
        issuer: gatehouse.url,
        clientId: client.id,
        redirectUri: client.redirectUri,
        scope: 'openid offline_access',
      },
      user,
      async (session, html) => {
        const action = new URL(formAction(html, '/mfa'), gatehouse.url).href;
        const code = await totpCodeAt(totpSecret, Math.floor(Date.now() / 1000));
        secrets.push(code);
        return session.post(action, { csrf: formField(html, 'csrf'), code });
      },
    );
    // A wrong password through the real form too: failed attempts must not be logged either.
    const again = createHttpBrowser();
    const start = await again.get(
      `${gatehouse.url}/auth?${new URLSearchParams({ client_id: client.id, response_type: 'code', scope: 'openid', redirect_uri: client.redirectUri, code_challenge: 'c'.repeat(43), code_challenge_method: 'S256' })}`,
    );
    const loginPage = await (
      await again.get(new URL(start.headers.get('location')!, gatehouse.url).href)
    ).text();
    const refused = await again.post(new URL(formAction(loginPage, '/login'), gatehouse.url).href, {
      csrf: formField(loginPage, 'csrf'),
      email: user.email,
      password: wrongPassword,
    });
    expect(refused.status).toBe(200);

    const code = callback.searchParams.get('code')!;
    secrets.push(code, codeVerifier);
    const tokens = (await (
      await post('/token', {
        grant_type: 'authorization_code',
        code,
        code_verifier: codeVerifier,
        redirect_uri: client.redirectUri,
      })
    ).json()) as { access_token: string; refresh_token: string; id_token: string };
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = (await (
      await post('/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })
    ).json()) as { access_token: string; refresh_token: string };
    const userinfo = await fetch(`${gatehouse.url}/me`, {
      headers: { authorization: `Bearer ${refreshed.access_token}` },
    });
    expect(userinfo.status).toBe(200);
    const introspection = (await (
      await post('/token/introspection', { token: refreshed.access_token })
    ).json()) as {
      active: boolean;
    };
    expect(introspection.active).toBe(true);
    secrets.push(
      tokens.access_token,
      tokens.refresh_token,
      tokens.id_token,
      refreshed.access_token,
      refreshed.refresh_token,
    );
    // The session cookie and every cookie signature are as good as a token to whoever holds them. The interaction
    // cookies hold the interaction id, which is part of the sign-in URLs anyway (so in logged paths), and useless
    // without its signature cookie.
    for (const pair of browser.jar.header().split('; ')) {
      const name = pair.slice(0, pair.indexOf('='));
      if (name !== 'gh_interaction' && name !== 'gh_interaction_resume')
        secrets.push(pair.slice(name.length + 1));
    }
    expect(secrets.length).toBeGreaterThan(10);

    await new Promise((resolve) => setTimeout(resolve, 200));
    const logs = gatehouse.output();
    expect(logs).toContain('"level":20'); // debug lines were written: the check below has something to read
    expect(logs).toMatch(/"path":"\/token"/);
    for (const secret of secrets.filter((value) => value.length >= 6)) expect(logs).not.toContain(secret);
  });

  it('counts requests, sign-ins, tokens by grant type and the event loop in /metrics', async () => {
    const response = await fetch(`${gatehouse.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const metrics = await response.text();
    const value = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? Number.NaN);
    expect(value(/^gatehouse_sign_ins_total\{outcome="succeeded",factor="password"\} (\d+)/m)).toBe(1);
    expect(value(/^gatehouse_sign_ins_total\{outcome="failed",factor="password"\} (\d+)/m)).toBe(1);
    expect(value(/^gatehouse_sign_ins_total\{outcome="succeeded",factor="second"\} (\d+)/m)).toBe(1);
    expect(value(/^gatehouse_tokens_issued_total\{grant_type="authorization_code"\} (\d+)/m)).toBe(1);
    expect(value(/^gatehouse_tokens_issued_total\{grant_type="refresh_token"\} (\d+)/m)).toBe(1);
    expect(
      value(
        /^gatehouse_http_request_duration_seconds_count\{route="\/token",method="POST",status="2xx"\} (\d+)/m,
      ),
    ).toBe(2);
    expect(metrics).toMatch(/^gatehouse_storage_errors_total 0$/m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_seconds /m);
    // Identifiers in paths are folded into placeholders: no label per interaction.
    expect(metrics).not.toMatch(/route="\/interaction\/[A-Za-z0-9_-]{10,}/);
  });
});
