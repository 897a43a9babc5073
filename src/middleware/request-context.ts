import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
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
  onFinished: FinishedHook,
): Middleware {
  return async (ctx, next) => {
    const requestId = requestIdOf(ctx.get('x-request-id'));
    let child: Logger | undefined;
    ctx.state.requestId = requestId;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (child ??= log.child({ requestId })),
      configurable: true,
    });
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    ctx.res.once('finish', () =>
      finished(log, onFinished, ctx.path, ctx.method, ctx.res.statusCode, started, () => ctx.state.log),
    );
    await requestInfo.run({ ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined }, next);
  };
}

/**
 * What {@link requestContext} does, for a request that gets no Koa context of Gatehouse's own (oidc-provider's
 * paths, src/http-app.ts): the same id, header, log line, metrics and request info, without building a context
 * that nothing would read. `ip` is what Koa's `ctx.ip` would be.
 */
export function requestTracking(
  log: Logger,
  requestInfo: RequestInfoScope,
  onFinished: FinishedHook,
): (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  ip: string,
  work: () => Promise<void>,
) => Promise<void> {
  return (req, res, path, ip, work) => {
    const requestId = requestIdOf(req.headers['x-request-id']);
    res.setHeader('X-Request-Id', requestId);
    const started = performance.now();
    const method = req.method ?? 'GET';
    res.once('finish', () =>
      finished(log, onFinished, path, method, res.statusCode, started, () => log.child({ requestId })),
    );
    return requestInfo.run({ ip, userAgent: req.headers['user-agent'] || undefined }, work);
  };
}

type FinishedHook = (done: { path: string; method: string; status: number; seconds: number }) => void;

function requestIdOf(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && acceptableRequestId.test(incoming) ? incoming : randomUUID();
}

function finished(
  log: Logger,
  onFinished: FinishedHook,
  path: string,
  method: string,
  status: number,
  started: number,
  requestLog: () => Logger,
): void {
  const elapsed = performance.now() - started;
  onFinished({ path, method, status, seconds: elapsed / 1000 });
  const ms = Math.round(elapsed * 10) / 10;
  const level = status >= 500 ? 'warn' : status >= 400 || ms > slowMs ? 'info' : 'debug';
  if (log.isLevelEnabled(level)) requestLog()[level]({ method, path, status, ms }, 'request');
}
