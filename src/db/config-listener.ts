import pg from 'pg';
import type { Logger } from 'pino';
import { isCacheArea, type ConfigCache } from './config-cache.ts';

/** The channel the config version trigger notifies (migration 011), with the area's name as the payload. */
export const configChangeChannel = 'gatehouse_config';
/** The listener's `application_name`, so it can be told apart in `pg_stat_activity`. */
export const configListenerName = 'gatehouse-config-listener';

export interface ConfigListener {
  /**
   * Settles once the first attempt to listen has succeeded (true) or failed (false: it retries in the background,
   * unless the database cannot deliver notifications at all, embedded PGlite).
   */
  started: Promise<boolean>;
  /** Stops listening and retrying, and closes the connection. */
  close(): Promise<void>;
}

export interface ConfigListenerOptions {
  /** Where to connect: the pool's own settings (a dedicated connection, never one of the pool's). */
  connection: pg.ClientConfig;
  cache: Pick<ConfigCache, 'invalidate' | 'invalidateAll'>;
  log: Logger;
  /** Delay before the first reconnection attempt, doubled after each failure up to `maxRetryMs`. */
  firstRetryMs?: number;
  maxRetryMs?: number;
  /** How often the idle connection is checked, so a connection that died silently is replaced. */
  heartbeatMs?: number;
}

/**
 * Makes a configuration change from another process (the CLI, another Gatehouse) reach this process's config
 * cache within milliseconds: one dedicated connection LISTENs on the channel the version trigger notifies, and each
 * notification forgets its area. When that connection drops (Postgres restarted, the backend terminated), it
 * reconnects in the background with backoff and, once listening again, forgets everything, since notifications
 * sent meanwhile are lost. Correctness never depends on it: the cache's version poll notices every change anyway,
 * only later. Never throws and never emits an unhandled 'error'.
 */
export function listenForConfigChanges(options: ConfigListenerOptions): ConfigListener {
  const { cache, log, firstRetryMs = 100, maxRetryMs = 10_000, heartbeatMs = 30_000 } = options;
  let closed = false;
  let current: pg.Client | undefined;
  let attempt: Promise<boolean> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let failures = 0;

  const onNotification = (message: pg.Notification) => {
    if (message.channel !== configChangeChannel) return;
    if (message.payload && isCacheArea(message.payload)) cache.invalidate(message.payload);
    else cache.invalidateAll();
  };

  const scheduleRetry = () => {
    if (closed || retry) return;
    const delay = Math.min(maxRetryMs, firstRetryMs * 2 ** failures) * (0.5 + Math.random() / 2);
    failures += 1;
    retry = setTimeout(() => {
      retry = undefined;
      attempt = connect();
    }, delay);
    retry.unref();
  };

  async function connect(): Promise<boolean> {
    const client = new pg.Client({
      connectionTimeoutMillis: 5000,
      ...options.connection,
      application_name: configListenerName,
      keepAlive: true,
    });
    let lost = false;
    /** Called once per connection, whichever way it ends: a failed start, an error, the end, a dead heartbeat. */
    const lose = (error: unknown) => {
      if (lost) return;
      lost = true;
      client.removeListener('notification', onNotification);
      client.end().catch(() => undefined);
      if (current !== client) return scheduleRetry();
      current = undefined;
      clearInterval(heartbeat);
      if (closed) return;
      log.warn(
        { err: { message: error instanceof Error ? error.message : String(error) } },
        'config change listener lost its connection: reconnecting (changes are polled meanwhile)',
      );
      scheduleRetry();
    };
    // A listener on 'error' is what keeps a dropped connection from crashing the process.
    client.on('error', lose);
    client.on('end', () => lose(new Error('connection ended')));
    client.on('notification', onNotification);
    try {
      await client.connect();
      const { rows } = await client.query<{ version: string }>('SELECT version() AS version');
      if (/\bPGlite\b/.test(rows[0]?.version ?? '')) {
        // pglite-socket runs every connection on PGlite's one session and hands a notification to the connection
        // whose statement sent it, never to a listener: the version poll is all there is.
        closed = true;
        lost = true;
        await client.end().catch(() => undefined);
        log.info('embedded PGlite cannot notify: configuration changes from the CLI are noticed by the poll');
        return false;
      }
      await client.query(`LISTEN ${configChangeChannel}`);
    } catch (error) {
      // The first failure of a series is worth a warning (at start-up: nothing else says it); retries are not.
      if (!closed)
        (failures === 0 ? log.warn : log.debug).call(
          log,
          { err: { message: (error as Error).message } },
          'config change listener could not connect: retrying (changes are polled meanwhile)',
        );
      lose(error);
      return false;
    }
    if (lost) return false;
    if (closed) {
      lost = true;
      await client.end().catch(() => undefined);
      return false;
    }
    const reconnected = failures > 0;
    current = client;
    failures = 0;
    // Whatever changed while nobody listened was not announced: forget it all.
    cache.invalidateAll();
    if (reconnected) log.info('config change listener reconnected');
    let beating = false;
    heartbeat = setInterval(() => {
      // A heartbeat still unanswered a whole interval later: the connection died without saying so.
      if (beating) return lose(new Error('heartbeat unanswered'));
      beating = true;
      client.query('SELECT 1').then(
        () => (beating = false),
        (error: unknown) => lose(error),
      );
    }, heartbeatMs);
    heartbeat.unref();
    return true;
  }

  attempt = connect();
  return {
    started: attempt,
    async close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(heartbeat);
      await attempt;
      const client = current;
      current = undefined;
      await client?.end().catch(() => undefined);
    },
  };
}
