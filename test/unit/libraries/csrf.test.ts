import { createCsrfTokens } from '../../../src/libraries/csrf.ts';

describe('CSRF tokens', () => {
  const csrf = createCsrfTokens(Buffer.alloc(32, 7));

  it('accepts the token made for the same binding only', () => {
    const token = csrf.tokenFor('interaction-1');
    expect(csrf.verify('interaction-1', token)).toBe(true);
    expect(csrf.verify('interaction-2', token)).toBe(false);
  });

  it.each([undefined, '', 'x', ['a', 'b'], 'y'.repeat(500)])('refuses %j', (token) => {
    expect(csrf.verify('interaction-1', token)).toBe(false);
  });

  it('cannot be made without the key', () => {
    expect(createCsrfTokens(Buffer.alloc(32, 8)).tokenFor('interaction-1')).not.toBe(
      csrf.tokenFor('interaction-1'),
    );
  });
});
