import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';

/**
 * What someone who types the bare address finds, what an unknown address answers (a page for browsers, JSON for API
 * clients), and what the server's log says about a refused token request: the OAuth error and its reason, never the
 * secret or code that was sent.
 */
const clientSecret = 'front-door-secret-0123456789';
const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('the front door, unknown addresses and refused token requests', () => {
  let gatehouse: GatehouseProcess;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess();
    const client = await gatehouse.cli(
      'client',
      'create',
      '--id',
      'door-app',
      '--secret',
      clientSecret,
      '--redirect-uri',
      'http://127.0.0.1:9/cb',
    );
    expect(client.code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await gatehouse?.cleanup();
  });

  it('GET / names the issuer and links to the account page, the console and the discovery document', async () => {
    const response = await fetch(`${gatehouse.url}/`, { headers: { accept: browserAccept } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain(`<code id="issuer">${gatehouse.issuer}</code>`);
    for (const href of ['/account', '/admin', '/.well-known/openid-configuration'])
      expect(html).toContain(`href="${href}"`);
  });

  it('an unknown path is a styled 404 page for a browser', async () => {
    const response = await fetch(`${gatehouse.url}/no/such/page`, { headers: { accept: browserAccept } });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<link rel="stylesheet" href="/assets/gatehouse.css">');
    expect(html).toContain('<h1>Not found</h1>');
  });

  it('an unknown path is the JSON error for an API client (no Accept, */* or JSON)', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const response = await fetch(`${gatehouse.url}/no/such/page`, { headers: accept ? { accept } : {} });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({
        error: 'not_found',
        error_description: 'There is nothing at this address.',
      });
    }
  });

  it("oidc-provider's own paths still answer, whatever their case", async () => {
    expect((await fetch(`${gatehouse.url}/.well-known/openid-configuration`)).status).toBe(200);
    const token = await fetch(`${gatehouse.url}/TOKEN`, { method: 'POST' });
    expect(token.status).toBe(400);
    expect(((await token.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('a refused token request is logged with its OAuth error and reason, and without the secret or code', async () => {
    const code = 'Zq7fakeAuthorizationCode0123456789abcdef';
    const basic = (secret: string) => `Basic ${Buffer.from(`door-app:${secret}`).toString('base64')}`;
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: 'http://127.0.0.1:9/cb',
    });
    const wrongSecret = 'wrong-secret-9876543210zyx';
    const badClient = await fetch(`${gatehouse.url}/token`, {
      method: 'POST',
      headers: { authorization: basic(wrongSecret) },
      body,
    });
    expect(badClient.status).toBe(401);
    const badGrant = await fetch(`${gatehouse.url}/token`, {
      method: 'POST',
      headers: { authorization: basic(clientSecret) },
      body,
    });
    expect(badGrant.status).toBe(400);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const lines = gatehouse
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.msg === 'token request refused' && entry.client_id === 'door-app');
    expect(lines).toEqual([
      expect.objectContaining({
        error: 'invalid_client',
        error_description: 'client authentication failed',
        error_detail: 'invalid secret provided',
        client_id: 'door-app',
        route: 'token',
        requestId: badClient.headers.get('x-request-id'),
      }),
      expect.objectContaining({
        error: 'invalid_grant',
        error_description: 'grant request is invalid',
        error_detail: 'authorization code not found',
        client_id: 'door-app',
        grant_type: 'authorization_code',
        requestId: badGrant.headers.get('x-request-id'),
      }),
    ]);
    const output = gatehouse.output();
    for (const secret of [code, wrongSecret, clientSecret]) expect(output).not.toContain(secret);
  });
});
