import { request } from 'node:http';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * Gatehouse behind one proxy (`trustProxy: 1`): what a client writes in the forwarded headers must not choose the
 * address its guesses are counted under, nor the URLs Gatehouse publishes.
 */
let gh: TestGatehouse;
const issuer = 'https://id.gatehouse.test';
const secret = 'proxy-app-secret-0123456789';

beforeAll(async () => {
  gh = await startTestGatehouse({
    hot: 'memory',
    issuer,
    config: {
      trustProxy: 1,
      throttle: {
        clientAuthentication: {
          perClient: {
            maxFailures: 1000,
            windowSeconds: 900,
            lockSeconds: 900,
            freeFailures: 1000,
            maxDelaySeconds: 1,
          },
          perIp: {
            maxFailures: 3,
            windowSeconds: 900,
            lockSeconds: 900,
            freeFailures: 3,
            maxDelaySeconds: 1,
          },
        },
      },
    },
  });
  await gh.gatehouse.clients.create({
    id: 'proxied',
    secret,
    redirectUris: ['https://app.example/cb'],
    postLogoutRedirectUris: [],
    grantTypes: ['client_credentials'],
    public: false,
    firstParty: true,
  });
});

afterAll(async () => {
  await gh?.close();
});

/** A raw request (fetch will not send a Host header of our choosing), as a client behind the proxy would send it. */
function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  const { port } = new URL(gh.url);
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, method, path, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: text }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const guess = (forwardedFor: string, clientSecret = 'wrong-secret') =>
  send(
    'POST',
    '/token',
    {
      authorization: `Basic ${Buffer.from(`proxied:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-for': forwardedFor,
      'x-forwarded-proto': 'https',
    },
    'grant_type=client_credentials',
  );

describe('behind a trusted proxy', () => {
  it('stops a secret guesser from dodging the per-address limit by writing a new X-Forwarded-For each time', async () => {
    // The proxy appends the address it saw (198.51.100.7); whatever the client put before it is the client's say.
    for (let i = 1; i <= 3; i += 1) expect((await guess(`203.0.113.${i}, 198.51.100.7`)).status).toBe(401);
    const locked = await guess('203.0.113.99, 198.51.100.7', secret);
    expect(locked.status).toBe(429);
    // Another address the proxy saw is another client: it is not locked out by the guesser.
    const other = await guess('198.51.100.8', secret);
    expect(other.status).toBe(200);
  });

  it('stops a client from poisoning the published endpoints with Host or X-Forwarded-Host', async () => {
    const discovery = await send('GET', '/.well-known/openid-configuration', {
      host: 'evil.example',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '198.51.100.9',
    });
    expect(discovery.status).toBe(200);
    const metadata = JSON.parse(discovery.body) as Record<string, unknown>;
    expect(metadata.issuer).toBe(issuer);
    const urls = Object.values(metadata).filter(
      (value): value is string => typeof value === 'string' && value.startsWith('http'),
    );
    expect(urls.length).toBeGreaterThan(5);
    for (const url of urls) expect(url.startsWith(`${issuer}/`) || url === issuer).toBe(true);
    expect(discovery.body).not.toContain('evil.example');
  });
});
