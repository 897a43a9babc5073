import { pino } from 'pino';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { createPool, type Pool } from '../../src/db/pg-pool.ts';
import type { AccountLibrary } from '../../src/libraries/accounts.ts';
import { createAuditLog } from '../../src/libraries/audit.ts';
import {
  createOperatorRequestProcessor,
  type OperatorRetryPolicy,
} from '../../src/libraries/operator-requests.ts';
import { createSessionLedger } from '../../src/libraries/session-ledger.ts';
import type { SessionManagement } from '../../src/libraries/session-management.ts';
import type { SignInThrottles } from '../../src/libraries/throttles.ts';
import { createAccountQueries } from '../../src/queries/account-queries.ts';
import { createAuditQueries } from '../../src/queries/audit-queries.ts';
import { createSessionQueries } from '../../src/queries/session-queries.ts';
import { createTestDatabase, type TestDatabase } from '../support/services.ts';

/**
 * The operator queue (CLI → running servers) against real Postgres, with the sessions library standing in for the
 * hot store: a request whose carrying out fails is kept, retried after its delay, and its failures audited.
 */
let database: TestDatabase;
let pool: Pool;
const since = new Date(Date.now() - 60_000);
// A connection error as ioredis words it, with a password in the URL that must not reach the table or the log.
const blip = () => new Error('connect ECONNREFUSED redis://default:hunter2-secret@10.0.0.7:6379');

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateDatabase(database.url, pino({ level: 'silent' }));
  pool = createPool({ connectionString: database.url, max: 3 }, () => undefined);
});
afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

async function setUp(email: string, signOutEverywhere: () => Promise<{ sessions: number; grants: number }>) {
  const account = await createAccountQueries(pool).insert({
    email,
    name: null,
    passwordHash: null,
    emailVerified: true,
  });
  const queries = createSessionQueries(pool);
  const audit = createAuditLog(createAuditQueries(pool));
  const calls: string[] = [];
  const sessions = {
    signOutEverywhere: (accountId: string) => {
      calls.push(accountId);
      return signOutEverywhere();
    },
  } as unknown as SessionManagement;
  const processor = (retry: OperatorRetryPolicy) =>
    createOperatorRequestProcessor({
      queries,
      sessions,
      accounts: {} as AccountLibrary,
      throttles: {} as SignInThrottles,
      audit,
      retry,
    });
  const id = await createSessionLedger(queries).request('sign-out-everywhere', account.id, 'cli');
  const row = async () =>
    (
      await pool.query<{
        attempts: number;
        last_error: string | null;
        handled_at: Date | null;
        failed_at: Date | null;
        result: Record<string, unknown> | null;
        retry_in: number;
      }>(
        `SELECT attempts, last_error, handled_at, failed_at, result,
                extract(epoch FROM next_attempt_at - now())::float AS retry_in
         FROM operator_requests WHERE id = $1`,
        [id],
      )
    ).rows[0]!;
  const failures = () => audit.list({ since, type: 'operator_request.failed', accountId: account.id });
  return { account, queries, calls, processor, id, row, failures };
}

it('carries out a sign-out-everywhere queued during a storage blip once storage is back', async () => {
  let storageUp = false;
  const { account, queries, calls, processor, id, row, failures } = await setUp(
    'blip@example.com',
    async () => {
      if (!storageUp) throw blip();
      return { sessions: 2, grants: 1 };
    },
  );
  const run = processor({ maxAttempts: 5, delaySeconds: () => 0 });

  // During the blip: the attempt fails, the request stays pending with the failure recorded and audited.
  await expect(run()).resolves.toBe(0);
  expect(calls).toEqual([account.id]);
  expect(await queries.result(id)).toBeUndefined();
  const failed = await row();
  expect(failed).toMatchObject({ attempts: 1, handled_at: null, failed_at: null, result: null });
  expect(failed.last_error).toContain('ECONNREFUSED');
  expect(failed.last_error).not.toContain('hunter2');
  const [event] = await failures();
  expect(event).toMatchObject({
    type: 'operator_request.failed',
    accountId: account.id,
    actor: 'cli',
    details: { requestId: id, action: 'sign-out-everywhere', attempt: 1, retryInSeconds: 0 },
  });
  expect(JSON.stringify(event)).not.toContain('hunter2');

  // Storage is back: the next run carries it out.
  storageUp = true;
  await expect(run()).resolves.toBe(1);
  expect(calls).toEqual([account.id, account.id]);
  expect(await queries.result(id)).toEqual({ sessions: 2, grants: 1 });
  expect(await row()).toMatchObject({ attempts: 2, failed_at: null });
  await expect(run()).resolves.toBe(0);
  expect(calls).toHaveLength(2);
  expect(await failures()).toHaveLength(1);
});

it('waits the backoff delay before trying a failed request again', async () => {
  const { calls, processor, row } = await setUp('backoff@example.com', () => Promise.reject(blip()));
  const run = processor({ maxAttempts: 5, delaySeconds: (attempt) => 60 * attempt });
  await run();
  await run();
  expect(calls).toHaveLength(1);
  const pending = await row();
  expect(pending.retry_in).toBeGreaterThan(50);
  expect(pending.retry_in).toBeLessThanOrEqual(60);
});

it('marks a request failed, and audits that it gave up, once its attempts are spent', async () => {
  const { calls, processor, id, queries, row, failures } = await setUp('gives-up@example.com', () =>
    Promise.reject(blip()),
  );
  const run = processor({ maxAttempts: 2, delaySeconds: () => 0 });
  await run();
  await run();
  await run();
  expect(calls).toHaveLength(2);
  expect(await queries.result(id)).toBeUndefined();
  expect((await row()).failed_at).toBeInstanceOf(Date);
  expect((await failures()).map((event) => event.details)).toEqual([
    expect.objectContaining({ attempt: 1, retryInSeconds: 0 }),
    expect.objectContaining({ attempt: 2, gaveUp: true }),
  ]);
});
