import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from './services.ts';
import { testSecret } from './test-gatehouse.ts';

const mainScript = new URL('../../src/main.ts', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (commands run with --json). */
  json<T = Record<string, unknown>>(): T;
}

/**
 * What a `gatehouse` command needs to act on a test's database, as an operator's shell would give it: test mode,
 * the test secret, and a data directory of its own (so it never touches the repository's `.data/`).
 */
export function cliEnvironment(databaseUrl: string, config: Record<string, unknown> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    GATEHOUSE_SECRET: testSecret,
    GATEHOUSE_CONFIG_JSON: JSON.stringify({
      dataDir: mkdtempSync(join(tmpdir(), 'gatehouse-cli-')),
      ...config,
    }),
  };
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { stdin?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainScript, ...args], {
      env,
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({ code: code ?? -1, stdout, stderr, json: <T>() => JSON.parse(stdout) as T }),
    );
    // `stdin`: written to the command's standard input, then closed (`--password-stdin`).
    if (options.stdin !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.stdin);
    }
  });
}

export type StorageMode = 'real' | 'embedded';

export interface GatehouseProcess {
  /** Where the process answers (loopback). */
  url: string;
  /** Its ISSUER: `url` unless `publicHost` named another host. */
  issuer: string;
  port: number;
  env: NodeJS.ProcessEnv;
  mode: StorageMode;
  database: TestDatabase | undefined;
  redis: TestRedis | undefined;
  child: ChildProcess;
  output(): string;
  cli(...args: string[]): Promise<CliResult>;
  /** Sends a signal and waits for the process to exit; returns its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Stops the process and removes its data directory, and the database and Redis keys it did not borrow. */
  cleanup(): Promise<void>;
}

async function waitForHealth(
  url: string,
  child: ChildProcess,
  output: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gatehouse exited with ${child.exitCode}:\n${output()}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`gatehouse did not answer /healthz within ${timeoutMs} ms:\n${output()}`);
}

/**
 * Starts `gatehouse serve` as a separate process: with a database and Redis prefix of its own (`real`), or with
 * embedded PGlite and the in-memory store in a fresh data directory (`embedded`), like a newcomer's first start.
 */
export async function startGatehouseProcess(
  options: {
    mode?: StorageMode;
    config?: Record<string, unknown>;
    env?: NodeJS.ProcessEnv;
    reuse?: GatehouseProcess;
    /** Services the test runs itself (to stop and start them); nothing is created for the process then. */
    external?: { databaseUrl: string; redisUrl: string };
    /** `localhost` gives a second Gatehouse cookies of its own (browsers share cookies across ports of one host). */
    host?: '127.0.0.1' | 'localhost' | '[::1]';
    /**
     * ISSUER names this host (`http://<publicHost>:<port>`) while the process is still reached on loopback, as a
     * deployment behind a DNS name is; a browser needs `--host-resolver-rules` to reach it.
     */
    publicHost?: string;
  } = {},
): Promise<GatehouseProcess> {
  const mode = options.mode ?? 'real';
  const port = await freePort();
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  const issuer = options.publicHost ? `http://${options.publicHost}:${port}` : url;
  const database =
    options.reuse?.database ??
    (mode === 'real' && !options.external ? await createTestDatabase() : undefined);
  const redis =
    options.reuse?.redis ?? (mode === 'real' && !options.external ? await createTestRedis() : undefined);
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  const config = { dataDir, ...(redis ? { redisKeyPrefix: redis.prefix } : {}), ...options.config };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    PORT: String(port),
    ISSUER: issuer,
    GATEHOUSE_SECRET: testSecret,
    LOG_LEVEL: 'info',
    GATEHOUSE_CONFIG_JSON: JSON.stringify(config),
    ...(database ? { DATABASE_URL: database.url } : {}),
    ...(redis ? { REDIS_URL: redis.url } : {}),
    ...(options.external
      ? { DATABASE_URL: options.external.databaseUrl, REDIS_URL: options.external.redisUrl }
      : {}),
    // A key set to undefined here is left out of the child's environment (NODE_ENV: undefined leaves it unset).
    ...options.env,
  };
  const child = spawn(process.execPath, [mainScript, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null) child.kill(signal);
    return exited;
  };
  try {
    await waitForHealth(url, child, () => output, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    // A start meant to fail must not leave its database and Redis keys behind (the ones it was lent stay).
    if (!options.reuse) {
      await redis?.close();
      await database?.drop();
    }
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    issuer,
    port,
    env,
    mode,
    database,
    redis,
    child,
    output: () => output,
    cli: (...args) => runCli(args, env),
    stop,
    async cleanup() {
      await stop();
      if (!options.reuse) {
        await redis?.close();
        await database?.drop();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
