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

const processes = (name: string, trustCleanForMs: number) => ({
  here: createAttemptThrottle(
    name,
    policy,
    { redis: redis.client, prefix: redis.prefix },
    { trustCleanForMs },
  ),
  elsewhere: createAttemptThrottle(name, policy, { redis: otherConnection, prefix: redis.prefix }),
});

it('sees a lock made by another process at once when nothing is trusted', async () => {
  const { here, elsewhere } = processes('strict', 0);
  await expect(here.check(['k'])).resolves.toBe(true);
  for (let i = 0; i < policy.maxFailures; i += 1) await elsewhere.fail(['k']);
  await expect(here.check(['k'])).rejects.toBeInstanceOf(TooManyAttempts);
});

it('trusts a clean record for a while, but asks again after its own failure or once the trust runs out', async () => {
  const { here, elsewhere } = processes('trusting', 300);
  await expect(here.check(['a', 'b'])).resolves.toBe(true);
  for (let i = 0; i < policy.maxFailures; i += 1) await elsewhere.fail(['a', 'b']);
  // Within the trust, this process does not ask Redis...
  await expect(here.check(['a'])).resolves.toBe(true);
  // ...until a failure here: then it sees the lock made elsewhere.
  await here.fail(['a']);
  await expect(here.check(['a'])).rejects.toMatchObject({ locked: true });
  await new Promise((resolve) => setTimeout(resolve, 350));
  await expect(here.check(['b'])).rejects.toMatchObject({ locked: true });
});

it('never trusts a record that was not clean', async () => {
  const { here, elsewhere } = processes('dirty', 60_000);
  await elsewhere.fail(['c']);
  await expect(here.check(['c'])).resolves.toBe(false);
  await elsewhere.fail(['c']);
  await elsewhere.fail(['c']);
  await expect(here.check(['c'])).rejects.toBeInstanceOf(TooManyAttempts);
});
