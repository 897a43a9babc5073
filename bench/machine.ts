import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  oidcProvider: string;
  /** The commit measured, with `+dirty` when the working tree has changes. */
  gatehouseCommit: string;
}

function gitCommit(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain') ? '+dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

/** What a reader needs to compare two result files: the hardware, the runtime and the code measured. */
export function describeMachine(): MachineInfo {
  const oidcProviderPackage = new URL('../node_modules/oidc-provider/package.json', import.meta.url);
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${process.platform} ${release()}`,
    node: process.version,
    oidcProvider: (JSON.parse(readFileSync(oidcProviderPackage, 'utf8')) as { version: string }).version,
    gatehouseCommit: gitCommit(),
  };
}
