import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors/app-error.ts';
import { textField } from '../forms.ts';

/**
 * Form fields of the console's pages. A repeated field (checkboxes of one name) arrives as an array, a single one
 * as a string, none as nothing: `choices` takes all three. Everything else is a bounded single-line string.
 */
export const choices = (max: number, itemMax = 2000) =>
  z
    .union([textField(itemMax), z.array(textField(itemMax)).max(max)])
    .optional()
    .transform((value) =>
      (value === undefined ? [] : Array.isArray(value) ? value : [value]).filter(Boolean),
    );

/** A textarea of one value per line (redirect URIs): blank lines and surrounding spaces dropped. */
export const lines = (maxChars: number) =>
  z
    .string()
    .max(maxChars)
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter(Boolean),
    );

/** A checkbox: present (any value) or not. */
export const checkbox = z
  .string()
  .max(10)
  .optional()
  .transform((value) => value !== undefined);

/** An optional text input: an empty field is the same as none. */
export const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .optional()
    .transform((value) => (value?.trim() ? value.trim() : undefined));

/**
 * Runs a change and, when the libraries refuse it for the request's sake (an AppError below 500: a bad field, a
 * conflict, an unknown role), calls `refused` with the message to show the form again with, instead of an error
 * page. Anything else is the error middleware's.
 */
export async function orShowAgain(
  ctx: Context,
  change: () => Promise<void>,
  refused: (message: string) => Promise<void>,
): Promise<void> {
  try {
    await change();
  } catch (error) {
    if (!(error instanceof AppError) || error.status >= 500) throw error;
    ctx.status = error.status;
    await refused(error.message);
  }
}

/** Short words for a page to show after a change, picked by a code in the query (no text is reflected). */
export function noticeFrom(ctx: Context, notices: Readonly<Record<string, string>>): string | undefined {
  const code = ctx.query.done;
  return typeof code === 'string' && Object.hasOwn(notices, code) ? notices[code] : undefined;
}

/** After a change: back to a page (303, so a reload does not post again), with the notice's code. */
export function backTo(ctx: Context, page: string, done: string): void {
  ctx.status = 303;
  ctx.redirect(`${page}${page.includes('?') ? '&' : '?'}done=${encodeURIComponent(done)}`);
}
