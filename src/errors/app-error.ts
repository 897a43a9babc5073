/**
 * Errors outside oidc-provider's hooks. `code` is stable (tooling and tests match on it), `status` is the HTTP
 * status the error middleware answers with, and `expose` (after Koa's contract) says whether the message may be
 * shown: only for client errors.
 */
export type AppErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'not_found'
  | 'conflict'
  | 'too_many_requests'
  | 'forbidden'
  | 'service_unavailable'
  | 'server_error';

export class AppError extends Error {
  override name = 'AppError';
  readonly code: AppErrorCode;
  readonly status: number;
  readonly expose: boolean;
  /** The request field the error is about, when there is one. */
  readonly field: string | undefined;

  constructor(
    code: AppErrorCode,
    status: number,
    message: string,
    options: { cause?: unknown; field?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = status;
    this.expose = status < 500;
    this.field = options.field;
  }
}

export const invalidRequest = (message: string, field?: string) =>
  new AppError('invalid_request', 400, message, field === undefined ? {} : { field });
export const notFound = (message: string) => new AppError('not_found', 404, message);
export const conflict = (message: string) => new AppError('conflict', 409, message);
