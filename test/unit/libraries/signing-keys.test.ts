import { orderForSigning } from '../../../src/libraries/signing-keys.ts';
import type { SigningKeyRow } from '../../../src/queries/signing-key-queries.ts';

const key = (kid: string, alg: string, activatesAt: string): SigningKeyRow => ({
  kid,
  alg,
  activates_at: new Date(activatesAt),
  created_at: new Date(activatesAt),
  expires_at: null,
  sealed_jwk: '',
  public_jwk: {},
});

describe('ordering keys for signing', () => {
  const now = new Date('2026-06-01T12:00:00Z');

  it('puts the newest active key first, older keys after, and keys not yet active last', () => {
    const ordered = orderForSigning(
      [
        key('old', 'RS256', '2026-01-01T00:00:00Z'),
        key('next', 'RS256', '2026-06-01T12:10:00Z'),
        key('current', 'RS256', '2026-05-01T00:00:00Z'),
      ],
      now,
    );
    expect(ordered.map((row) => row.kid)).toEqual(['current', 'old', 'next']);
  });

  it('signs with a published key once its activation time has come', () => {
    const rows = [
      key('current', 'ES256', '2026-05-01T00:00:00Z'),
      key('next', 'ES256', '2026-06-01T12:10:00Z'),
    ];
    expect(orderForSigning(rows, new Date('2026-06-01T12:10:01Z'))[0]!.kid).toBe('next');
  });
});
