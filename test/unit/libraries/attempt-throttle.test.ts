import { TooManyAttempts } from '../../../src/errors/too-many-attempts.ts';
import { createAttemptThrottle } from '../../../src/libraries/attempt-throttle.ts';

/** Growing delays, then a lock, per key; success forgets; reset unlocks (in-memory store; Redis in integration). */
describe('the attempt throttle', () => {
  const policy = { maxFailures: 4, windowSeconds: 60, lockSeconds: 60, freeFailures: 2, maxDelaySeconds: 1 };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  let n = 0;
  const fresh = () => createAttemptThrottle(`unit-${(n += 1)}`, policy, { prefix: 'unit:' });

  it('lets the free failures through without delay', async () => {
    const throttle = fresh();
    await expect(throttle.check(['a'])).resolves.toBe(true);
    await throttle.fail(['a']);
    await throttle.fail(['a']);
    // Passes, but says failures are on record (a success has something to clear).
    await expect(throttle.check(['a'])).resolves.toBe(false);
  });

  it('imposes a delay after the free failures, which passes', async () => {
    const throttle = fresh();
    for (let i = 0; i < 3; i += 1) await throttle.fail(['a']);
    await expect(throttle.check(['a'])).rejects.toEqual(new TooManyAttempts(1, false));
    await sleep(1100);
    await expect(throttle.check(['a'])).resolves.toBe(false);
  });

  it('locks at the maximum, reports the key that locked, and only that key', async () => {
    const throttle = fresh();
    for (let i = 0; i < 3; i += 1) expect(await throttle.fail(['a'])).toEqual([]);
    expect(await throttle.fail(['a', 'b'])).toEqual(['a']);
    const locked = await throttle.check(['a']).catch((error: TooManyAttempts) => error);
    expect(locked).toBeInstanceOf(TooManyAttempts);
    expect((locked as TooManyAttempts).locked).toBe(true);
    expect((locked as TooManyAttempts).retryAfterSeconds).toBeGreaterThan(50);
    await expect(throttle.check(['b'])).resolves.toBe(false);
  });

  it('forgets failures on success and lifts a lock on reset', async () => {
    const throttle = fresh();
    for (let i = 0; i < 3; i += 1) await throttle.fail(['a']);
    await throttle.succeed(['a']);
    await expect(throttle.check(['a'])).resolves.toBe(true);
    for (let i = 0; i < 4; i += 1) await throttle.fail(['a']);
    await expect(throttle.check(['a'])).rejects.toBeInstanceOf(TooManyAttempts);
    await throttle.reset('a');
    await expect(throttle.check(['a'])).resolves.toBe(true);
  });
});
