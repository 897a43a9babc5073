import type { JWK } from 'jose';
import type { CleanupStack } from '../cleanup-stack.ts';
import type { CpuPinning } from '../cpu-pinning.ts';
import type { Fixtures } from '../fixtures.ts';
import type { GatehouseDefaults } from '../gatehouse-defaults.ts';
import type { ProcessGroup } from '../process-group.ts';
import type { SigningAlgorithm } from '../signing-keys.ts';

export const targetNames = ['gatehouse-real', 'gatehouse-embedded', 'baseline', 'baseline-redis'] as const;
export type TargetName = (typeof targetNames)[number];

/** What every target needs from the run: where to start processes and what to undo at the end. */
export interface TargetContext {
  processes: ProcessGroup;
  pinning: CpuPinning;
  /** The run's cleanup: a target registers itself here, so a failure or a signal still removes it. */
  cleanup: CleanupStack;
  fixtures: Fixtures;
  defaults: GatehouseDefaults;
  /** The bare provider's signing keys (Gatehouse generates and keeps its own, of the same algorithms). */
  baselineKeys: JWK[];
  log(line: string): void;
}

export interface TargetOptions {
  /** Algorithm of JWT access tokens (Gatehouse's `keys.accessTokenAlg`). */
  accessTokenAlg: SigningAlgorithm;
  /** Gatehouse's `cluster.workers` (unset: its default, one per CPU the process may use in production). */
  workers?: number;
  /** False runs the server on every CPU (several workers need them); default: pinned when pinning is on. */
  pinned?: boolean;
}

/** A started target: a server process on its own loopback port, provisioned with the fixtures. */
export interface RunningTarget {
  name: TargetName;
  origin: string;
  /** False for the bare provider, whose sign-in has no password step (no argon2). */
  checksPasswords: boolean;
  /** Where Gatehouse with real storage keeps its data (for measurements that look inside). */
  storage?: { databaseUrl: string; redisPrefix: string };
  /** Stops the process and removes its database, Redis keys and files. */
  stop(): Promise<void>;
}

export interface TargetDefinition {
  name: TargetName;
  description: string;
  start(context: TargetContext, options: TargetOptions): Promise<RunningTarget>;
}
