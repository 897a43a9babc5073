import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { invalidRequest } from '../../errors/app-error.ts';
import type { AccountQueries } from '../../queries/account-queries.ts';
import type { ResourceQueries, ResourceRow } from '../../queries/resource-queries.ts';
import type { RoleQueries } from '../../queries/role-queries.ts';
import { checkEntityId, checkEntityType } from './cedar-values.ts';
import type { DecisionLibrary, DecisionRequest } from './decisions.ts';
import type { PolicyLibrary } from './policies.ts';

/** What a search is asked: the request of a decision with one of its three parts left open. */
export interface SearchRequest {
  subject: { type: string; id?: string | undefined; properties?: Record<string, unknown> | undefined };
  action?: { name: string; properties?: Record<string, unknown> | undefined } | undefined;
  resource: { type: string; id?: string | undefined; properties?: Record<string, unknown> | undefined };
  context?: Record<string, unknown> | undefined;
}

export type SearchKind = 'subject' | 'resource' | 'action';

export interface SearchPage<T> {
  results: T[];
  /** The cursor of the following page (opaque), `''` on the last page. */
  next: string;
}

/** Results per page: the default, and the most a caller may ask for (`page.limit`). */
export const searchPageSize = { default: 100, max: 1000 } as const;
/**
 * The candidates one request evaluates at most: past that the page ends early (possibly with fewer results than
 * its limit, possibly none) and `next` goes on from the last one evaluated, so a search over a million resources is
 * many bounded requests, never one unbounded one.
 */
export const searchScanBudget = 2000;
/**
 * Candidates evaluated in a page's first batch (checkMany: one policy version, subjects loaded once); each further
 * batch of the same page is twice as large, up to the scan budget, so a page that finds its results early reads
 * little and one that scans its whole budget reads it in a few statements (200 + 400 + 800 + 600), not ten.
 */
const chunkSize = 200;
const maxTokenLength = 2048;

type Cursor = string | [string, string];

/** A page token: the kind of search it continues and where (opaque to callers; a position, never a grant). */
function encodeToken(kind: SearchKind, cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ k: kind, c: cursor })).toString('base64url');
}

function decodeToken(kind: SearchKind, token: string | undefined): Cursor | undefined {
  if (token === undefined || token === '') return undefined;
  const refuse = () =>
    invalidRequest(
      'page.next_token: not a page token of this search (pass back page.next_token as it came)',
      'page.next_token',
    );
  if (token.length > maxTokenLength || !/^[A-Za-z0-9_-]+$/.test(token)) throw refuse();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw refuse();
  }
  const { k, c } = (parsed ?? {}) as { k?: unknown; c?: unknown };
  if (k !== kind) throw refuse();
  if (typeof c === 'string' && c.length > 0) return c;
  if (
    Array.isArray(c) &&
    c.length === 2 &&
    typeof c[0] === 'string' &&
    typeof c[1] === 'string' &&
    !Number.isNaN(Date.parse(c[0]))
  )
    return [c[0], c[1]];
  throw refuse();
}

/** Every entity reference to an action (`Action::"x"`, `ns::Action::"x"`) in a policy's JSON form. */
function collectActions(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectActions(item, into);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  if (
    typeof record.type === 'string' &&
    typeof record.id === 'string' &&
    (record.type === 'Action' || record.type.endsWith('::Action'))
  )
    into.add(record.id);
  for (const item of Object.values(record)) collectActions(item, into);
}

/**
 * AuthZEN's three searches over the policy decision point: which subjects may do an action on a resource, which
 * resources of a type a subject may act on, which actions a subject may do on a resource.
 *
 * **How.** A search enumerates candidates in a stable order (accounts by creation, stored resources by id, action
 * names sorted), decides them in growing batches (from {@link chunkSize}) with `decisions.checkMany` (so every
 * answer is exactly what an evaluation of that candidate says), and keeps the permitted ones. A page holds at most `limit` results and
 * evaluates at most {@link searchScanBudget} candidates; its token is the position of the last candidate it judged.
 * The cost is linear in the candidates scanned: one decision (and one entity load) each.
 *
 * - subjects: Gatehouse accounts (`user`); any other valid type has none;
 * - resources: the stored resources of the type (`user`: the accounts);
 * - actions: those the active policy set names (in its scopes and conditions) plus the permissions the subject
 *   holds (RBAC permits a held permission as an action), sorted.
 */
