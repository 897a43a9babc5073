import { invalidRequest } from '../../errors/app-error.ts';

/**
 * JSON as requests and stored data hold it, turned into Cedar's entity JSON values (../shared/CONTRACT.md, "JSON to
 * Cedar"): objects become records, arrays sets, integers Longs, other numbers `decimal`s (refused when they do not
 * fit one), `null` values are left out, and Cedar's own escapes (`{"__entity": {"type", "id"}}`, `{"__extn": {"fn",
 * "arg"}}`) are kept. Every refusal is a 400 naming the field (exit code 2 in the CLI), never a 500 and never a
 * silent change of the value's meaning.
 */
export type CedarValue =
  | boolean
  | number
  | string
  | CedarValue[]
  | { __entity: { type: string; id: string } }
  | { __extn: { fn: string; arg: string } | { fn: string; args: CedarValue[] } }
  | { [key: string]: CedarValue };

export interface EntityRef {
  type: string;
  id: string;
}

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Identifiers Cedar reserves (its grammar's keywords and the `__cedar` namespace). */
const reserved = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has', '__cedar']);
const maxTypeLength = 200;
const maxIdLength = 1024;

/** Whether `name` is a Cedar entity type name: identifiers joined by `::`, none of them reserved. */
export function isCedarTypeName(name: string): boolean {
  if (name.length === 0 || name.length > maxTypeLength) return false;
  return name.split('::').every((part) => identifier.test(part) && !reserved.has(part));
}

/**
 * Checks a type given by a caller (a subject's, a resource's, a stored parent's). Action entities are Gatehouse's
 * to build (from the action name), so a subject or resource cannot be of an `Action` type.
 */
export function checkEntityType(type: unknown, field: string): string {
  if (typeof type !== 'string' || !isCedarTypeName(type))
    throw invalidRequest(
      `${field}: ${JSON.stringify(type)} is not a valid Cedar entity type name (identifiers such as user or app::document, separated by ::)`,
      field,
    );
  if (type === 'Action' || type.endsWith('::Action'))
    throw invalidRequest(`${field}: ${type} is the type of actions, not of a subject or resource`, field);
  return type;
}

export function checkEntityId(id: unknown, field: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > maxIdLength || id.includes('\u0000'))
    throw invalidRequest(
      `${field}: an entity id is a string of 1-${String(maxIdLength)} characters (no NUL)`,
      field,
    );
  return id;
}

