import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { markShuttingDown } from './routes/health.ts';

export interface RunningServer {
  server: Server;
  /** The address it listens on (`::` or `0.0.0.0`: every interface). */
  host: string;
  port: number;
  /**
   * Shuts down: `/readyz` answers 503 at once, requests in flight finish (up to `graceMs`), then resolves. While any
   * request is in flight the listener stays open, so a load balancer's probe learns "not ready" instead of meeting
   * a refused connection; it closes as soon as none is left. Every answer from then on closes its connection.
   */
  drain(graceMs: number): Promise<void>;
}

/** Listens with bounded header size and timeouts, so slow or oversized requests cannot hold the process. */
export function listen(app: Koa, port: number, host?: string): Promise<RunningServer> {
  const handle = app.callback();
  let inFlight = 0;
  let draining = false;
  let closeListener = () => undefined as void;
  const server = createServer(
    { maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000 },
    (req, res) => {
      inFlight += 1;
      // A keep-alive client would go on sending here; closing each connection sends it elsewhere.
      if (draining) res.shouldKeepAlive = false;
      res.once('close', () => {
        inFlight -= 1;
        if (draining && inFlight === 0) closeListener();
      });
      void handle(req, res);
    },
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
            draining = true;
            markShuttingDown(app);
            const timer = setTimeout(() => {
              server.closeAllConnections();
              done();
            }, graceMs);
            timer.unref();
            let closing = false;
            closeListener = () => {
              if (closing) return;
              closing = true;
              server.close(() => {
                clearTimeout(timer);
                done();
              });
              // Idle keep-alive sockets would hold close() open.
              server.closeIdleConnections();
            };
            server.closeIdleConnections();
            if (inFlight === 0) closeListener();
            else
              // Past the grace, the listener closes whatever is still running.
              setTimeout(closeListener, graceMs).unref();
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
