import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * Embedded Postgres for a first run with nothing installed: PGlite (Postgres compiled to WASM) under
 * `<dataDir>/pgdata`, served over the Postgres wire protocol by pglite-socket so the same `pg` code runs against it.
 *
 * PGlite has no authentication: whoever reaches its socket is the superuser. So it is served on a Unix socket, never
 * on TCP (where any local user, or a browser page's request to 127.0.0.1, could reach it), in a directory only this
 * user may enter (0700) with the socket itself 0600: `<dataDir>/socket/`, or a private temporary directory when
 * that path is too long for a socket address.
 *
 * PGlite serves one process. The process that opens it (normally `gatehouse serve`) writes
 * `<dataDir>/pglite.json` with its socket; any other process (the CLI while a server runs) connects through that
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
  /** The directory holding the socket `.s.PGSQL.5432`, as libpq and `pg` name it. */
  socketDir: string;
}

const socketName = '.s.PGSQL.5432';
/** Socket addresses are limited to about 104 bytes (macOS) or 108 (Linux). */
const maxSocketPath = 100;

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function canConnect(socketDir: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path: join(socketDir, socketName) }, () => {
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
    if (typeof parsed.pid === 'number' && typeof parsed.socketDir === 'string')
      return { pid: parsed.pid, socketDir: parsed.socketDir };
  } catch {
    // missing or half-written: treated as absent
  }
  return undefined;
}

/** A URL `pg` (and node-pg-migrate) reads as the socket: its `host` parameter overrides the placeholder host. */
function urlFor(socketDir: string): string {
  return `postgres://postgres@localhost/postgres?${new URLSearchParams({ host: socketDir, port: '5432' })}`;
}

/** A directory only this user may enter, for the socket: under the data directory when the path fits. */
function privateSocketDir(dataDir: string): { dir: string; temporary: boolean } {
  const preferred = join(resolve(dataDir), 'socket');
  if (join(preferred, socketName).length <= maxSocketPath) {
    rmSync(preferred, { recursive: true, force: true });
    mkdirSync(preferred, { mode: 0o700 });
    chmodSync(preferred, 0o700);
    return { dir: preferred, temporary: false };
  }
  return { dir: mkdtempSync(join(tmpdir(), 'gatehouse-pg-')), temporary: true };
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
    if (endpoint && isProcessAlive(endpoint.pid) && (await canConnect(endpoint.socketDir))) return endpoint;
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
    return { url: urlFor(endpoint.socketDir), owner: false, close: async () => {} };
  }

  try {
    const db = await PGlite.create(join(dataDir, 'pgdata'));
    const socket = privateSocketDir(dataDir);
    const socketPath = join(socket.dir, socketName);
    const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 32 });
    await server.start();
    chmodSync(socketPath, 0o600);
    writeFileSync(
      endpointPath,
      JSON.stringify({ pid: process.pid, socketDir: socket.dir } satisfies Endpoint),
    );
    return {
      url: urlFor(socket.dir),
      owner: true,
      async close() {
        if (existsSync(endpointPath) && readEndpoint(endpointPath)?.pid === process.pid) rmSync(endpointPath);
        await server.stop();
        await db.close();
        rmSync(socket.temporary ? socket.dir : socketPath, { recursive: true, force: true });
        rmSync(lockPath, { force: true });
      },
    };
  } catch (error) {
    rmSync(lockPath, { force: true });
    throw error;
  }
}
