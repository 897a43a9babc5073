import type { Context, Middleware } from 'koa';
import { AppError } from '../errors/app-error.ts';
import type { PageRenderer } from '../libraries/page-renderer.ts';
import { isStorageUnavailable } from '../storage/storage-errors.ts';
import { isBadInput, isUniqueViolation } from '../db/sql-state.ts';

interface Described {
  status: number;
  error: string;
  description: string;
  field?: string | undefined;
}

const statusCodes: Record<number, string> = {
  400: 'invalid_request',
  401: 'invalid_token',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'request_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  503: 'temporarily_unavailable',
};

const genericDescriptions: Record<number, string> = {
  400: 'The request is malformed (for JSON: not valid JSON).',
  413: 'The request body is too large.',
  415: 'The request body has an unsupported content type.',
};

/** Turns any thrown value into status, a stable error code and a message that is safe to show. */
export function describeError(error: unknown): Described {
  if (isStorageUnavailable(error)) {
    return {
      status: 503,
      error: 'temporarily_unavailable',
      description: 'A storage service is unavailable. Try again shortly.',
    };
  }
  if (isBadInput(error) && error instanceof Error && !(error instanceof AppError)) {
    // Data exceptions and constraint violations come from input that slipped past validation: the request is
    // wrong, not the server. (Class 22: data exception; 23: integrity constraint violation.)
    return isUniqueViolation(error)
      ? { status: 409, error: 'conflict', description: 'That already exists.' }
      : {
          status: 400,
          error: 'invalid_request',
          description: 'The request holds a value Gatehouse cannot store.',
        };
  }
  if (error instanceof AppError) {
    return {
      status: error.status,
      error: error.code,
      description: error.expose ? error.message : 'Something went wrong on our side.',
      field: error.field,
    };
  }
  const candidate = error as {
    status?: unknown;
    statusCode?: unknown;
    expose?: unknown;
    error?: unknown;
    error_description?: unknown;
    message?: unknown;
  };
  const status = Number(candidate.statusCode ?? candidate.status);
  if (Number.isInteger(status) && ((status >= 400 && status < 500) || status === 503)) {
    // oidc-provider errors carry `error`/`error_description`; http-errors (body parser) carry `expose`. A client
    // error that is not marked exposable (a JSON SyntaxError) gets a generic description, not its message.
    const exposable = candidate.expose === true || typeof candidate.error === 'string';
    return {
      status,
      error:
        typeof candidate.error === 'string' ? candidate.error : (statusCodes[status] ?? 'invalid_request'),
      description: exposable
        ? String(candidate.error_description ?? candidate.message ?? '')
        : (genericDescriptions[status] ?? 'The request is malformed.'),
    };
  }
  return { status: 500, error: 'server_error', description: 'Something went wrong on our side.' };
}

function wantsJson(ctx: Context): boolean {
  return ctx.path.startsWith('/admin/api') || ctx.accepts('html', 'json') === 'json';
}

/**
 * An unknown path is as often an API client's typo as a person's: the page only when the request prefers HTML over
 * JSON (a browser's `Accept: text/html,...,*\/*;q=0.8`); no Accept or `*\/*` (curl, fetch, SDKs) gets JSON.
 */
function prefersHtml(ctx: Context): boolean {
  return !ctx.path.startsWith('/admin/api') && ctx.accepts('json', 'html') === 'html';
}

/**
 * The one error middleware: JSON (`error`, `error_description`, after RFC 6749 section 5.2) for APIs, a page for
 * browsers. 5xx details are hidden from the response and logged with the request id.
 */
export function errorHandler(pages: PageRenderer, onStorageError?: () => void): Middleware {
  return async (ctx, next) => {
    let unknownPath = false;
    try {
      await next();
      if (ctx.respond !== false && ctx.status === 404 && ctx.body === undefined) {
        unknownPath = true;
        throw new AppError('not_found', 404, 'There is nothing at this address.');
      }
    } catch (error) {
      const described = describeError(error);
      if (described.status === 503) onStorageError?.();
      if (described.status >= 500) {
        const level = described.status === 503 ? 'warn' : 'error';
        ctx.state.log?.[level]({ err: error }, 'request failed');
      }
      ctx.status = described.status;
      if (described.status === 503) ctx.set('Retry-After', '5');
      if (unknownPath ? !prefersHtml(ctx) : wantsJson(ctx)) {
        ctx.body = {
          error: described.error,
          error_description: described.description,
          ...(described.field ? { field: described.field } : {}),
        };
      } else {
        ctx.type = 'html';
        ctx.body = pages.render('error', {
          title:
            described.status === 404
              ? 'Not found'
              : described.status === 503
                ? 'Temporarily unavailable'
                : 'Something went wrong',
          message: described.description,
          requestId: ctx.state.requestId,
          ...(unknownPath ? { homeUrl: '/' } : {}),
        });
      }
    }
  };
}
