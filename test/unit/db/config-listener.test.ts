import { jest } from '@jest/globals';
import { createServer } from 'node:net';
import pino from 'pino';
import { listenForConfigChanges } from '../../../src/db/config-listener.ts';

/** A port nothing listens on: a database that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('config change listener', () => {
  it('keeps retrying a database that is down, in the background, without an unhandled error', async () => {
    const log = pino({ level: 'debug' }, { write: () => undefined });
    const failures = jest.spyOn(log, 'debug');
    const cache = { invalidate: jest.fn(), invalidateAll: jest.fn() };
    const listener = listenForConfigChanges({
      connection: { connectionString: `postgres://postgres@127.0.0.1:${await closedPort()}/postgres` },
      cache,
      log,
      firstRetryMs: 5,
      maxRetryMs: 20,
    });
    expect(await listener.started).toBe(false);
    const deadline = Date.now() + 5_000;
    while (failures.mock.calls.length < 3 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(failures.mock.calls.length).toBeGreaterThanOrEqual(3);
    await listener.close();
    // Closed: no more attempts.
    const attempts = failures.mock.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(failures.mock.calls.length).toBe(attempts);
    expect(cache.invalidate).not.toHaveBeenCalled();
  });
});
