import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { RequestInfoScope } from '../storage/request-info.ts';

declare module 'koa' {
  interface DefaultState {
    requestId: string;
    log: Logger;
  }
}

const acceptableRequestId = /^[A-Za-z0-9._-]{8,128}$/;
/** Requests slower than this are logged at info even when they succeed. */
const slowMs = 1000;

/**
 * Gives every request an id (a well-formed incoming X-Request-Id, else a new one), a logger carrying it (made only
 * when something logs), one log line when the response is finished, and its address and user agent for the
 * session ledger. Only the path is logged, never the query string or body: they carry codes, tokens and
 * passwords. Successful quick requests log at debug, the rest at info/warn: at thousands of token requests a second
 * an access log line each costs more than the request itself (measured: 15 % of the CPU of a token request).
 */
export function requestContext(
  log: Logger,
  requestInfo: RequestInfoScope,
  /** Called once per finished response (metrics), from the same listener as the log line. */
  onFinished: (ctx: { path: string; method: string; status: number; seconds: number }) => void,
): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = acceptableRequestId.test(incoming) ? incoming : randomUUID();
    let child: Logger | undefined;
    ctx.state.requestId = requestId;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (child ??= log.child({ requestId })),
      configurable: true,
    });
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    ctx.res.once('finish', () => {
      const elapsed = performance.now() - started;
      const status = ctx.res.statusCode;
      onFinished({ path: ctx.path, method: ctx.method, status, seconds: elapsed / 1000 });
      const ms = Math.round(elapsed * 10) / 10;
      const level = status >= 500 ? 'warn' : status >= 400 || ms > slowMs ? 'info' : 'debug';
      if (log.isLevelEnabled(level))
        ctx.state.log[level]({ method: ctx.method, path: ctx.path, status, ms }, 'request');
    });
    await requestInfo.run({ ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined }, next);
  };
}
