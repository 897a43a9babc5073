import {
  startGatehouseProcess,
  type GatehouseProcess,
  type StorageMode,
} from '../support/gatehouse-process.ts';

/**
 * What the CLI changes takes effect in a running server at once, on real storage and on the embedded defaults
 * (where the CLI reaches the server's PGlite through the socket it exposes on loopback).
 */
describe.each<StorageMode>(['embedded', 'real'])('the CLI next to a running server (%s storage)', (mode) => {
  let gatehouse: GatehouseProcess;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess({ mode });
  }, 90_000);

  afterAll(() => gatehouse.cleanup());

  it('registers a client the server accepts on the very next request', async () => {
    const authorize = () =>
      fetch(
        `${gatehouse.url}/auth?client_id=fresh&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A7%2Fcb&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
        {
          redirect: 'manual',
        },
      );
    expect((await authorize()).status).toBe(400);
    const created = await gatehouse.cli(
      'client',
      'create',
      '--id',
      'fresh',
      '--public',
      '--redirect-uri',
      'http://127.0.0.1:7/cb',
      '--json',
    );
    expect(created.code).toBe(0);
    const response = await authorize();
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toMatch(/^\/interaction\//);
  });

  it('lists what the server created, while the server runs', async () => {
    const clients = await gatehouse.cli('client', 'list', '--json');
    expect(clients.code).toBe(0);
    expect(clients.json<{ id: string }[]>().map((client) => client.id)).toEqual(
      expect.arrayContaining(['gatehouse-account', 'fresh']),
    );
  });

  it('publishes rotated keys in the running server without a restart', async () => {
    const kids = async () =>
      ((await (await fetch(`${gatehouse.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map(
        (key) => key.kid,
      );
    const before = await kids();
    const rotated = await gatehouse.cli('keys', 'rotate', '--activate-in', '0', '--json');
    expect(rotated.code).toBe(0);
    const added = rotated.json<{ kid: string }[]>().map((key) => key.kid);
    const deadline = Date.now() + 10_000;
    let after = before;
    while (Date.now() < deadline && !added.every((kid) => after.includes(kid))) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = await kids();
    }
    expect(after).toEqual(expect.arrayContaining([...added, ...before]));
    // The new keys sign from now on: the server lists them first.
    expect(after.slice(0, 2).sort()).toEqual([...added].sort());
  });
});
