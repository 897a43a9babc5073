import { spawn, type ChildProcess } from 'node:child_process';

export interface RunningChild {
  name: string;
  child: ChildProcess;
  /** stdout and stderr so far, for error messages. */
  output(): string;
  exitCode(): number | null;
  /** SIGTERM, then SIGKILL if the process has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface CompletedChild {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Every process the bench starts, so that a signal or a failure can end them all. Processes are ended by the id
 * this group started them with, never by name.
 */
export interface ProcessGroup {
  /** Starts a long-running process (a server). */
  start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): RunningChild;
  /** Runs a command to completion, writing `input` to its stdin. */
  run(
    command: string,
    args: string[],
    options: { env: NodeJS.ProcessEnv; input?: string },
  ): Promise<CompletedChild>;
  /** Ends every process still running. */
  stopAll(): Promise<void>;
}

function stopChild(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  return exited.then(() => clearTimeout(killer));
}

export function createProcessGroup(): ProcessGroup {
  const live = new Map<ChildProcess, Promise<unknown>>();
  const track = (child: ChildProcess) => {
    const exited = new Promise((resolve) => child.once('close', resolve));
    live.set(child, exited);
    void exited.then(() => live.delete(child));
    return exited;
  };

  return {
    start(name, command, args, env) {
      const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = track(child);
      let output = '';
      // Keep the tail only: a server that logs per request must not grow the bench's memory.
      const append = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
      child.stdout!.on('data', append);
      child.stderr!.on('data', append);
      child.once('error', (error) => append(Buffer.from(`spawn failed: ${error.message}\n`)));
      return {
        name,
        child,
        output: () => output,
        exitCode: () => child.exitCode,
        stop: (graceMs = 12_000) => stopChild(child, exited, graceMs),
      };
    },

    run(command, args, { env, input }) {
      return new Promise((resolve, reject) => {
        const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
        track(child);
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
        child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
        child.once('error', reject);
        child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin!.end(input ?? '');
      });
    },

    async stopAll() {
      await Promise.all([...live].map(([child, exited]) => stopChild(child, exited, 3000)));
    },
  };
}
