/**
 * Postgres text cannot hold NUL (U+0000): a query carrying one fails with SQLSTATE 22021. Input is checked before
 * it reaches a query, so such a value is a plain "not found" or a 400, never a 500.
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000');
}

/** The path of the first string holding a NUL anywhere in a parsed body, or undefined. */
export function findUnstorableText(value: unknown, path: string[] = []): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : path.join('.') || 'body';
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findUnstorableText(item, [...path, String(index)]);
      if (found) return found;
    }
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const found = isStorableText(key)
        ? findUnstorableText(item, [...path, key])
        : [...path, 'key'].join('.');
      if (found) return found;
    }
  }
  return undefined;
}
