import { invalidRequest } from '../../errors/app-error.ts';
import { isCedarTypeName } from './cedar-values.ts';

/**
 * Search claims (issue 14, `api create --search-claim NAME=ACTION:TYPE`): a user access token for the API carries
 * claim NAME, the resources of TYPE the subject may do ACTION on, as `[{"type", "id"}]`, from a resource search
 * through the policy decision point at every issuance (refresh included).
 */
export interface SearchClaim {
  name: string;
  action: string;
  type: string;
}

/**
 * The bounds of search claims:
 * - `entries`: entries per claim; past that the first ones in id order and `NAME_truncated: true`;
 * - `bytes`: the JSON of all the search claims of one token together (so that, with the rest of its payload, a
 *   JWT stays well under 8 KB); entries that would go past it are left out, with `NAME_truncated: true`;
 * - `scanPages`: pages of the resource search per claim and issuance, each judging at most `searchScanBudget`
 *   (2,000) candidates: so at most 2,000 decisions per claim and issuance (about 0.2 ms each, measured in
 *   test/integration/search-claim.test.ts); a scan cut short sets `NAME_truncated: true` too (the list may then
 *   be incomplete: an API that needs the whole answer asks the decision point);
 * - `perApi`: search claims one API may declare.
 */
export const searchClaimLimits = { entries: 100, bytes: 4096, scanPages: 1, perApi: 5 } as const;

/** Claims a search claim may not be named (nor `NAME_truncated`): JWT/OIDC registered ones and Gatehouse's. */
export const reservedClaimNames: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'client_id',
  'scope',
  'scp',
  'roles',
  'permissions',
  'groups',
  'entitlements',
  'cnf',
  'auth_time',
  'acr',
  'amr',
  'azp',
  'nonce',
  'sid',
  'at_hash',
  'c_hash',
  's_hash',
  'typ',
  'alg',
  'kid',
  'act',
  'may_act',
  'active',
  'token_type',
  'username',
  'authorization_details',
  'grant_id',
  'idp',
  'email',
  'email_verified',
  'name',
  'updated_at',
  'extra',
]);

const claimName = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const maxAction = 256;
const truncatedSuffix = '_truncated';

function checkName(name: unknown, field: string): string {
  if (typeof name !== 'string' || !claimName.test(name))
    throw invalidRequest(
      `${field}: claim name ${JSON.stringify(name)} must be 1-64 letters, digits, _ or - (starting with a letter or _)`,
      field,
    );
  const base = name.endsWith(truncatedSuffix) ? name.slice(0, -truncatedSuffix.length) : undefined;
  if (
    reservedClaimNames.has(name) ||
    reservedClaimNames.has(name.toLowerCase()) ||
    (base !== undefined && reservedClaimNames.has(base))
  )
    throw invalidRequest(`${field}: claim name ${name} is a registered or Gatehouse claim`, field);
  return name;
}

function checkAction(action: unknown, field: string): string {
  if (
    typeof action !== 'string' ||
    action.length === 0 ||
    action.length > maxAction ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/.test(action)
  )
    throw invalidRequest(
      `${field}: an action is a Cedar action id of 1-${String(maxAction)} characters (no control characters)`,
      field,
    );
  return action;
}

function checkType(type: unknown, field: string): string {
  if (typeof type !== 'string' || !isCedarTypeName(type) || type === 'Action' || type.endsWith('::Action'))
    throw invalidRequest(
      `${field}: ${JSON.stringify(type)} is not a valid Cedar entity type name (such as document or app::document)`,
      field,
    );
  return type;
}

/**
 * `NAME=ACTION:TYPE` as the CLI takes it. NAME ends at the first `=`; TYPE begins after the last `:` that is not
 * part of a `::` (a namespaced type such as `app::document`), so ACTION may hold `:` itself:
 * `editable=document:edit:document` is claim `editable`, action `document:edit`, type `document`.
 */
