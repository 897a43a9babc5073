import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { runInThisContext } from 'node:vm';
import type { Logger } from 'pino';

/**
 * Special-use IPv4 ranges (IANA IPv4 Special-Purpose Address Registry, RFC 6890 and successors, plus multicast and
 * the reserved block): nothing Gatehouse should call on an upstream's or a client's behalf.
 */
const specialUseIPv4: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network", 0.0.0.0 reaches the local host
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGNAT)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata services (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.31.196.0', 24], // AS112-v4
  ['192.52.193.0', 24], // AMT
  ['192.88.99.0', 24], // deprecated 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['192.175.48.0', 24], // direct delegation AS112
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the limited broadcast address 255.255.255.255
];

/** Special-use IPv6 ranges (IANA IPv6 Special-Purpose Address Registry, plus multicast and deprecated blocks). */
const specialUseIPv6: readonly [string, number][] = [
  ['::', 96], // unspecified (::), loopback (::1) and the deprecated IPv4-compatible addresses
  ['64:ff9b:1::', 48], // local-use IPv4/IPv6 translation
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments (Teredo among them)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: reaches whatever IPv4 address it embeds
  ['2620:4f:8000::', 48], // direct delegation AS112
  ['3fff::', 20], // documentation
  ['5f00::', 16], // segment routing (SRv6) SIDs
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
];

const specialUse = new BlockList();
for (const [network, prefix] of specialUseIPv4) {
  specialUse.addSubnet(network, prefix, 'ipv4');
  // The same range through the well-known NAT64 prefix (64:ff9b::/96) leads to the same place. (IPv4-mapped
  // addresses, ::ffff:0:0/96, BlockList already checks against the IPv4 rules.)
  specialUse.addSubnet(`64:ff9b::${network}`, 96 + prefix, 'ipv6');
}
for (const [network, prefix] of specialUseIPv6) specialUse.addSubnet(network, prefix, 'ipv6');

/**
 * Whether an IP address is special-use (loopback, private, link-local, CGNAT, unique-local, multicast,
 * unspecified, documentation, …, IPv4-mapped and NAT64 forms included), so not one Gatehouse calls in production
 * unless an operator allowed its host. Anything that is not an IP address counts as special-use.
 */
export function isSpecialUseAddress(address: string): boolean {
  // Brackets from a URL's hostname, a zone index from a link-local address (fe80::1%eth0).
  const bare = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return specialUse.check(bare, 'ipv4');
  if (family === 6) return specialUse.check(bare, 'ipv6');
  return true;
}

/** The `code` of the error a refused request fails with (its `cause`, under fetch's `TypeError: fetch failed`). */
export const outgoingRefusedCode = 'ERR_GATEHOUSE_SPECIAL_USE_ADDRESS';

function refusal(host: string, address: string): Error {
  const message =
    host === address
      ? `${host} is a special-use address (loopback, private, link-local, …)`
      : `${host} resolves to ${address}, a special-use address (loopback, private, link-local, …)`;
  return Object.assign(
    new Error(`${message}: Gatehouse calls it in production only when outgoing.allowHosts lists it`),
    { code: outgoingRefusedCode },
  );
}

/** The guard's refusal behind an error (fetch wraps it as the cause of `TypeError: fetch failed`), if it was one. */
export function outgoingRefusal(error: unknown): Error | undefined {
  let current = error as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; current && typeof current === 'object' && depth < 8; depth += 1) {
    if (current.code === outgoingRefusedCode) return current as Error;
    current = current.cause as typeof current;
  }
  return undefined;
}

/** The part of undici's Dispatcher (fetch's `dispatcher` option) the guard uses. */
export interface OutgoingDispatcher {
  dispatch(options: { origin?: string | URL }, handler: unknown): boolean;
  compose(
    interceptor: (dispatch: OutgoingDispatcher['dispatch']) => OutgoingDispatcher['dispatch'],
  ): OutgoingDispatcher;
}

type AgentConstructor = new (options?: { connect?: { lookup?: typeof dnsLookup } }) => OutgoingDispatcher;

/**
 * The Agent class of the undici inside Node, which implements its `fetch`: a dispatcher for that fetch must come
 * from the same undici, and Node does not export it, but its global dispatcher is one (oidc-provider finds it the
 * same way). It lives on the main realm's global object, which a test runner's vm context does not share.
 */
