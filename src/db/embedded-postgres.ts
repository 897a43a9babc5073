import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * Embedded Postgres for a first run with nothing installed: PGlite (Postgres compiled to WASM) under
 * `<dataDir>/pgdata`, served over the Postgres wire protocol on loopback by pglite-socket so the same `pg` code
 * runs against it.
 *
 * PGlite serves one process. The process that opens it (normally `gatehouse serve`) writes
 * `<dataDir>/pglite.json` with its port; any other process (the CLI while a server runs) connects through that
 * socket instead of opening the files a second time. pglite-socket multiplexes connections onto PGlite's single
 * session and keeps a transaction's statements together, so transactions from two connections do not interleave.
 */
export interface EmbeddedPostgres {
  url: string;
  /** True when this process opened PGlite and serves it to others. */
  owner: boolean;
  close(): Promise<void>;
}

interface Endpoint {
  pid: number;
  port: number;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function readEndpoint(path: string): Endpoint | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Endpoint>;
    if (typeof parsed.pid === 'number' && typeof parsed.port === 'number')
      return { pid: parsed.pid, port: parsed.port };
  } catch {
    // missing or half-written: treated as absent
  }
  return undefined;
}

function urlFor(port: number): string {
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** Takes the lock file, clearing one left behind by a process that died. Returns false if a live process holds it. */
function takeLock(lockPath: string): boolean {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(lockPath, 'utf8'));
      if (Number.isInteger(holder) && holder > 0 && isProcessAlive(holder)) return false;
      rmSync(lockPath, { force: true });
    }
  }
  return false;
}

async function waitForOwner(endpointPath: string, timeoutMs: number): Promise<Endpoint> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const endpoint = readEndpoint(endpointPath);
    if (endpoint && isProcessAlive(endpoint.pid) && (await canConnect(endpoint.port))) return endpoint;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `embedded Postgres under ${endpointPath} is locked by another process that does not answer`,
  );
}

export async function openEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  mkdirSync(dataDir, { recursive: true });
  const endpointPath = join(dataDir, 'pglite.json');
  const lockPath = join(dataDir, 'pglite.lock');

  if (!takeLock(lockPath)) {
    const endpoint = await waitForOwner(endpointPath, 15_000);
    return { url: urlFor(endpoint.port), owner: false, close: async () => {} };
  }

  try {
    const db = await PGlite.create(join(dataDir, 'pgdata'));
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 32 });
    await server.start();
    const port = Number(server.getServerConn().split(':').pop());
    writeFileSync(endpointPath, JSON.stringify({ pid: process.pid, port } satisfies Endpoint));
    return {
      url: urlFor(port),
      owner: true,
      async close() {
        if (existsSync(endpointPath) && readEndpoint(endpointPath)?.pid === process.pid) rmSync(endpointPath);
        await server.stop();
        await db.close();
        rmSync(lockPath, { force: true });
      },
    };
  } catch (error) {
    rmSync(lockPath, { force: true });
    throw error;
  }
}
