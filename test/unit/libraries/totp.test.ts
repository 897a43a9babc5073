import { checkTotp, newTotpSecret, totpCodeAt, totpUri } from '../../../src/libraries/totp.ts';

/** RFC 6238 behaviour with a controlled clock: the ±1 step window and replay protection. */
describe('TOTP codes', () => {
  const secret = newTotpSecret();
  const stepStart = 1_800_000_000 - (1_800_000_000 % 30);
  const step = stepStart / 30;

  it('makes 160-bit base32 secrets and otpauth URIs for authenticator apps', () => {
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(totpUri(secret, { issuer: 'id.example.com', account: 'ada@example.com' })).toBe(
      `otpauth://totp/id.example.com:ada%40example.com?secret=${secret}&issuer=id.example.com`,
    );
  });

  it('accepts the code of the current step, and of one step either side', async () => {
    const code = await totpCodeAt(secret, stepStart + 10);
    await expect(checkTotp(secret, code, { now: stepStart + 10 })).resolves.toEqual({
      valid: true,
      timeStep: step,
    });
    await expect(checkTotp(secret, code, { now: stepStart - 5 })).resolves.toMatchObject({ valid: true });
    await expect(checkTotp(secret, code, { now: stepStart + 59 })).resolves.toMatchObject({ valid: true });
  });

  it('refuses a code two steps away', async () => {
    const code = await totpCodeAt(secret, stepStart);
    await expect(checkTotp(secret, code, { now: stepStart + 60 })).resolves.toEqual({ valid: false });
    await expect(checkTotp(secret, code, { now: stepStart - 31 })).resolves.toEqual({ valid: false });
  });

  it('refuses a code of a step already used, and of any earlier step', async () => {
    const code = await totpCodeAt(secret, stepStart);
    await expect(checkTotp(secret, code, { now: stepStart, afterTimeStep: step })).resolves.toEqual({
      valid: false,
    });
    const next = await totpCodeAt(secret, stepStart + 30);
    await expect(checkTotp(secret, next, { now: stepStart, afterTimeStep: step })).resolves.toEqual({
      valid: true,
      timeStep: step + 1,
    });
    await expect(checkTotp(secret, code, { now: stepStart + 30, afterTimeStep: step + 1 })).resolves.toEqual({
      valid: false,
    });
  });

  it.each(['', '12345', '1234567', 'abcdef', '12 456', '１２３４５６'])(
    'refuses the malformed code %j',
    async (code) => {
      await expect(checkTotp(secret, code, { now: stepStart })).resolves.toEqual({ valid: false });
    },
  );
});