export function createSearchLibrary(deps: {
  decisions: DecisionLibrary;
  resourceRows: Pick<ResourceQueries, 'pageWithAncestors'>;
  policies: Pick<PolicyLibrary, 'active'>;
  accounts: Pick<AccountQueries, 'listAfter'>;
  roles: Pick<RoleQueries, 'grantsOfAccount' | 'grantsOfClient'>;
}) {
  /**
   * One batch of candidates after `cursor`, each with its own cursor; `more` false on the last batch. `preloaded`:
   * the stored resources the batch's decisions read, loaded with the batch (resource searches).
   */
  type Batch<T> = {
    items: { value: T; cursor: Cursor }[];
    more: boolean;
    preloaded?: { type: string; ids: readonly string[]; rows: readonly ResourceRow[] };
  };

  async function accountBatch(after: Cursor | undefined, size: number): Promise<Batch<string>> {
    if (after !== undefined && !Array.isArray(after))
      throw invalidRequest('page.next_token: not a page token of this search', 'page.next_token');
    const rows = await deps.accounts.listAfter(
      size + 1,
      after ? { createdAt: after[0], id: after[1] } : undefined,
    );
    const kept = rows.slice(0, size);
    return {
      items: kept.map((row) => ({ value: row.id, cursor: [row.position, row.id] as [string, string] })),
      more: rows.length > size,
    };
  }

  async function resourceBatch(
    type: string,
    after: Cursor | undefined,
    size: number,
  ): Promise<Batch<string>> {
    if (Array.isArray(after))
      throw invalidRequest('page.next_token: not a page token of this search', 'page.next_token');
    // One statement for the batch's candidates, their ancestors and relation sets (not one query per candidate).
    const page = await deps.resourceRows.pageWithAncestors(type, size + 1, after);
    const ids = page.ids.slice(0, size);
    return {
      items: ids.map((id) => ({ value: id, cursor: id })),
      more: page.ids.length > size,
      preloaded: { type, ids, rows: page.rows },
    };
  }

  /** The candidates of a type: accounts for `user`, stored resources for any other (none for a type never stored). */
  const candidatesOf = (type: string) => (after: Cursor | undefined, size: number) =>
    type === 'user' ? accountBatch(after, size) : resourceBatch(type, after, size);

  /**
   * Scans candidates from the token's position, deciding each batch, until the page holds `limit` results (and
   * one more permitted candidate shows there is more), the candidates end, or the scan budget is spent.
   */
  async function scan<T>(
    kind: SearchKind,
    page: { limit?: number | undefined; token?: string | undefined },
    next: (after: Cursor | undefined, size: number) => Promise<Batch<T>>,
    requestOf: (candidate: T) => DecisionRequest,
  ): Promise<SearchPage<T>> {
    const limit = Math.max(1, Math.min(page.limit ?? searchPageSize.default, searchPageSize.max));
    let after = decodeToken(kind, page.token);
    const results: T[] = [];
    let scanned = 0;
    for (let size = chunkSize; ; size *= 2) {
      const batch = await next(after, Math.min(size, searchScanBudget - scanned));
      const answers = await deps.decisions.checkMany(
        batch.items.map((item) => requestOf(item.value)),
        batch.preloaded ? { preloaded: batch.preloaded } : {},
      );
      for (const [index, item] of batch.items.entries()) {
        const answer = answers[index]!;
        // What the request itself holds (its properties, its context) is the same for every candidate: an error
        // there is the request's, a 400, not a silent empty answer.
        if ('error' in answer) throw invalidRequest(answer.error.message, answer.error.field);
        if (!answer.decision) continue;
        if (results.length === limit)
          // A permitted candidate past the limit: there is more, from the one before it.
          return { results, next: encodeToken(kind, index > 0 ? batch.items[index - 1]!.cursor : after!) };
        results.push(item.value);
      }
      scanned += batch.items.length;
      const last = batch.items.at(-1);
      if (!batch.more || !last) return { results, next: '' };
      after = last.cursor;
      if (scanned >= searchScanBudget) return { results, next: encodeToken(kind, after) };
    }
  }

  /** The actions the active policy set names, parsed once per version. */
  let named: { version: number; actions: string[] } | undefined;
  async function namedActions(): Promise<string[]> {
    const active = await deps.policies.active();
    if (named?.version === active.version) return named.actions;
    const actions = new Set<string>();
    for (const text of Object.values(active.policies)) {
      const json = cedar.policyToJson(text);
      if (json.type === 'success') collectActions(json.json, actions);
    }
    named = { version: active.version, actions: [...actions] };
    return named.actions;
  }

  async function heldPermissions(subject: SearchRequest['subject']): Promise<string[]> {
    if (subject.id === undefined) return [];
    if (subject.type === 'user')
      return (await deps.roles.grantsOfAccount(subject.id)).permissions.map((g) => g.permission);
    if (subject.type === 'client')
      return (await deps.roles.grantsOfClient(subject.id)).permissions.map((g) => g.permission);
    return [];
  }

  const required = (id: string | undefined, field: string) => checkEntityId(id, field);

  return {
    /** Subjects of `subject.type` permitted `action` on `resource` (its id required; the subject's id ignored). */
    async subjects(request: SearchRequest, page: { limit?: number; token?: string } = {}) {
      const type = checkEntityType(request.subject.type, 'subject.type');
      checkEntityType(request.resource.type, 'resource.type');
      const resourceId = required(request.resource.id, 'resource.id');
      const action = request.action!;
      const found = await scan(
        'subject',
        page,
        type === 'user' ? accountBatch : async (): Promise<Batch<string>> => ({ items: [], more: false }),
        (id) => ({
          subject: { type, id, properties: request.subject.properties },
          action,
          resource: { type: request.resource.type, id: resourceId, properties: request.resource.properties },
          context: request.context,
        }),
      );
      return { results: found.results.map((id) => ({ type, id })), next: found.next };
    },

    /** Resources of `resource.type` the subject may do `action` on (the resource's id ignored). */
    async resources(request: SearchRequest, page: { limit?: number; token?: string } = {}) {
      checkEntityType(request.subject.type, 'subject.type');
      const subjectId = required(request.subject.id, 'subject.id');
      const type = checkEntityType(request.resource.type, 'resource.type');
      const action = request.action!;
      const found = await scan('resource', page, candidatesOf(type), (id) => ({
        subject: { type: request.subject.type, id: subjectId, properties: request.subject.properties },
        action,
        resource: { type, id, properties: request.resource.properties },
        context: request.context,
      }));
      return { results: found.results.map((id) => ({ type, id })), next: found.next };
    },

    /** Actions the subject may do on the resource: those the policies name and the permissions it holds. */
    async actions(request: SearchRequest, page: { limit?: number; token?: string } = {}) {
      checkEntityType(request.subject.type, 'subject.type');
      const subjectId = required(request.subject.id, 'subject.id');
      checkEntityType(request.resource.type, 'resource.type');
      const resourceId = required(request.resource.id, 'resource.id');
      const candidates = [
        ...new Set([
          ...(await namedActions()),
          ...(await heldPermissions({ ...request.subject, id: subjectId })),
        ]),
      ].sort();
      const found = await scan(
        'action',
        page,
        async (after, size) => {
          if (Array.isArray(after))
            throw invalidRequest('page.next_token: not a page token of this search', 'page.next_token');
          const start = after === undefined ? 0 : candidates.findIndex((name) => name > after);
          const items = start < 0 ? [] : candidates.slice(start, start + size);
          return {
            items: items.map((name) => ({ value: name, cursor: name })),
            more: start >= 0 && start + size < candidates.length,
          };
        },
        (name) => ({
          subject: { type: request.subject.type, id: subjectId, properties: request.subject.properties },
          action: { name },
          resource: { type: request.resource.type, id: resourceId, properties: request.resource.properties },
          context: request.context,
        }),
      );
      return { results: found.results.map((name) => ({ name })), next: found.next };
    },
  };
}

export type SearchLibrary = ReturnType<typeof createSearchLibrary>;
