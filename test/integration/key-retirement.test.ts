import { decodeProtectedHeader } from 'jose';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * A rotated signing key stays published until every token it signed has expired, including the JWT access tokens
 * of an API whose own lifetime (`api create --ttl`) is longer than the configured ones.
 */
let gh: TestGatehouse;
const longLived = { identifier: 'https://reports.example.com', accessTokenTtl: 86_400 };

beforeAll(async () => {
  gh = await startTestGatehouse();
  await gh.gatehouse.rbac.createApi({ ...longLived, permissions: ['reports:read'] });
  await gh.gatehouse.clients.create({
    id: 'reporter',
    secret: 'reporter-secret-0123456789',
    redirectUris: [],
    postLogoutRedirectUris: [],
    grantTypes: ['client_credentials'],
    public: false,
    firstParty: false,
  });
}, 60_000);

afterAll(async () => {
  await gh?.close();
});

it("stops a key rotation from unpublishing a key while an API's day-long JWT access tokens it signed still live", async () => {
  const response = await fetch(`${gh.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('reporter:reporter-secret-0123456789').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: longLived.identifier }),
  });
  expect(response.status).toBe(200);
  const { access_token: token, expires_in: expiresIn } = (await response.json()) as {
    access_token: string;
    expires_in: number;
  };
  expect(expiresIn).toBeGreaterThan(gh.config.ttl.accessToken);
  const { kid } = decodeProtectedHeader(token);

  const [next] = await gh.gatehouse.keys.rotate(0);
  const retiring = (await gh.gatehouse.keys.list()).find((key) => key.kid === kid);
  expect(retiring?.status).toBe('retiring');
  // The key stays published at least as long as the token it signed: its expiry is after the token's.
  const tokenExpiresAt = Date.now() + expiresIn * 1000;
  expect(retiring!.expiresAt!.getTime()).toBeGreaterThanOrEqual(
    next!.activatesAt.getTime() + longLived.accessTokenTtl * 1000,
  );
  expect(retiring!.expiresAt!.getTime()).toBeGreaterThan(tokenExpiresAt - 5_000);
});
