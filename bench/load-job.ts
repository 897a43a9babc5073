import type { AuthzWork } from './authz-load.ts';
import type { SignInFlow } from './http-sign-in.ts';

/**
 * What the load worker is asked to do, as plain JSON (it runs in a process of its own, pinned to its own CPU).
 * A warm-up of the same load runs first and is not measured.
 */
export type LoadJob = LoadTiming & LoadWork;

/** The load itself, as a scenario describes it for one target. */
export type LoadWork =
  | { kind: 'request'; request: HttpRequest }
  | {
      kind: 'refresh-chains';
      /** Client authentication for the token endpoint. */
      authorization: string;
      /**
       * Two refresh tokens per connection, each the start of a chain that connection carries forward: the first
       * `connections` tokens for the warm-up, the rest for the measured run.
       */
      refreshTokens: string[];
    }
  | { kind: 'sign-in'; flow: SignInFlow }
  | AuthzWork;

export interface LoadTiming {
  origin: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Requests per second, evenly spaced (`paced-load.ts`); unset: as fast as the server answers (autocannon). */
  ratePerSecond?: number;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** A form body (application/x-www-form-urlencoded). */
  form?: Record<string, string>;
}

export interface LoadResult {
  tool: 'autocannon' | 'fetch loop' | 'paced http' | 'cedar in process';
  /** Successful operations (2xx responses, or complete sign-ins) per second of the measured run. */
  requestsPerSecond: number;
  /** Latency percentiles of the successful operations; null when none succeeded. */
  p50Ms: number | null;
  p99Ms: number | null;
  succeeded: number;
  /** Non-2xx answers, connection errors and timeouts. */
  failed: number;
  seconds: number;
  statusCodes: Record<string, number>;
  /** The first failure's message, when the worker saw one (a fetch-loop error, or a refresh answered non-2xx). */
  firstFailure?: string;
}
