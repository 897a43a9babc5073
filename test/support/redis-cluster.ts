import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:net';

const run = promisify(execFile);

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port whose cluster-bus companion (port + 10000, fixed by Redis) is free too. Both stay below Linux's ephemeral
 * range (32768 and up), where the outgoing connections of other tests could take the bus port meanwhile.
 */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 12000 + Math.floor(Math.random() * 10000);
    if (!taken.has(port) && (await portIsFree(port)) && (await portIsFree(port + 10000))) {
      taken.add(port);
      return port;
    }
  }
}

export interface LocalRedisCluster {
  nodes: string[];
  stop(): Promise<void>;
}

/** A 3-master Redis Cluster from Debian's redis-server on spare loopback ports, created with redis-cli --cluster. */
export async function startRedisCluster(): Promise<LocalRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-cluster-'));
  const taken = new Set<number>();
  const ports = [await freeClusterPort(taken), await freeClusterPort(taken), await freeClusterPort(taken)];
  const servers: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    ),
  );
  const stop = async () => {
    for (const server of servers) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      for (let attempt = 0; ; attempt += 1) {
        try {
          await run('redis-cli', ['-p', String(port), 'ping']);
          break;
        } catch (error) {
          if (attempt > 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    // Every node must agree before clients arrive, not only the one redis-cli asked.
    for (let attempt = 0; ; attempt += 1) {
      const states = await Promise.all(
        ports.map((port) => run('redis-cli', ['-p', String(port), 'cluster', 'info'])),
      );
      const stdout = states.map((state) => state.stdout).join('\n');
      if (states.every((state) => state.stdout.includes('cluster_state:ok'))) break;
      if (attempt > 100) throw new Error(`the Redis Cluster did not become ready:\n${stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
