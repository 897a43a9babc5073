import type { Fixtures } from '../fixtures.ts';
import type { LoadWork } from '../load-job.ts';
import type { RunningTarget, TargetOptions } from '../targets/target.ts';

export interface ScenarioContext {
  fixtures: Fixtures;
  /** Concurrent connections of the load (scenarios that pre-mint one token per connection need it). */
  connections: number;
}

export interface Scenario {
  name: string;
  description: string;
  /**
   * Target settings this scenario needs that the shared targets do not have: the bench starts a fresh instance
   * of each target with them for this scenario only, and stops it afterwards.
   */
  variant?: { options: Partial<TargetOptions>; label: string };
  /**
   * Also measure latency at half of the peak rate, on every target (the p99 target is for a server with headroom, not
   * one driven to saturation, where latency is mostly queueing).
   */
  halfPeakLatency?: boolean;
  /**
   * The targets this scenario can run on (default: every one). The others are left out of its rows, and of the
   * bench's exit code: the policy decision point's fixture needs the real target's database.
   */
  targets?: readonly string[];
  /** Says how a number was obtained when it is not one autocannon request per operation. */
  note?(target: RunningTarget): string | undefined;
  /** Builds the load for one target, minting beforehand whatever tokens the requests carry. */
  prepare(target: RunningTarget, context: ScenarioContext): Promise<LoadWork>;
}