function nodeFetchAgent(): AgentConstructor {
  const realm = runInThisContext('globalThis') as Record<symbol, unknown> & { Response: unknown };
  void realm.Response; // Node loads its fetch implementation, and with it the global dispatcher, on first use.
  const dispatcher = (realm[Symbol.for('undici.globalDispatcher.2')] ??
    realm[Symbol.for('undici.globalDispatcher.1')]) as OutgoingDispatcher | undefined;
  const Agent = dispatcher?.constructor as AgentConstructor | undefined;
  if (typeof Agent !== 'function' || typeof dispatcher?.compose !== 'function')
    throw new Error('cannot guard outgoing requests: Node’s fetch has no undici Agent to build one from');
  return Agent;
}

export interface OutgoingGuardOptions {
  /** Refuse special-use addresses: in production. Outside it local setups and tests use loopback freely. */
  enforce: boolean;
  /** Hosts (`host:port`) reachable even though they are, or resolve to, special-use addresses. */
  allowHosts: readonly string[];
  /** Where refusals are logged (host and address only, never a path, a query or a body). */
  log?: Pick<Logger, 'warn'>;
}

export interface OutgoingGuard {
  /**
   * The dispatcher a request must go out through (fetch's `dispatcher` option), or undefined where nothing is
   * guarded (outside production).
   */
  readonly dispatcher: OutgoingDispatcher | undefined;
  /** `fetch` through the guard; everything else (the signal and its timeout, redirects) as fetch does it. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
}

/** `host:port`, the form of `outgoing.allowHosts`, with the scheme's default port spelled out. */
function hostAndPort(origin: URL): string {
  const port =
    origin.port || (origin.protocol === 'https:' ? '443' : origin.protocol === 'http:' ? '80' : '');
  return `${origin.hostname}:${port}`.toLowerCase();
}

/**
 * The private-address guard of every request Gatehouse makes to other servers: upstream identity providers
 * (discovery, token, userinfo, JWKS, GitHub's API) and oidc-provider's own (back-channel logout, jwks_uri,
 * sector_identifier_uri), so that nobody who can register or change such a URL makes Gatehouse reach the
 * services only it can reach (SSRF: cloud metadata at 169.254.169.254, admin ports on loopback, the private
 * network).
 *
 * The check is on the address actually connected to, at connect time: an Agent whose DNS lookup refuses a host
 * resolving to any special-use address (so a name that resolves to a public address when checked and a private
 * one when used, DNS rebinding, gains nothing), and a refusal of special-use IP literals, which Node connects to
 * without a lookup. Each request, redirects included, is checked for the host it goes to; a host listed in
 * `outgoing.allowHosts` goes out through an unguarded Agent.
 */
export function createOutgoingGuard(options: OutgoingGuardOptions): OutgoingGuard {
  const allowHosts = new Set(options.allowHosts.map((host) => host.toLowerCase()));
  const allowed = (origin: URL) =>
    allowHosts.has(origin.host.toLowerCase()) || allowHosts.has(hostAndPort(origin));

  function refused(host: string, address: string): Error {
    options.log?.warn({ host, address }, 'outgoing request refused: special-use address (SSRF guard)');
    return refusal(host, address);
  }

  /** dns.lookup, refusing a host any of whose addresses is special-use (net.connect asks for one or all). */
  const guardedLookup = ((
    hostname: string,
    lookupOptions: LookupOptions,
    callback: (error: Error | null, address?: string | LookupAddress[], family?: number) => void,
  ) => {
    const wanted = typeof lookupOptions === 'object' && lookupOptions !== null ? lookupOptions : {};
    dnsLookup(hostname, { ...wanted, all: true }, (error, addresses) => {
      if (error) return callback(error);
      const special = addresses.find((entry) => isSpecialUseAddress(entry.address));
      if (special) return callback(refused(hostname, special.address));
      if (wanted.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as typeof dnsLookup;

  let dispatcher: OutgoingDispatcher | undefined;
  if (options.enforce) {
    const Agent = nodeFetchAgent();
    const unguarded = new Agent();
    dispatcher = new Agent({ connect: { lookup: guardedLookup } }).compose(
      (dispatch) => (request, handler) => {
        const origin = new URL(String(request.origin));
        if (allowed(origin)) return unguarded.dispatch(request, handler);
        const hostname = origin.hostname.replace(/^\[(.*)\]$/, '$1');
        // An IP literal is connected to without a lookup: checked here instead. (fetch turns the throw into
        // `TypeError: fetch failed` with this cause.)
        if (isIP(hostname) && isSpecialUseAddress(hostname)) throw refused(hostname, hostname);
        return dispatch(request, handler);
      },
    );
  }

  return {
    dispatcher,
    fetch(input, init = {}) {
      const guarded = { ...init, dispatcher } as RequestInit & { dispatcher?: OutgoingDispatcher };
      if (!dispatcher) delete guarded.dispatcher;
      return fetch(input, guarded);
    },
  };
}
