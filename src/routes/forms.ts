import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { AppError, invalidRequest } from '../errors/app-error.ts';
import type { CsrfTokens } from '../libraries/csrf.ts';
import { findUnstorableText } from '../db/text-safety.ts';

/**
 * Reads a urlencoded form body against a schema. Repeated fields arrive as arrays and fail the string checks, so
 * `email=a&email=b` is a 400 naming `email`, never a half-understood request.
 */
export function readForm<T extends z.ZodType>(ctx: Context, schema: T): z.infer<T> {
  const body: unknown = ctx.request.body ?? {};
  const unstorable = findUnstorableText(body);
  if (unstorable)
    throw invalidRequest(`the form field "${unstorable}" holds a character that is not allowed`, unstorable);
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.') || 'body';
    throw invalidRequest(`the form field "${field}" is missing or malformed`, field);
  }
  return parsed.data;
}

export function assertCsrf(csrf: CsrfTokens, binding: string, token: unknown): void {
  if (!csrf.verify(binding, token)) {
    throw new AppError(
      'forbidden',
      403,
      'This form has expired or was not sent from Gatehouse. Reload the page and try again.',
    );
  }
}

/**
 * A form post's prelude: the body read against `schema`, then its CSRF token checked against `binding` (what the
 * page that showed the form was bound to). Every form handler starts here, so neither step can be left out.
 */
export function readCsrfForm<T extends z.ZodType<{ csrf: string }>>(
  ctx: Context,
  csrf: CsrfTokens,
  binding: string,
  schema: T,
): z.infer<T> {
  const form = readForm(ctx, schema);
  assertCsrf(csrf, binding, form.csrf);
  return form;
}

/** Pages that show or take personal data, codes or tokens are never stored by a browser or a proxy. */
export const noStore: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store');
  await next();
};

/** A form with nothing but its CSRF token (a button). */
export const csrfOnlyForm = z.object({ csrf: z.string().max(100) });

/** A single-line text field of bounded length. */
export const textField = (max: number) => z.string().max(max);
