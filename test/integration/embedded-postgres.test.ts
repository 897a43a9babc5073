import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded-postgres.ts';

/** The embedded database of a first run: PGlite has no authentication, so only its owner may reach it. */
let dataDir: string;
let embedded: EmbeddedPostgres;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gh-embedded-'));
  embedded = await openEmbeddedPostgres(join(dataDir, '.data'));
}, 60_000);

afterAll(async () => {
  await embedded?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('stops other local users and web pages from reaching the embedded database (no TCP port, a private Unix socket)', async () => {
  // Served on no TCP address at all: not on 127.0.0.1, which any local user or a browser page could reach.
  const socketDir = join(dataDir, '.data', 'socket');
  expect(new pg.Client({ connectionString: embedded.url }).host).toBe(socketDir);
  expect(statSync(socketDir).mode & 0o777).toBe(0o700);
  expect(statSync(join(socketDir, '.s.PGSQL.5432')).mode & 0o777).toBe(0o600);
  expect(JSON.parse(readFileSync(join(dataDir, '.data', 'pglite.json'), 'utf8'))).not.toHaveProperty('port');

  const client = new pg.Client({ connectionString: embedded.url });
  await client.connect();
  try {
    expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
  } finally {
    await client.end();
  }
});

it('lets a second process of the same user in through the same socket', async () => {
  const second = await openEmbeddedPostgres(join(dataDir, '.data'));
  expect(second.owner).toBe(false);
  expect(second.url).toBe(embedded.url);
  const client = new pg.Client({ connectionString: second.url });
  await client.connect();
  await client.end();
  await second.close();
});
