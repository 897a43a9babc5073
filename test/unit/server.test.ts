import { internalOriginFor } from '../../src/server.ts';

describe('where the server reaches itself', () => {
  it('uses loopback behind a wildcard and the listen address otherwise, IPv6 in brackets', () => {
    expect(internalOriginFor(null, 3000)).toBe('http://127.0.0.1:3000');
    expect(internalOriginFor('0.0.0.0', 3000)).toBe('http://127.0.0.1:3000');
    expect(internalOriginFor('127.0.0.1', 3000)).toBe('http://127.0.0.1:3000');
    expect(internalOriginFor('::', 3000)).toBe('http://[::1]:3000');
    expect(internalOriginFor('::1', 3000)).toBe('http://[::1]:3000');
    expect(internalOriginFor('10.0.0.5', 3000)).toBe('http://10.0.0.5:3000');
  });
});
