import { request } from 'node:http';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';

/**
 * SIGTERM: `/readyz` answers 503 at once, so a load balancer takes the process out of rotation, while a request
 * already in flight (here a token request whose body is still arriving) finishes with a real answer.
 */
describe('shutting down', () => {
  let gatehouse: GatehouseProcess;

  beforeAll(async () => {
    gatehouse = await startGatehouseProcess();
  });
  afterAll(async () => gatehouse?.cleanup());

  it('answers /readyz with 503 from SIGTERM on, while a slow request in flight completes', async () => {
    expect((await fetch(`${gatehouse.url}/readyz`)).status).toBe(200);
    const body = 'grant_type=client_credentials&client_id=nobody&client_secret=nothing-here';
    const slow = request(`${gatehouse.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(Buffer.byteLength(body)),
      },
    });
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      slow.once('response', (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk));
        response.once('end', () => resolve({ status: response.statusCode ?? 0, text }));
      });
      slow.once('error', reject);
    });
    // Half the body: the server has the request and waits for the rest.
    slow.write(body.slice(0, 20));
    await new Promise((resolve) => setTimeout(resolve, 300));

    const exit = gatehouse.stop('SIGTERM');
    let readiness: Response | undefined;
    const deadline = Date.now() + 5000;
    // The signal takes a moment to arrive; until then the answer is still 200.
    while (Date.now() < deadline) {
      // A pooled keep-alive connection the server closes as it starts draining fails once: ask again.
      readiness = await fetch(`${gatehouse.url}/readyz`).catch(() => undefined);
      if (readiness?.status === 503) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(readiness?.status).toBe(503);
    expect(await readiness?.json()).toEqual({ status: 'shutting down' });
    // Liveness is unaffected: the process still answers while it drains.
    expect((await fetch(`${gatehouse.url}/healthz`)).status).toBe(200);

    slow.end(body.slice(20));
    const completed = await answer;
    expect(completed.status).toBe(401);
    expect(JSON.parse(completed.text)).toMatchObject({ error: 'invalid_client' });
    expect(await exit).toBe(0);
    await expect(fetch(`${gatehouse.url}/healthz`)).rejects.toThrow();
  });
});
