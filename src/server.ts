import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface RunningServer {
  server: Server;
  /** The address it listens on (`::` or `0.0.0.0`: every interface). */
  host: string;
  port: number;
  /** Stops accepting connections, lets requests in flight finish (up to `graceMs`), then resolves. */
  drain(graceMs: number): Promise<void>;
}

/** Listens with bounded header size and timeouts, so slow or oversized requests cannot hold the process. */
export function listen(app: Koa, port: number, host?: string): Promise<RunningServer> {
  const server = createServer(
    { maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000 },
    app.callback(),
  );
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve({
        server,
        host: address.address,
        port: address.port,
        drain(graceMs) {
          return new Promise((done) => {
            const timer = setTimeout(() => {
              server.closeAllConnections();
              done();
            }, graceMs);
            timer.unref();
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            // Idle keep-alive sockets would hold close() open; requests in flight keep theirs until they finish.
            server.closeIdleConnections();
          });
        },
      });
    });
  });
}

/**
 * Where this process reaches itself when it listens on `host` (null: every interface): loopback behind a wildcard,
 * the address itself otherwise (a server bound to 10.0.0.5 or ::1 does not answer on 127.0.0.1).
 */
export function internalOriginFor(host: string | null, port: number): string {
  const address = host === null || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
