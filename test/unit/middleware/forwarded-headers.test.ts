import { clientAddress, proxyTrust } from '../../../src/middleware/forwarded-headers.ts';

describe('the client address behind proxies', () => {
  it('takes the address the nearest trusted proxy saw, not the leftmost one a client wrote', () => {
    const oneHop = proxyTrust(1);
    expect(clientAddress('10.0.0.2', '203.0.113.1, 198.51.100.7', oneHop)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.2', '198.51.100.7', oneHop)).toBe('198.51.100.7');
    expect(proxyTrust(true)('10.0.0.2', 0)).toBe(true);
    expect(clientAddress('10.0.0.3', '203.0.113.1, 198.51.100.7, 10.0.0.2', proxyTrust(2))).toBe(
      '198.51.100.7',
    );
  });

  it('walks past listed proxies and CIDR blocks only, IPv4-mapped addresses included', () => {
    const listed = proxyTrust(['10.0.0.0/8', '192.0.2.10', 'fd00::/8']);
    expect(listed('::ffff:10.1.2.3', 0)).toBe(true);
    expect(listed('192.0.2.11', 0)).toBe(false);
    expect(listed('fd00::5', 0)).toBe(true);
    expect(clientAddress('::ffff:10.0.0.2', '203.0.113.1, 198.51.100.7, 192.0.2.10', listed)).toBe(
      '198.51.100.7',
    );
    // A hop that is not ours ends the walk, even with trusted-looking hops to its left.
    expect(clientAddress('10.0.0.2', '10.9.9.9, 198.51.100.7', listed)).toBe('198.51.100.7');
  });

  it('trusts nothing forwarded when no proxy is configured, and never steps past the leftmost hop', () => {
    expect(clientAddress('198.51.100.7', '203.0.113.1', proxyTrust(false))).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.2', '', proxyTrust(3))).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.2', '198.51.100.7', proxyTrust(5))).toBe('198.51.100.7');
  });
});
