import { AppError } from '../../../src/errors/app-error.ts';
import { createPasswordPolicy, loadCommonPasswords } from '../../../src/libraries/password-policy.ts';

/** NIST SP 800-63B rev. 4 password rules, each refusal saying why. */
describe('the password policy', () => {
  const policy = createPasswordPolicy(
    { minLength: 15, minLengthWithMfa: 8, maxLength: 256 },
    loadCommonPasswords(),
  );
  const reason = (password: string, context: { email?: string; hasSecondFactor: boolean }) => {
    try {
      policy.check(password, context);
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      return (error as AppError).message;
    }
  };

  it('asks for 15 characters from a password alone, 8 with two-step verification', () => {
    expect(reason('nine char', { hasSecondFactor: false })).toBe(
      'the password must have at least 15 characters (8 with two-step verification on)',
    );
    expect(reason('nine char', { hasSecondFactor: true })).toBeUndefined();
    expect(reason('seven c', { hasSecondFactor: true })).toBe('the password must have at least 8 characters');
  });

  it('counts characters, not bytes, and accepts any of them, with no composition rules', () => {
    expect(reason('пароль-пароль-пароль', { hasSecondFactor: false })).toBeUndefined();
    expect(reason('🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🦊', { hasSecondFactor: false })).toBeUndefined();
    expect(reason('all lowercase words here', { hasSecondFactor: false })).toBeUndefined();
  });

  it('allows long passphrases and refuses absurd ones', () => {
    expect(reason('a'.repeat(63) + 'b', { hasSecondFactor: false })).toBeUndefined();
    expect(reason('ab'.repeat(129), { hasSecondFactor: false })).toBe(
      'the password must have at most 256 characters',
    );
  });

  it('refuses common and breached passwords, whatever their case', () => {
    expect(reason('1QAZ2WSX3EDC4RFV', { hasSecondFactor: false })).toBe(
      'this password appears in lists of common or breached passwords; choose another',
    );
    expect(reason('password1', { hasSecondFactor: true })).toMatch(/common or breached/);
  });

  it('refuses passwords built on the email address or one repeated character', () => {
    expect(reason('margaret-hamilton-1969', { email: 'Margaret@example.com', hasSecondFactor: false })).toBe(
      'the password must not contain your email address',
    );
    expect(reason('xxxxxxxxxxxxxxxx', { hasSecondFactor: false })).toBe(
      'the password must not be one character repeated',
    );
  });
});
