import type { RedisClient } from '../storage/redis-adapter.ts';
import { throttleKeys } from '../vocabulary/throttle-keys.ts';
import { createAttemptThrottle, type ThrottlePolicy } from './attempt-throttle.ts';

/**
 * Limits on asking for mail ("Forgot password?", "Create an account"): every request counts on two throttles, per
 * typed address and per client address, found or not, so nobody can flood a mailbox or probe addresses at speed.
 */
export function createRequestThrottles(
  name: string,
  policies: { perAddress: ThrottlePolicy; perIp: ThrottlePolicy },
  store: { redis?: RedisClient | undefined; prefix: string },
) {
  const perAddress = createAttemptThrottle(`${name}-address`, policies.perAddress, store);
  const perIp = createAttemptThrottle(`${name}-ip`, policies.perIp, store);
  return {
    perAddress,
    perIp,
    /**
     * Counts one request for `addressKey` from `ip`, or throws TooManyAttempts (nothing counted on the address when
     * the client address is the one over its limit).
     */
    async count(addressKey: string, ip: string): Promise<void> {
      const address = await perAddress.reserve([addressKey]);
      let fromIp;
      try {
        fromIp = await perIp.reserve([throttleKeys.ip(ip)]);
      } catch (error) {
        await address.succeeded();
        throw error;
      }
      // Every request counts: the limit is on asking, not on being wrong.
      await Promise.all([address.failed(), fromIp.failed()]);
    },
  };
}

export type RequestThrottles = ReturnType<typeof createRequestThrottles>;
