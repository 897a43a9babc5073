import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';

/**
 * The loopback side of a relying party: receives the browser at its redirect URIs and hands each arrival to the
 * test, which then does what a real app would (code exchange with openid-client).
 */
export interface CallbackServer {
  origin: string;
  /** Resolves with the next URL the browser arrives at under `path`. */
  next(path?: string): Promise<URL>;
  /** Resolves with the body of the next POST to `path` (back-channel logout tokens arrive this way). */
  nextPost(path: string): Promise<URLSearchParams>;
  close(): Promise<void>;
}

export async function startCallbackServer(): Promise<CallbackServer> {
  const arrivals = createMailbox<URL>();
  const posts = createMailbox<URLSearchParams>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk));
      req.on('end', () => {
        res.writeHead(200).end();
        posts.deliver(url.pathname, new URLSearchParams(body));
      });
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>relying party</title><p>back at the app</p>');
    arrivals.deliver(url.pathname, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    next: (path = '/cb') => arrivals.receive(path),
    nextPost: (path) => posts.receive(path),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Per-path queues: what arrives before anyone waits is kept for the next receiver. */
function createMailbox<T>() {
  const waiting = new Map<string, ((item: T) => void)[]>();
  const kept = new Map<string, T[]>();
  return {
    deliver(path: string, item: T) {
      const resolver = waiting.get(path)?.shift();
      if (resolver) resolver(item);
      else kept.set(path, [...(kept.get(path) ?? []), item]);
    },
    receive(path: string): Promise<T> {
      const early = kept.get(path)?.shift();
      if (early !== undefined) return Promise.resolve(early);
      return new Promise((resolve) => waiting.set(path, [...(waiting.get(path) ?? []), resolve]));
    },
  };
}

export async function discoverAsClient(
  issuer: string,
  clientId: string,
  secret?: string,
): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(issuer),
    clientId,
    undefined,
    secret ? oidc.ClientSecretBasic(secret) : oidc.None(),
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
}

export interface PendingAuthorization {
  url: URL;
  codeVerifier: string;
  state: string;
  nonce: string;
}

export async function startAuthorization(
  config: oidc.Configuration,
  params: Record<string, string>,
): Promise<PendingAuthorization> {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...params,
  });
  return { url, codeVerifier, state, nonce };
}
