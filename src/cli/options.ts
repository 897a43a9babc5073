import { invalidRequest } from '../errors/app-error.ts';
import type { Libraries } from '../libraries/create-libraries.ts';

/**
 * Audits a change made through the CLI as the admin API audits its own (`admin.change`, actor `cli`): what, on
 * what, and the record before and after. Never a secret.
 */
export function auditCliChange(
  libraries: Pick<Libraries, 'audit'>,
  action: string,
  target: string,
  change: { before?: unknown; after?: unknown },
): Promise<void> {
  return libraries.audit.record('admin.change', {
    actor: 'cli',
    details: {
      action,
      target,
      ...(change.before === undefined ? {} : { before: change.before }),
      ...(change.after === undefined ? {} : { after: change.after }),
    },
  });
}

/** Collects a repeatable option (`--role a --role b`) into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Left-aligned columns for human output. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** What `--help` says about a `--…-stdin` option. */
export const stdinHelp = (what: string) =>
  `read the ${what} from standard input (its first line), which keeps it out of shell history and the process list`;

/**
 * The first line of standard input, without its line ending. Stops reading at the first newline, so a terminal
 * user ends the value with Enter and a pipe may hold more.
 */
export async function readFirstStdinLine(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  const newline = text.indexOf('\n');
  return (newline === -1 ? text : text.slice(0, newline)).replace(/\r$/, '');
}

/**
 * A secret given either on the command line (`--password P`, which lands in shell history) or on standard input
 * (`--password-stdin`). The two are exclusive; an empty value on stdin is refused. Errors are bad arguments
 * (exit code 2, nothing written). `undefined` when neither was given.
 */
export async function secretOption(
  given: { value: string | undefined; stdin: boolean | undefined },
  names: { option: string; stdinOption: string; what: string },
  read: () => Promise<string> = () => readFirstStdinLine(),
): Promise<string | undefined> {
  if (given.stdin !== true) return given.value;
  if (given.value !== undefined)
    throw invalidRequest(`${names.option} and ${names.stdinOption} cannot be used together: give one`);
  const value = await read();
  if (value === '')
    throw invalidRequest(
      `${names.stdinOption}: standard input held no ${names.what} (its first line is empty)`,
    );
  return value;
}

/**
 * Attributes as given on the command line: `K=V` sets a string, `K:=JSON` a typed JSON value (`tier:=3`,
 * `tags:='["a","b"]'`). The last value given for a name wins. Malformed ones are bad arguments (exit code 2).
 */
export function parseAttributes(given: readonly string[]): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const item of given) {
    const split = item.indexOf('=');
    if (split < 1)
      throw invalidRequest(`--attribute ${item}: expected NAME=VALUE or NAME:=JSON`, 'attribute');
    const typed = item[split - 1] === ':';
    const name = item.slice(0, typed ? split - 1 : split);
    const raw = item.slice(split + 1);
    if (name === '') throw invalidRequest(`--attribute ${item}: the name is empty`, 'attribute');
    if (!typed) {
      attributes[name] = raw;
      continue;
    }
    try {
      attributes[name] = JSON.parse(raw) as unknown;
    } catch (error) {
      throw invalidRequest(
        `--attribute ${name}:=${raw}: not JSON (${(error as Error).message}); for a string use ${name}=VALUE`,
        `attributes.${name}`,
      );
    }
  }
  return attributes;
}