export function parseSearchClaim(text: string, field = 'search_claim'): SearchClaim {
  const equals = text.indexOf('=');
  if (equals <= 0) throw invalidRequest(`${field} ${JSON.stringify(text)}: expected NAME=ACTION:TYPE`, field);
  const name = text.slice(0, equals);
  const rest = text.slice(equals + 1);
  let split = -1;
  for (let index = rest.length - 1; index > 0; index--) {
    if (rest[index] === ':' && rest[index - 1] !== ':' && rest[index + 1] !== ':') {
      split = index;
      break;
    }
  }
  if (split <= 0 || split === rest.length - 1)
    throw invalidRequest(`${field} ${JSON.stringify(text)}: expected NAME=ACTION:TYPE`, field);
  return checkSearchClaim({ name, action: rest.slice(0, split), type: rest.slice(split + 1) }, field);
}

/** Checks one claim as the admin API sends it (`{"name", "action", "type"}`). */
export function checkSearchClaim(claim: unknown, field = 'search_claim'): SearchClaim {
  const given = (claim ?? {}) as Partial<Record<keyof SearchClaim, unknown>>;
  return {
    name: checkName(given.name, field),
    action: checkAction(given.action, field),
    type: checkType(given.type, field),
  };
}

/** Checks an API's list: each claim, at most `perApi`, no name twice (nor one that is another's `_truncated`). */
export function checkSearchClaims(claims: readonly unknown[], field = 'search_claim'): SearchClaim[] {
  if (claims.length > searchClaimLimits.perApi)
    throw invalidRequest(
      `${field}: an API has at most ${String(searchClaimLimits.perApi)} search claims`,
      field,
    );
  const checked = claims.map((claim) => checkSearchClaim(claim, field));
  const names = new Set<string>();
  for (const claim of checked) {
    if (names.has(claim.name) || names.has(claim.name + truncatedSuffix))
      throw invalidRequest(`${field}: claim name ${claim.name} is given twice`, field);
    names.add(claim.name);
    names.add(claim.name + truncatedSuffix);
  }
  return checked;
}

/**
 * What a search claim needs of the search library (search.ts `resources`), named here so that this module, which
 * the rbac library imports, does not import the decision point (accounts and rbac are below it).
 */
export interface ResourceSearch {
  resources(
    request: { subject: { type: string; id: string }; action: { name: string }; resource: { type: string } },
    page: { limit?: number; token?: string },
  ): Promise<{ results: { type: string; id: string }[]; next: string }>;
}

/**
 * The claims for one subject: for each, a resource search (pages of `limit` = cap + 1, at most `scanPages` of
 * them), kept to the cap and to the byte budget. Deterministic: the same data gives the same claim.
 */
export async function computeSearchClaims(
  search: ResourceSearch,
  accountId: string,
  claims: readonly SearchClaim[],
  limits: { entries: number; bytes: number; scanPages: number } = searchClaimLimits,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let bytesLeft = limits.bytes;
  for (const claim of claims) {
    const found: { type: string; id: string }[] = [];
    let truncated = false;
    let token: string | undefined;
    for (let page = 0; ; page++) {
      if (page === limits.scanPages) {
        truncated = true;
        break;
      }
      const answer = await search.resources(
        {
          subject: { type: 'user', id: accountId },
          action: { name: claim.action },
          resource: { type: claim.type },
        },
        { limit: limits.entries + 1 - found.length, ...(token ? { token } : {}) },
      );
      found.push(...answer.results);
      if (found.length > limits.entries) {
        truncated = true;
        found.length = limits.entries;
        break;
      }
      if (answer.next === '') break;
      token = answer.next;
    }
    // The byte budget: `"NAME":[...],"NAME_truncated":true,` with as many entries as fit.
    let size = Buffer.byteLength(JSON.stringify(claim.name)) + 4 + Buffer.byteLength(claim.name) + 20;
    let kept = 0;
    for (const entry of found) {
      const entrySize = Buffer.byteLength(JSON.stringify(entry)) + 1;
      if (size + entrySize > bytesLeft) {
        truncated = true;
        break;
      }
      size += entrySize;
      kept++;
    }
    if (size > bytesLeft) {
      // Not even the empty claim fits: say so, with no entries.
      out[claim.name] = [];
      out[claim.name + truncatedSuffix] = true;
      bytesLeft = 0;
      continue;
    }
    bytesLeft -= size;
    out[claim.name] = found.slice(0, kept);
    if (truncated) out[claim.name + truncatedSuffix] = true;
  }
  return out;
}