/** `TYPE:ID` as the CLI takes it (`--resource document:42`, `--parent folder:a:b`: the id is what follows the type). */
export function parseEntityRef(given: string, field: string): EntityRef {
  // A type may hold `::` (namespaces); the type ends at the first `:` not part of a `::`.
  const match = /^((?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*):(?!:)(.+)$/s.exec(given);
  if (!match) throw invalidRequest(`${field} ${given}: expected TYPE:ID (such as document:42)`, field);
  return { type: checkEntityType(match[1], field), id: checkEntityId(match[2], field) };
}

const minLong = -(2n ** 63n);
const maxLong = 2n ** 63n - 1n;

/** A JSON number as Cedar holds it: a Long when it is an integer, else a `decimal` (4 places at most). */
export function numberToCedar(value: number, field: string): CedarValue {
  if (!Number.isFinite(value)) throw invalidRequest(`${field}: ${String(value)} is not a number`, field);
  if (Number.isInteger(value)) {
    const big = BigInt(value);
    if (big < minLong || big > maxLong)
      throw invalidRequest(`${field}: ${String(value)} does not fit a Cedar Long (64 bits)`, field);
    return value;
  }
  const text = decimalText(value);
  if (text === undefined)
    throw invalidRequest(
      `${field}: ${String(value)} does not fit a Cedar decimal (at most 4 decimal places, between -922337203685477.5808 and 922337203685477.5807)`,
      field,
    );
  return { __extn: { fn: 'decimal', arg: text } };
}

/** The decimal literal of a non-integer number (`1.5`, `-0.25`), or undefined when Cedar's decimal cannot hold it. */
function decimalText(value: number): string | undefined {
  // The shortest text that reads back as the same double (never an exponent for |value| in [1e-6, 1e21)).
  const text = String(value);
  const match = /^(-?)(\d+)\.(\d{1,4})$/.exec(text);
  if (!match) return undefined;
  const [, sign, whole, fraction] = match as unknown as [string, string, string, string];
  const scaled = BigInt(whole + fraction.padEnd(4, '0')) * (sign === '-' ? -1n : 1n);
  if (scaled < minLong || scaled > maxLong) return undefined;
  return text;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const maxDepth = 32;

/**
 * One JSON value as a Cedar value, or undefined for `null` (left out of the record or set holding it). `field` names
 * the value in errors (`context.tier`, `resource.properties.owner`).
 */
export function jsonToCedar(value: unknown, field: string, depth = 0): CedarValue | undefined {
  if (depth > maxDepth) throw invalidRequest(`${field}: nested more than ${String(maxDepth)} levels`, field);
  if (value === null || value === undefined) return undefined;
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'string':
      return value;
    case 'number':
      return numberToCedar(value, field);
    case 'object':
      break;
    default:
      throw invalidRequest(`${field}: not a JSON value`, field);
  }
  if (Array.isArray(value)) {
    const items: CedarValue[] = [];
    value.forEach((item, index) => {
      const converted = jsonToCedar(item, `${field}.${String(index)}`, depth + 1);
      if (converted !== undefined) items.push(converted);
    });
    return items;
  }
  const record = value as Record<string, unknown>;
  if ('__entity' in record || '__extn' in record) return escapeToCedar(record, field);
  const converted: Record<string, CedarValue> = {};
  for (const [key, item] of Object.entries(record)) {
    const cedar = jsonToCedar(item, `${field}.${key}`, depth + 1);
    if (cedar !== undefined) converted[key] = cedar;
  }
  return converted;
}

/** Cedar's escapes, kept as they are once their shape is checked (an ill-formed one is a 400, not a record). */
function escapeToCedar(record: Record<string, unknown>, field: string): CedarValue {
  const keys = Object.keys(record);
  if (keys.length !== 1)
    throw invalidRequest(`${field}: an __entity or __extn escape is an object with that one key`, field);
  if ('__entity' in record) {
    const entity = record.__entity;
    if (!isPlainObject(entity))
      throw invalidRequest(`${field}.__entity: expected {"type": ..., "id": ...}`, `${field}.__entity`);
    return {
      __entity: {
        type: checkEntityType(entity.type, `${field}.__entity.type`),
        id: checkEntityId(entity.id, `${field}.__entity.id`),
      },
    };
  }
  const extension = record.__extn;
  if (!isPlainObject(extension) || typeof extension.fn !== 'string' || !identifier.test(extension.fn))
    throw invalidRequest(
      `${field}.__extn: expected {"fn": NAME, "arg": VALUE} (such as {"fn": "decimal", "arg": "1.5"})`,
      `${field}.__extn`,
    );
  if ('args' in extension && Array.isArray(extension.args))
    return {
      __extn: {
        fn: extension.fn,
        args: extension.args.map((arg, index) => {
          const converted = jsonToCedar(arg, `${field}.__extn.args.${String(index)}`);
          if (converted === undefined)
            throw invalidRequest(`${field}.__extn.args: null is not an argument`, `${field}.__extn.args`);
          return converted;
        }),
      },
    };
  if (typeof extension.arg !== 'string')
    throw invalidRequest(`${field}.__extn.arg: expected a string (such as "1.5")`, `${field}.__extn.arg`);
  return { __extn: { fn: extension.fn, arg: extension.arg } };
}

/** A JSON object as a Cedar record (attributes, context): `null` members are left out. */
export function jsonToCedarRecord(value: unknown, field: string): Record<string, CedarValue> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw invalidRequest(`${field}: expected a JSON object`, field);
  if ('__entity' in value || '__extn' in value)
    throw invalidRequest(`${field}: expected a record, not an entity or extension value`, field);
  return jsonToCedar(value, field) as Record<string, CedarValue>;
}

/** A reference to an entity, as Cedar's entity JSON writes it inside attributes. */
export const entityValue = (ref: EntityRef): CedarValue => ({ __entity: { type: ref.type, id: ref.id } });
