import { Redis } from 'ioredis';
import { TooManyAttempts } from '../../src/errors/too-many-attempts.ts';
import { createAttemptThrottle } from '../../src/libraries/attempt-throttle.ts';
import { createTestRedis, type TestRedis } from '../support/services.ts';

/** The attempt throttle on Redis, as two Gatehouse processes share it (two throttles on two connections). */
let redis: TestRedis;
let otherConnection: Redis;
const policy = { maxFailures: 3, windowSeconds: 60, lockSeconds: 60, freeFailures: 5, maxDelaySeconds: 1 };

beforeAll(async () => {
  redis = await createTestRedis();
  otherConnection = new Redis(redis.url);
});
afterAll(async () => {
  otherConnection.disconnect();
  await redis.close();
});

const processes = (name: string, trustCleanForMs: number, throttlePolicy = policy) => ({
  here: createAttemptThrottle(
    name,
    throttlePolicy,
    { redis: redis.client, prefix: redis.prefix },
    { trustCleanForMs },
  ),
  elsewhere: createAttemptThrottle(name, throttlePolicy, { redis: otherConnection, prefix: redis.prefix }),
});

it('sees a lock made by another process at once when nothing is trusted', async () => {
  const { here, elsewhere } = processes('strict', 0);
  await (await here.reserve(['k'])).succeeded();
  for (let i = 0; i < policy.maxFailures; i += 1) await (await elsewhere.reserve(['k'])).failed();
  await expect(here.reserve(['k'])).rejects.toMatchObject({ locked: true });
  await expect(here.isLocked('k')).resolves.toBe(true);
  await here.reset('k');
  await expect(here.reserve(['k'])).resolves.toMatchObject({ clean: true });
});

it('trusts a clean record for a while, but asks again after its own failure or once the trust runs out', async () => {
  const { here, elsewhere } = processes('trusting', 300);
  await (await here.reserve(['a', 'b'])).succeeded();
  for (let i = 0; i < policy.maxFailures; i += 1) await elsewhere.fail(['a', 'b']);
  // Within the trust, this process does not ask Redis...
  await (await here.reserve(['a'])).succeeded();
  // ...until a failure here: then it sees the lock made elsewhere.
  await (await here.reserve(['a'])).failed();
  await expect(here.reserve(['a'])).rejects.toMatchObject({ locked: true });
  await new Promise((resolve) => setTimeout(resolve, 350));
  await expect(here.reserve(['b'])).rejects.toMatchObject({ locked: true });
});

it('never trusts a record that was not clean', async () => {
  const { here, elsewhere } = processes('dirty', 60_000);
  await elsewhere.fail(['c']);
  await expect(here.reserve(['c'])).resolves.toMatchObject({ clean: false });
  await elsewhere.fail(['c']);
  await elsewhere.fail(['c']);
  await expect(here.reserve(['c'])).rejects.toBeInstanceOf(TooManyAttempts);
});

it('stops parallel guesses from two processes from all passing the check (one Redis script takes each attempt)', async () => {
  const parallelPolicy = { ...policy, maxFailures: 10, freeFailures: 3 };
  const { here, elsewhere } = processes('parallel', 0, parallelPolicy);
  const outcomes = await Promise.allSettled(
    Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? here : elsewhere).reserve(['p'])),
  );
  const admitted = outcomes.filter((outcome) => outcome.status === 'fulfilled');
  // No more guesses are checked than the lock allows, wherever they arrive.
  expect(admitted).toHaveLength(parallelPolicy.maxFailures);
  for (const outcome of outcomes)
    if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(TooManyAttempts);
});

it('never admits more attempts than the lock allows, even when no delay applies', async () => {
  const noDelays = { ...policy, maxFailures: 4, freeFailures: 100 };
  const { here, elsewhere } = processes('bounded', 0, noDelays);
  const attempts = await Promise.allSettled(
    Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? here : elsewhere).reserve(['q'])),
  );
  const admitted = attempts.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  expect(admitted).toHaveLength(noDelays.maxFailures);
  const locked = (await Promise.all(admitted.map((attempt) => attempt.failed()))).flat();
  expect(locked).toEqual(['q']);
  await expect(here.reserve(['q'])).rejects.toMatchObject({ locked: true });
});
