import type { GatehouseConfig } from '../config/load-config.ts';
import type { HotState } from '../storage/hot-state.ts';
import { createAttemptThrottle } from './attempt-throttle.ts';

/** The guessing limits of sign-in, from configuration, on the shared hot store. */
export function createSignInThrottles(config: GatehouseConfig, hotState: HotState) {
  const store = { redis: hotState.redis, prefix: config.redisKeyPrefix };
  const { password, secondFactor, clientAuthentication } = config.throttle;
  return {
    passwordPerAccount: createAttemptThrottle('password-account', password.perAccount, store),
    passwordPerIp: createAttemptThrottle('password-ip', password.perIp, store),
    factorPerAccount: createAttemptThrottle('factor-account', secondFactor.perAccount, store),
    factorPerIp: createAttemptThrottle('factor-ip', secondFactor.perIp, store),
    // Client authentication runs on every token and introspection request: a clean record is trusted for a
    // second (see trustCleanForMs), which saves a Redis round trip on each. Sign-in checks always ask Redis.
    clientPerClient: createAttemptThrottle('client-auth', clientAuthentication.perClient, store, {
      trustCleanForMs: 1000,
    }),
    clientPerIp: createAttemptThrottle('client-auth-ip', clientAuthentication.perIp, store, {
      trustCleanForMs: 1000,
    }),
  };
}

export type SignInThrottles = ReturnType<typeof createSignInThrottles>;
