import { TooManyAttempts } from '../../../src/errors/too-many-attempts.ts';
import { createAttemptThrottle } from '../../../src/libraries/attempt-throttle.ts';

/** Attempts, growing delays, then a lock, per key; success gives back or forgets; reset unlocks (in-memory store). */
describe('the attempt throttle', () => {
  const policy = { maxFailures: 4, windowSeconds: 60, lockSeconds: 60, freeFailures: 2, maxDelaySeconds: 1 };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  let n = 0;
  const fresh = (options: { inFlightMs?: number } = {}) =>
    createAttemptThrottle(`unit-${(n += 1)}`, policy, { prefix: 'unit:' }, options);
  const failOnce = async (throttle: ReturnType<typeof fresh>, keys: string[]) =>
    (await throttle.reserve(keys)).failed();

  it('lets the free attempts through without delay, and says when failures are on record', async () => {
    const throttle = fresh();
    const first = await throttle.reserve(['a']);
    expect(first.clean).toBe(true);
    await first.failed();
    await failOnce(throttle, ['a']);
    const third = await throttle.reserve(['a']);
    expect(third.clean).toBe(false);
    await third.succeeded();
  });

  it('imposes a delay after the free failures, which passes', async () => {
    const throttle = fresh();
    await failOnce(throttle, ['a']);
    await failOnce(throttle, ['a']);
    await failOnce(throttle, ['a']);
    await expect(throttle.reserve(['a'])).rejects.toEqual(new TooManyAttempts(1, false));
    await sleep(1100);
    await expect(throttle.reserve(['a'])).resolves.toMatchObject({ clean: false });
  });

  it('locks at the maximum, reports the key that locked, and only that key', async () => {
    const throttle = fresh();
    for (let i = 0; i < 3; i += 1) expect(await failOnce(throttle, ['a'])).toEqual([]);
    expect(await throttle.fail(['a', 'b'])).toEqual(['a']);
    const locked = await throttle.reserve(['a']).catch((error: TooManyAttempts) => error);
    expect(locked).toBeInstanceOf(TooManyAttempts);
    expect((locked as TooManyAttempts).locked).toBe(true);
    expect((locked as TooManyAttempts).retryAfterSeconds).toBeGreaterThan(50);
    await expect(throttle.isLocked('a')).resolves.toBe(true);
    await expect(throttle.isLocked('b')).resolves.toBe(false);
    await expect(throttle.reserve(['b'])).resolves.toMatchObject({ clean: false });
  });

  it('forgets failures on a success that asks to, and lifts a lock on reset', async () => {
    const throttle = fresh();
    await failOnce(throttle, ['a']);
    await failOnce(throttle, ['a']);
    await (await throttle.reserve(['a'])).succeeded({ forget: true });
    await expect(throttle.reserve(['a'])).resolves.toMatchObject({ clean: true });
    for (let i = 0; i < 4; i += 1) await throttle.fail(['c']);
    await expect(throttle.reserve(['c'])).rejects.toBeInstanceOf(TooManyAttempts);
    await throttle.reset('c');
    await expect(throttle.reserve(['c'])).resolves.toMatchObject({ clean: true });
  });

  it('gives an attempt back on a success without forgetting the failures on record', async () => {
    const throttle = fresh();
    await failOnce(throttle, ['ip']);
    for (let i = 0; i < 5; i += 1) await (await throttle.reserve(['ip'])).succeeded();
    // Still one failure on record, and the successes took nothing: one more free attempt, then the delay.
    await (await throttle.reserve(['ip'])).failed();
    await expect(throttle.reserve(['ip'])).resolves.toMatchObject({ clean: false });
  });

  it('stops parallel guesses from all passing the check: no more are admitted than the lock allows', async () => {
    const throttle = fresh();
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => throttle.reserve(['a'])));
    const admitted = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(admitted).toHaveLength(policy.maxFailures);
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toHaveLength(20 - policy.maxFailures);
  });

  it('lets people who sign in at once through, however many, as long as they succeed', async () => {
    const throttle = fresh();
    for (let round = 0; round < 3; round += 1) {
      const attempts = await Promise.all(
        Array.from({ length: policy.maxFailures }, () => throttle.reserve(['nat'])),
      );
      await Promise.all(attempts.map((attempt) => attempt.succeeded()));
    }
    await expect(throttle.reserve(['nat'])).resolves.toMatchObject({ clean: true });
  });

  it('stops counting an attempt nobody settled once its time in flight is over', async () => {
    const throttle = fresh({ inFlightMs: 100 });
    for (let i = 0; i < policy.freeFailures; i += 1) await throttle.reserve(['a']);
    await sleep(150);
    await expect(throttle.reserve(['a'])).resolves.toMatchObject({ clean: true });
  });
});
