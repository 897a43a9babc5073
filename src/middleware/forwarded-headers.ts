import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4 } from 'node:net';
import type { Middleware } from 'koa';

/**
 * Which peers Gatehouse trusts to forward requests (config `trustProxy`): none (`false`), the N proxies nearest to
 * Gatehouse (a number; `true` is 1), or the proxies at these addresses and CIDR blocks (a list).
 */
export type TrustProxy = boolean | number | readonly string[];

const unmapped = (address: string) => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');

/** Whether the hop `fromGatehouse` steps away (0: the peer of the socket) at `address` is one of our proxies. */
export function proxyTrust(setting: TrustProxy): (address: string, fromGatehouse: number) => boolean {
  if (setting === false) return () => false;
  if (typeof setting === 'boolean' || typeof setting === 'number') {
    const hops = setting === true ? 1 : setting;
    return (_address, fromGatehouse) => fromGatehouse < hops;
  }
  const trusted = new BlockList();
  for (const entry of setting) {
    const [address = '', prefix] = entry.split('/');
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) trusted.addAddress(address, type);
    else trusted.addSubnet(address, Number(prefix), type);
  }
  return (address) => {
    const plain = unmapped(address);
    return trusted.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
  };
}

/**
 * The client's address: walking `X-Forwarded-For` from the right (the socket's peer last), the first hop that is
 * not one of our proxies. Everything left of it was written by the client and proves nothing.
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | undefined,
  trusted: (address: string, fromGatehouse: number) => boolean,
): string {
  const hops = [
    ...(forwardedFor ?? '')
      .split(',')
      .map((hop) => hop.trim())
      .filter(Boolean),
    peer,
  ];
  let index = hops.length - 1;
  while (index > 0 && trusted(hops[index]!, hops.length - 1 - index)) index -= 1;
  return unmapped(hops[index]!);
}

/**
 * Runs first, for Gatehouse's routes and oidc-provider alike (both read the same request headers): forwarded
 * headers count only when the socket's peer is one of our proxies, `X-Forwarded-For` is reduced to the client
 * address found by the rule above (so Koa's and oidc-provider's `ctx.ip` are that address, not the leftmost one a
 * client wrote), and the host is always the issuer's: oidc-provider builds every URL it publishes from the request's
 * host, which a client (`Host`, `X-Forwarded-Host`) must not choose.
 */
export function forwardedHeaders(options: { trustProxy: TrustProxy; issuer: string }): Middleware {
  const rewrite = forwardedHeaderRewrite(options);
  return async (ctx, next) => {
    rewrite(ctx.req);
    await next();
  };
}

/**
 * The rule of {@link forwardedHeaders} on a bare request, for the path that hands oidc-provider's requests over
 * without a Koa context of Gatehouse's own (src/http-app.ts).
 */
export function forwardedHeaderRewrite(options: {
  trustProxy: TrustProxy;
  issuer: string;
}): (req: IncomingMessage) => void {
  const trusted = proxyTrust(options.trustProxy);
  const issuerHost = new URL(options.issuer).host;
  return (req) => {
    const { headers } = req;
    const peer = req.socket.remoteAddress ?? '';
    if (trusted(peer, 0)) {
      const forwardedFor = headers['x-forwarded-for'];
      headers['x-forwarded-for'] = clientAddress(
        peer,
        Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor,
        trusted,
      );
    } else {
      delete headers['x-forwarded-for'];
      delete headers['x-forwarded-proto'];
    }
    delete headers['x-forwarded-host'];
    delete headers.forwarded;
    headers.host = issuerHost;
  };
}
