import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { invalidRequest } from '../../errors/app-error.ts';

/**
 * A Cedar policy set as Gatehouse holds it: each policy under an id (its `@id("...")` annotation, else `policy0`,
 * `policy1`, ... by position, as Cedar itself numbers them), so that the ids a decision names are the ones its
 * author wrote. Compiled once per version; evaluation runs on Cedar's preparsed copy (see decisions.ts).
 */
export interface CompiledPolicySet {
  /** Policy id → its text. */
  policies: Record<string, string>;
  /** The ids in the order of the text. */
  ids: string[];
}

/** Ids Gatehouse keeps for its own policies (the RBAC permit: decisions.ts). */
export const internalPolicyPrefix = 'gatehouse:';
/** How long a policy set may be (its text, in bytes), and a schema. */
export const maxPolicyTextBytes = 1024 * 1024;

/** Line and column (1-based) of a byte offset into `text` (Cedar reports byte offsets). */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = Buffer.from(text, 'utf8').subarray(0, offset).toString('utf8');
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}

/** Cedar's errors as one message: each with its line and column in `text`, the label and the help Cedar gives. */
export function describeCedarErrors(
  errors: readonly cedar.DetailedError[],
  text: string,
  options: { what: string; offset?: number; policyId?: string } = { what: 'policy set' },
): string {
  return errors
    .map((error) => {
      const location = error.sourceLocations?.[0];
      const where = location
        ? (() => {
            const { line, column } = lineAndColumn(text, (options.offset ?? 0) + location.start);
            return ` at line ${String(line)}, column ${String(column)}`;
          })()
        : '';
      const label = location?.label ? ` (${location.label})` : '';
      const help = error.help ? `; ${error.help}` : '';
      const policy = options.policyId ? ` (policy ${options.policyId})` : '';
      return `${options.what}${policy}${where}: ${error.message}${label}${help}`;
    })
    .join('\n');
}

/** A schema in Cedar's JSON format (a JSON object) or in its human-readable format (any other text). */
function schemaInput(schema: string): cedar.Schema {
  if (!schema.trimStart().startsWith('{')) return schema;
  try {
    const parsed = JSON.parse(schema) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as cedar.Schema;
  } catch {
    // Not JSON: Cedar's parser says what is wrong with it as text.
  }
  return schema;
}

/**
 * Parses a policy set (and validates it against `schema` when one is given, in Cedar's strict mode). Anything
 * wrong is a 400 (`policy`, or `schema`) with Cedar's message and line; nothing is returned half-checked.
 */
export function compilePolicySet(text: string, schema: string | null): CompiledPolicySet {
  if (text.includes('\u0000')) throw invalidRequest('the policy set holds a NUL character', 'policy');
  if (Buffer.byteLength(text) > maxPolicyTextBytes)
    throw invalidRequest(`a policy set takes at most ${String(maxPolicyTextBytes)} bytes`, 'policy');
  const parsed = cedar.checkParsePolicySet({ staticPolicies: text });
  if (parsed.type === 'failure') throw invalidRequest(describeCedarErrors(parsed.errors, text), 'policy');
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') throw invalidRequest(describeCedarErrors(parts.errors, text), 'policy');
  if (parts.policy_templates.length > 0)
    throw invalidRequest(
      'the policy set holds a template (a policy with ?principal or ?resource): Gatehouse evaluates static policies only',
      'policy',
    );

  const policies: Record<string, string> = {};
  const ids: string[] = [];
  const offsets = new Map<string, number>();
  let cursor = 0;
  parts.policies.forEach((policy, index) => {
    const json = cedar.policyToJson(policy);
    const annotated = json.type === 'success' ? json.json.annotations?.id : undefined;
    const id = annotated ?? `policy${String(index)}`;
    if (id.startsWith(internalPolicyPrefix))
      throw invalidRequest(
        `policy id ${id}: ids starting with ${internalPolicyPrefix} are Gatehouse's own`,
        'policy',
      );
    if (id in policies) throw invalidRequest(`two policies have the id ${id}`, 'policy');
    const at = text.indexOf(policy, cursor);
    if (at >= 0) {
      offsets.set(id, Buffer.byteLength(text.slice(0, at)));
      cursor = at + policy.length;
    }
    policies[id] = policy;
    ids.push(id);
  });

  if (schema !== null) {
    if (schema.includes('\u0000')) throw invalidRequest('the schema holds a NUL character', 'schema');
    if (Buffer.byteLength(schema) > maxPolicyTextBytes)
      throw invalidRequest(`a schema takes at most ${String(maxPolicyTextBytes)} bytes`, 'schema');
    const input = schemaInput(schema);
    const checked = cedar.checkParseSchema(input);
    if (checked.type === 'failure')
      throw invalidRequest(describeCedarErrors(checked.errors, schema, { what: 'schema' }), 'schema');
    const validated = cedar.validate({ schema: input, policies: { staticPolicies: policies } });
    if (validated.type === 'failure')
      throw invalidRequest(describeCedarErrors(validated.errors, schema, { what: 'schema' }), 'schema');
    if (validated.validationErrors.length > 0)
      throw invalidRequest(
        validated.validationErrors
          .map((failure) =>
            describeCedarErrors(
              [failure.error],
              offsets.has(failure.policyId) ? text : (policies[failure.policyId] ?? text),
              {
                what: 'policy set does not validate against the schema',
                policyId: failure.policyId,
                ...(offsets.has(failure.policyId) ? { offset: offsets.get(failure.policyId)! } : {}),
              },
            ),
          )
          .join('\n'),
        'policy',
      );
  }
  return { policies, ids };
}
