const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** True for host names that only ever reach this machine (RFC 8252 section 8.3 loopback addresses). */
export function isLoopbackHost(hostname: string): boolean {
  return loopbackHosts.has(hostname.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(hostname);
}
