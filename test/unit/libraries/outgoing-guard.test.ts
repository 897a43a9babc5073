import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createOutgoingGuard,
  isSpecialUseAddress,
  outgoingRefusal,
} from '../../../src/libraries/outgoing-guard.ts';

describe('isSpecialUseAddress', () => {
  it.each([
    '127.0.0.1',
    '::1',
    '10.0.0.1',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    'fc00::1',
    'fe80::1',
    'fe80::1%eth0',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '64:ff9b::10.0.0.1',
    '0.0.0.0',
    '::',
    '224.0.0.1',
    '255.255.255.255',
    'ff02::1',
    '[::1]',
    'not-an-address',
  ])('refuses %s', (address) => {
    expect(isSpecialUseAddress(address)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '2001:4860:4860::8888',
    '140.82.121.4',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '172.32.0.1',
  ])('allows %s', (address) => {
    expect(isSpecialUseAddress(address)).toBe(false);
  });
});

describe('createOutgoingGuard', () => {
  let server: Server;
  let port: number;
  let hits: string[];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/redirect')
        res.writeHead(302, { location: `http://localhost:${port}/internal` }).end();
      else res.end('internal');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  beforeEach(() => {
    hits = [];
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const warnings: unknown[] = [];
  const log = { warn: (details: unknown) => warnings.push(details) };

  it('refuses a special-use IP literal in production, before connecting', async () => {
    const guard = createOutgoingGuard({ enforce: true, allowHosts: [], log });
    const error = await guard.fetch(`http://127.0.0.1:${port}/internal`).catch((failure: unknown) => failure);
    expect(outgoingRefusal(error)?.message).toMatch(/127\.0\.0\.1 is a special-use address/);
    expect(hits).toEqual([]);
    expect(warnings).toContainEqual({ host: '127.0.0.1', address: '127.0.0.1' });
  });

  it('refuses a name that resolves to a special-use address, on the address it resolves to', async () => {
    const guard = createOutgoingGuard({ enforce: true, allowHosts: [], log });
    const error = await guard
      .fetch(`http://localhost:${port}/internal`, { signal: AbortSignal.timeout(5000) })
      .catch((failure: unknown) => failure);
    expect(outgoingRefusal(error)?.message).toMatch(
      /localhost resolves to (127\.0\.0\.1|::1), a special-use/,
    );
    expect(hits).toEqual([]);
  });

  it('lets hosts of outgoing.allowHosts through, and checks where they redirect to', async () => {
    const guard = createOutgoingGuard({ enforce: true, allowHosts: [`127.0.0.1:${port}`], log });
    expect(await (await guard.fetch(`http://127.0.0.1:${port}/allowed`)).text()).toBe('internal');
    const error = await guard.fetch(`http://127.0.0.1:${port}/redirect`).catch((failure: unknown) => failure);
    expect(outgoingRefusal(error)).toBeDefined();
    expect(hits).toEqual(['/allowed', '/redirect']);
  });

  it('guards nothing outside production', async () => {
    const guard = createOutgoingGuard({ enforce: false, allowHosts: [] });
    expect(guard.dispatcher).toBeUndefined();
    expect(await (await guard.fetch(`http://localhost:${port}/local`)).text()).toBe('internal');
    expect(hits).toEqual(['/local']);
  });

  it('keeps the caller’s timeout', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentHost = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const guard = createOutgoingGuard({ enforce: true, allowHosts: [silentHost] });
    const error = await guard
      .fetch(`http://${silentHost}/`, { signal: AbortSignal.timeout(200) })
      .catch((failure: unknown) => failure);
    expect((error as Error).name).toBe('TimeoutError');
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  });
});
