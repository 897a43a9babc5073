import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { createPool, type Pool } from '../../src/db/pg-pool.ts';
import { createAuditLog } from '../../src/libraries/audit.ts';
import { createAuthzLibraries, type AuthzLibraries } from '../../src/libraries/authz/create-authz.ts';
import { noConfigCache } from '../../src/db/config-cache.ts';
import { createQueries } from '../../src/queries/create-queries.ts';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { createTestDatabase, type TestDatabase } from '../support/services.ts';
import { silentLog } from '../support/test-gatehouse.ts';

/** `gatehouse resource ...` as outside tooling drives it: shapes, --json, exit code 2 with nothing written. */
let database: TestDatabase;
let env: NodeJS.ProcessEnv;
let dir: string;
let pool: Pool;
let authz: AuthzLibraries;
let sub: string;
const gatehouse = (...args: string[]) => runCli(args, env);

interface Resource {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  parents: { type: string; id: string }[];
  relations: Record<string, { type: string; id: string }[]>;
}

async function count(table: string): Promise<number> {
  const { rows } = await pool.query<{ count: string }>(`SELECT count(*) FROM ${table}`);
  return Number(rows[0]!.count);
}

async function list(type: string): Promise<Resource[]> {
  const listed = await gatehouse('resource', 'list', '--type', type, '--json');
  expect(listed.code).toBe(0);
  return listed.json<Resource[]>();
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateDatabase(database.url, silentLog);
  env = cliEnvironment(database.url);
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-resources-'));
  pool = createPool({ connectionString: database.url, max: 2 }, () => undefined);
  const queries = createQueries(pool, noConfigCache);
  authz = createAuthzLibraries({ pool, queries, audit: createAuditLog(queries.audit) });
  const created = await gatehouse(
    'user',
    'create',
    '--email',
    'owner@example.com',
    '--password',
    'long enough password',
    '--json',
  );
  expect(created.code).toBe(0);
  sub = created.json<{ id: string }>().id;
  expect((await gatehouse('group', 'create', 'team')).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await database?.drop();
  rmSync(dir, { force: true, recursive: true });
});

describe('resource put, get, list, delete', () => {
  it('stores typed attributes and parents, and lists the resources of a type', async () => {
    const put = await gatehouse(
      'resource',
      'put',
      '--type',
      'document',
      '--id',
      'plan',
      '--attribute',
      'title=Plan',
      '--attribute',
      'pages:=12',
      '--attribute',
      'price:=9.95',
      '--attribute',
      `owner:={"__entity": {"type": "user", "id": "${sub}"}}`,
      '--attribute',
      'tags:=["a", "b"]',
      '--parent',
      'folder:team:shared',
      '--json',
    );
    expect(put.code).toBe(0);
    expect(put.json()).toEqual({
      type: 'document',
      id: 'plan',
      attributes: {
        title: 'Plan',
        pages: 12,
        price: 9.95,
        owner: { __entity: { type: 'user', id: sub } },
        tags: ['a', 'b'],
      },
      parents: [{ type: 'folder', id: 'team:shared' }],
      relations: {},
    });
    expect((await gatehouse('resource', 'put', '--type', 'document', '--id', 'brief', '--json')).code).toBe(
      0,
    );
    expect((await list('document')).map((resource) => resource.id)).toEqual(['brief', 'plan']);
    expect(await list('spreadsheet')).toEqual([]);
  });

  it('replaces attributes and parents on a second put, keeping what is shared', async () => {
    expect(
      (
        await gatehouse(
          'resource',
          'share',
          '--type',
          'document',
          '--id',
          'plan',
          '--relation',
          'viewers',
          '--user',
          'owner@example.com',
        )
      ).code,
    ).toBe(0);
    const again = await gatehouse(
      'resource',
      'put',
      '--type',
      'document',
      '--id',
      'plan',
      '--attribute',
      'title=v2',
      '--json',
    );
    expect(again.code).toBe(0);
    expect(again.json()).toMatchObject({
      attributes: { title: 'v2' },
      parents: [],
      relations: { viewers: [{ type: 'user', id: sub }] },
    });
  });

  it.each([
    [['--type', 'has', '--id', 'x'], 'type'],
    [['--type', 'my doc', '--id', 'x'], 'type'],
    [['--type', 'Action', '--id', 'x'], 'Action'],
    [['--type', 'user', '--id', 'x'], 'directory'],
    [['--type', 'group', '--id', 'x'], 'directory'],
    [['--type', 'document', '--id', 'x', '--attribute', 'n:={bad'], 'not JSON'],
    [['--type', 'document', '--id', 'x', '--attribute', 'novalue'], 'NAME=VALUE'],
    [['--type', 'document', '--id', 'x', '--attribute', 'price:=0.123456'], 'decimal'],
    [['--type', 'document', '--id', 'x', '--attribute', 'big:=1e30'], 'Long'],
    [
      ['--type', 'document', '--id', 'x', '--attribute', 'o:={"__entity": {"type": "1x", "id": "a"}}'],
      'type',
    ],
    [['--type', 'document', '--id', 'x', '--parent', 'folder'], 'TYPE:ID'],
    [['--type', 'document', '--id', 'x', '--parent', 'document:x'], 'own parent'],
  ])('refuses put %p with exit 2, writing nothing', async (args, message) => {
    const before = await count('authz_resources');
    const result = await gatehouse('resource', 'put', ...args, '--json');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
    expect(await count('authz_resources')).toBe(before);
  });

  it('deletes a resource with its sharing, and refuses one that does not exist', async () => {
    expect(
      (await gatehouse('resource', 'delete', '--type', 'document', '--id', 'brief', '--json')).json(),
    ).toEqual({
      type: 'document',
      id: 'brief',
      deleted: true,
    });
    const missing = await gatehouse('resource', 'delete', '--type', 'document', '--id', 'brief');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no resource document:brief');
    expect((await list('document')).map((resource) => resource.id)).toEqual(['plan']);
  });
});

