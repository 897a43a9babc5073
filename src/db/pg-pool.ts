import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  connectionString: string;
  max?: number;
}

/**
 * A pg Pool whose broken connections never crash the process: errors on idle clients (Postgres restarted) are
 * reported to `onError` and the pool reconnects on the next query.
 */
export function createPool(
  { connectionString, max = 10 }: PoolOptions,
  onError: (error: Error) => void,
): Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    // A query stuck on a dead server fails instead of holding the request forever.
    query_timeout: 10_000,
  });
  pool.on('error', onError);
  return pool;
}

/** Runs `work` in one transaction on one connection, rolling back if it throws. */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Anything that runs a query: the pool, or one client inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient;
