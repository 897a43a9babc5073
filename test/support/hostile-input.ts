import fc from 'fast-check';

/**
 * Values an attacker or a broken client sends: empty, huge, control characters and NUL, lone surrogates, emoji
 * and right-to-left text, numbers where strings belong, look-alikes of real values.
 */
const edgeStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff\ud800',
  '\u202e\u202dreversed',
  '🦊🔑'.repeat(50),
  '%00',
  '%',
  '%E0%A4%A',
  '../../../../etc/passwd',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' OR 1=1 --",
  '{"$ne":null}',
  'null',
  'undefined',
  '-1',
  '1e309',
  'NaN',
  'x'.repeat(5000),
  'y'.repeat(70_000),
  'Bearer',
  'Basic Og==',
);

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }) },
  { weight: 3, arbitrary: edgeStrings },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((value) => value.repeat(400)) },
);

/** Form parameters: known names with hostile values, unknown names, and repeated names. */
export function hostileParams(names: readonly string[]): fc.Arbitrary<[string, string][]> {
  const name = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...names) },
    { weight: 1, arbitrary: hostileString },
  );
  return fc.array(fc.tuple(name, hostileString), { maxLength: 12 });
}

/** JSON bodies: objects with the schema's field names holding values of any JSON type, or not objects at all. */
export function hostileJson(fields: readonly string[]): fc.Arbitrary<unknown> {
  const value = fc.oneof(
    hostileString,
    fc.jsonValue({ maxDepth: 3 }),
    fc.array(hostileString, { maxLength: 5 }),
  );
  const key = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...fields) },
    { weight: 1, arbitrary: hostileString },
  );
  return fc.oneof(
    { weight: 5, arbitrary: fc.dictionary(key, value, { maxKeys: 8 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );
}

const stackTrace =
  /\n\s+at \S+ \(|node:internal|\.ts:\d+:\d+|\.js:\d+:\d+|TypeError|ReferenceError|SyntaxError: /;

/** What every answer to hostile input must be: not a 5xx, no stack trace, an error shaped by its format. */
export async function checkAnswer(response: Response, context: string): Promise<void> {
  const body = await response.text();
  if (response.status >= 500) throw new Error(`${context}: status ${response.status}: ${body.slice(0, 500)}`);
  if (stackTrace.test(body)) throw new Error(`${context}: a stack trace leaked: ${body.slice(0, 500)}`);
  const type = response.headers.get('content-type') ?? '';
  if (response.status >= 400 && type.includes('json')) {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error !== 'string')
      throw new Error(`${context}: JSON error without "error": ${body.slice(0, 300)}`);
  }
}
