import { SecretBoxError } from '../../../src/errors/secret-box-error.ts';
import { createSecretBox } from '../../../src/libraries/secret-box.ts';

const secret = 'a'.repeat(40);

describe('sealing secrets at rest', () => {
  it('opens what it sealed, and seals the same value differently each time', () => {
    const box = createSecretBox(secret);
    const first = box.seal('JBSWY3DPEHPK3PXP', 'totp');
    const second = box.seal('JBSWY3DPEHPK3PXP', 'totp');
    expect(first).not.toBe(second);
    expect(first).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.open(first, 'totp')).toBe('JBSWY3DPEHPK3PXP');
  });

  it('refuses a value sealed for another purpose', () => {
    const box = createSecretBox(secret);
    expect(() => box.open(box.seal('key', 'signing key'), 'client secret')).toThrow(SecretBoxError);
  });

  it('refuses a tampered value', () => {
    const box = createSecretBox(secret);
    const sealed = box.seal('value', 'x');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    parts[3] = body.toString('base64url');
    expect(() => box.open(parts.join('.'), 'x')).toThrow('a stored secret failed its integrity check');
  });

  it('stops a forger with database access from passing a truncated 4-byte tag (2^32 guesses, not 2^128)', () => {
    const box = createSecretBox(secret);
    // An empty value seals to its 16-byte tag alone; GCM also accepts the tag's first 4 bytes as a valid short tag.
    const parts = box.seal('', 'x').split('.');
    parts[3] = Buffer.from(parts[3]!, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => box.open(parts.join('.'), 'x')).toThrow('a stored secret failed its integrity check');
  });

  it('opens values of a previous secret during a rotation, and says they are not current', () => {
    const old = createSecretBox('b'.repeat(40));
    const sealed = old.seal('value', 'x');
    const rotated = createSecretBox(secret, ['b'.repeat(40)]);
    expect(rotated.open(sealed, 'x')).toBe('value');
    expect(rotated.isCurrent(sealed)).toBe(false);
    expect(rotated.isCurrent(rotated.seal('value', 'x'))).toBe(true);
  });

  it('names the fix when the secret changed without re-encryption', () => {
    const sealed = createSecretBox('b'.repeat(40)).seal('value', 'x');
    expect(() => createSecretBox(secret).open(sealed, 'x')).toThrow(
      /GATEHOUSE_SECRET changed without `gatehouse secrets reencrypt`/,
    );
  });
});
