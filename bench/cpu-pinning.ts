import { spawnSync } from 'node:child_process';

/** Which side of the benchmark a process belongs to: each side gets a core of its own, so they do not compete. */
export type CpuRole = 'server' | 'load';

export interface CpuPinning {
  enabled: boolean;
  /** Why pinning is off, or what it does. */
  description: string;
  /** The command line that runs `command` on the role's CPU (unchanged when pinning is off). */
  wrap(role: CpuRole, command: string, args: string[]): { command: string; args: string[] };
}

/** Every process on every CPU. */
export const noCpuPinning: CpuPinning = {
  enabled: false,
  description: 'not pinned: server and load generator share the CPUs',
  wrap: (_role, command, args) => ({ command, args }),
};

/** Expands taskset's affinity list ("0-2,5") into CPU numbers. */
function parseCpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [first, last] = part.split('-').map(Number);
    if (first === undefined || Number.isNaN(first)) return [];
    const end = last ?? first;
    return Array.from({ length: end - first + 1 }, (_, index) => first + index);
  });
}

/**
 * Pins with `taskset` when it exists and this process may run on two CPUs or more: the server on the first
 * allowed CPU (CPU 0 on a plain machine), the load generator on the second.
 */
export function detectCpuPinning(): CpuPinning {
  const probe = spawnSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' });
  const allowed = probe.status === 0 ? parseCpuList(probe.stdout.split(':').pop()?.trim() ?? '') : [];
  const [serverCpu, loadCpu] = allowed;
  if (serverCpu === undefined || loadCpu === undefined) {
    const reason = probe.error || probe.status !== 0 ? 'taskset not found' : 'fewer than two CPUs allowed';
    return {
      enabled: false,
      description: `not pinned (${reason}): server and load generator share the CPUs`,
      wrap: (_role, command, args) => ({ command, args }),
    };
  }
  return {
    enabled: true,
    description: `server on CPU ${serverCpu}, load generator on CPU ${loadCpu} (taskset); PostgreSQL and Redis unpinned`,
    wrap: (role, command, args) => ({
      command: 'taskset',
      args: ['-c', String(role === 'server' ? serverCpu : loadCpu), command, ...args],
    }),
  };
}
