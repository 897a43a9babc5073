import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface RunningServer {
  server: Server;
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
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
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