describe('resource import', () => {
  it("upserts Cedar's entity JSON, entity references included", async () => {
    const entities = [
      {
        uid: { type: 'album', id: 'summer' },
        attrs: { owner: { __entity: { type: 'user', id: sub } }, private: true, rating: 4.5 },
        parents: [{ type: 'account', id: 'family' }],
      },
      {
        uid: { type: 'photo', id: 'beach.jpg' },
        attrs: { size: 2048 },
        parents: [{ type: 'album', id: 'summer' }],
      },
      { uid: { __entity: { type: 'photo', id: 'sea.jpg' } }, attrs: {}, parents: [] },
    ];
    const imported = await gatehouse(
      'resource',
      'import',
      '--file',
      file('entities.json', entities),
      '--json',
    );
    expect(imported.code).toBe(0);
    expect(imported.json()).toEqual({ imported: 3 });
    expect(await list('album')).toEqual([
      {
        type: 'album',
        id: 'summer',
        attributes: { owner: { __entity: { type: 'user', id: sub } }, private: true, rating: 4.5 },
        parents: [{ type: 'account', id: 'family' }],
        relations: {},
      },
    ]);
    expect((await list('photo')).map((photo) => photo.id)).toEqual(['beach.jpg', 'sea.jpg']);

    const again = [{ uid: { type: 'photo', id: 'beach.jpg' }, attrs: { size: 4096 }, parents: [] }];
    expect(
      (await gatehouse('resource', 'import', '--file', file('again.json', again), '--json')).json(),
    ).toEqual({
      imported: 1,
    });
    expect((await list('photo'))[0]).toMatchObject({
      id: 'beach.jpg',
      attributes: { size: 4096 },
      parents: [],
    });
  });

  it.each([
    ['not JSON', '{"uid": '],
    ['not an array', { uid: { type: 'photo', id: 'x' } }],
    [
      'an invalid type',
      [
        { uid: { type: 'photo', id: 'ok' }, attrs: {} },
        { uid: { type: 'in', id: 'x' }, attrs: {} },
      ],
    ],
    ['a missing uid', [{ attrs: {} }]],
    ['a decimal that does not fit', [{ uid: { type: 'photo', id: 'y' }, attrs: { ratio: 0.333333 } }]],
    ['a duplicate', [{ uid: { type: 'photo', id: 'z' } }, { uid: { type: 'photo', id: 'z' } }]],
    [
      'parents that are not an array',
      [{ uid: { type: 'photo', id: 'p' }, parents: { type: 'album', id: 'a' } }],
    ],
  ])('refuses an import with %s, all or nothing (exit 2)', async (_what, content) => {
    const before = await count('authz_resources');
    const result = await gatehouse('resource', 'import', '--file', file('bad.json', content));
    expect(result.code).toBe(2);
    expect(await count('authz_resources')).toBe(before);
  });

  it('refuses a file that cannot be read (exit 2)', async () => {
    const result = await gatehouse('resource', 'import', '--file', join(dir, 'missing.json'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('missing.json');
  });
});

describe('resource share and unshare', () => {
  it('puts users and groups into resource.REL as entity references, and takes them out', async () => {
    const shared = await gatehouse(
      'resource',
      'share',
      '--type',
      'album',
      '--id',
      'summer',
      '--relation',
      'editors',
      '--group',
      'team',
      '--json',
    );
    expect(shared.code).toBe(0);
    expect(shared.json()).toMatchObject({
      changed: true,
      relations: { editors: [{ type: 'group', id: 'team' }] },
    });
    await gatehouse(
      'resource',
      'share',
      '--type',
      'album',
      '--id',
      'summer',
      '--relation',
      'editors',
      '--user',
      'owner@example.com',
    );
    const twice = await gatehouse(
      'resource',
      'share',
      '--type',
      'album',
      '--id',
      'summer',
      '--relation',
      'editors',
      '--user',
      'OWNER@example.com',
      '--json',
    );
    expect(twice.json()).toMatchObject({ changed: false });
    expect((await list('album'))[0]!.relations).toEqual({
      editors: [
        { type: 'user', id: sub },
        { type: 'group', id: 'team' },
      ],
    });

    const unshared = await gatehouse(
      'resource',
      'unshare',
      '--type',
      'album',
      '--id',
      'summer',
      '--relation',
      'editors',
      '--group',
      'team',
      '--json',
    );
    expect(unshared.json()).toMatchObject({
      changed: true,
      relations: { editors: [{ type: 'user', id: sub }] },
    });
  });

  it.each([
    [['--relation', 'editors'], 'one of --user'],
    [['--relation', 'editors', '--user', 'owner@example.com', '--group', 'team'], 'one of --user'],
    [['--relation', 'editors', '--user', 'nobody@example.com'], 'no account'],
    [['--relation', 'editors', '--group', 'nobody'], 'no group'],
    [['--relation', 'can-edit', '--group', 'team'], 'relation name'],
  ])('refuses share %p with exit 2', async (args, message) => {
    const before = await count('authz_resource_relations');
    const result = await gatehouse('resource', 'share', '--type', 'album', '--id', 'summer', ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(await count('authz_resource_relations')).toBe(before);
  });

  it('refuses to share a resource that is not stored', async () => {
    const result = await gatehouse(
      'resource',
      'share',
      '--type',
      'album',
      '--id',
      'winter',
      '--relation',
      'viewers',
      '--group',
      'team',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no resource album:winter');
  });

  it('drops the grants of a group when the group is deleted', async () => {
    await gatehouse('group', 'create', 'temp');
    await gatehouse(
      'resource',
      'share',
      '--type',
      'album',
      '--id',
      'summer',
      '--relation',
      'viewers',
      '--group',
      'temp',
    );
    expect((await list('album'))[0]!.relations.viewers).toEqual([{ type: 'group', id: 'temp' }]);
    await pool.query("DELETE FROM groups WHERE name = 'temp'");
    expect((await list('album'))[0]!.relations.viewers).toBeUndefined();
  });
});

describe('listing ids for searches', () => {
  it('pages through the stored ids of a type by keyset, in id order', async () => {
    for (let index = 0; index < 25; index += 1)
      await authz.resources.put({ type: 'ticket', id: `t-${String(index).padStart(2, '0')}` }, 'test');
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await authz.resources.listIds('ticket', { limit: 10, after });
      seen.push(...page.ids);
      after = page.next;
      pages += 1;
    } while (after !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, index) => `t-${String(index).padStart(2, '0')}`));
    expect(await authz.resources.listIds('unknown_type', { limit: 10 })).toEqual({
      ids: [],
      next: undefined,
    });
  });
});
