import { invalidRequest } from '../errors/app-error.ts';

/** One page of a list and the cursor of the next page (null on the last): a list never stops short silently. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** An opaque cursor: the key of the last item of a page, base64url. */
export const encodeCursor = (key: string): string => Buffer.from(JSON.stringify([key])).toString('base64url');

/** The key a cursor names; a cursor Gatehouse did not make is a 400 naming `cursor`. */
export function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 1 &&
      typeof parsed[0] === 'string' &&
      parsed[0].length <= 2000
    )
      return parsed[0];
  } catch {
    // falls through to the refusal
  }
  throw invalidRequest('the cursor is not one Gatehouse gave out', 'cursor');
}

/**
 * A page of a list already read in its order, by a unique key (a name, an id): the items after the one the cursor
 * names. The lists paged this way (roles, groups, APIs, clients, upstreams) are small configuration; the account list
 * pages in SQL (accounts.listPage). An item deleted between pages is found by key order instead.
 */
export function pageByKey<T>(
  items: readonly T[],
  key: (item: T) => string,
  options: { limit: number; cursor?: string | undefined },
): Page<T> {
  let start = 0;
  if (options.cursor !== undefined) {
    const after = decodeCursor(options.cursor);
    const at = items.findIndex((item) => key(item) === after);
    start = at >= 0 ? at + 1 : items.findIndex((item) => key(item) > after);
    if (start < 0) start = items.length;
  }
  const page = items.slice(start, start + options.limit);
  const last = page.at(-1);
  return {
    items: page,
    next: start + options.limit < items.length && last !== undefined ? encodeCursor(key(last)) : null,
  };
}
