import type { LoadResult } from './load-job.ts';

/**
 * Every latency of a measured run, in milliseconds at full timer precision. autocannon's own histogram counts whole
 * milliseconds, which reads as "p50 0 ms" for the sub-millisecond answers of a fast endpoint.
 */
export interface LatencySamples {
  add(ms: number): void;
  count(): number;
  /** Nearest-rank percentile; null when there are no samples (no request succeeded). */
  percentile(p: number): number | null;
}

export function createLatencySamples(): LatencySamples {
  let values = new Float64Array(1 << 16);
  let size = 0;
  let sorted = true;
  return {
    add(ms) {
      if (size === values.length) {
        const grown = new Float64Array(values.length * 2);
        grown.set(values);
        values = grown;
      }
      values[size++] = ms;
      sorted = false;
    },
    count: () => size,
    percentile(p) {
      if (size === 0) return null;
      if (!sorted) {
        values.subarray(0, size).sort();
        sorted = true;
      }
      return values[Math.min(size - 1, Math.max(0, Math.ceil((p / 100) * size) - 1))]!;
    },
  };
}

/** A measured run as the load worker reports it: throughput and percentiles of the successful operations. */
export function toLoadResult(
  tool: LoadResult['tool'],
  latencies: LatencySamples,
  run: Pick<LoadResult, 'failed' | 'seconds' | 'statusCodes' | 'firstFailure'>,
): LoadResult {
  return {
    tool,
    requestsPerSecond: latencies.count() / run.seconds,
    p50Ms: latencies.percentile(50),
    p99Ms: latencies.percentile(99),
    succeeded: latencies.count(),
    failed: run.failed,
    seconds: run.seconds,
    statusCodes: run.statusCodes,
    ...(run.firstFailure ? { firstFailure: run.firstFailure } : {}),
  };
}
