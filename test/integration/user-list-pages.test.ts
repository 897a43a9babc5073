import * as oidc from 'openid-client';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/** The admin API's user list comes a page at a time and says where the next page starts: it never stops short silently. */
let gh: TestGatehouse;
let token: string;

beforeAll(async () => {
  gh = await startTestGatehouse({ hot: 'memory' });
  await gh.gatehouse.clients.create({
    id: 'ops',
    secret: 'ops-secret-0123456789',
    redirectUris: [],
    postLogoutRedirectUris: [],
    grantTypes: ['client_credentials'],
    public: false,
    firstParty: true,
  });
  await gh.gatehouse.rbac.assignToClient('ops', 'admin');
  for (let i = 1; i <= 5; i += 1)
    await gh.gatehouse.accounts.create({
      email: `page${i}@example.com`,
      password: `page user passphrase ${i}`,
    });
  const ops = await oidc.discovery(
    new URL(gh.url),
    'ops',
    undefined,
    oidc.ClientSecretBasic('ops-secret-0123456789'),
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
  token = (await oidc.clientCredentialsGrant(ops, { resource: `${gh.url}/admin` })).access_token;
});

afterAll(async () => {
  await gh?.close();
});

const listUsers = (query: string) =>
  fetch(`${gh.url}/admin/api/users${query}`, { headers: { authorization: `Bearer ${token}` } });

it('stops the user list from ending short without saying so: every account, once, page by page', async () => {
  const seen: string[] = [];
  let query = '?limit=2';
  let pages = 0;
  for (;;) {
    const response = await listUsers(query);
    expect(response.status).toBe(200);
    const page = (await response.json()) as { users: { email: string }[]; next: string | null };
    expect(page.users.length).toBeLessThanOrEqual(2);
    seen.push(...page.users.map((user) => user.email));
    pages += 1;
    if (!page.next) break;
    query = `?limit=2&cursor=${encodeURIComponent(page.next)}`;
  }
  expect(pages).toBe(3);
  expect(seen).toEqual([1, 2, 3, 4, 5].map((i) => `page${i}@example.com`));
  // Without a limit, one page holds them all and says it is the last.
  const all = (await (await listUsers('')).json()) as { users: unknown[]; next: string | null };
  expect(all).toMatchObject({ next: null });
  expect(all.users).toHaveLength(5);
});

it('answers a cursor it did not give out, or a limit out of range, with a 400 naming the parameter', async () => {
  for (const [query, field] of [
    ['?cursor=not-a-cursor', 'cursor'],
    [`?cursor=${Buffer.from('["yesterday","x"]').toString('base64url')}`, 'cursor'],
    ['?limit=0', 'limit'],
    ['?limit=5000', 'limit'],
  ] as const) {
    const response = await listUsers(query);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request', field });
  }
});
