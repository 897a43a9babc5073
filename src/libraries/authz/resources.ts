import { withTransaction, type Pool } from '../../db/pg-pool.ts';
import { invalidRequest, notFound } from '../../errors/app-error.ts';
import type { AccountQueries } from '../../queries/account-queries.ts';
import type { GroupQueries } from '../../queries/group-queries.ts';
import type { ResourceQueries, ResourceRef, ResourceRow } from '../../queries/resource-queries.ts';
import type { AuditLog } from '../audit.ts';
import { checkEntityId, checkEntityType, jsonToCedar } from './cedar-values.ts';

export interface Resource {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  parents: ResourceRef[];
  /** Relation → its holders, as entity references (`{"type": "user", "id": <sub>}`, `{"type": "group", ...}`). */
  relations: Record<string, ResourceRef[]>;
}

export interface ResourceInput {
  type: string;
  id: string;
  attributes?: Record<string, unknown> | undefined;
  parents?: readonly ResourceRef[] | undefined;
}

const relationPattern = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const maxAttributesBytes = 64 * 1024;
const maxParents = 100;
const maxImport = 10_000;
const maxPage = 1000;

const toResource = (row: ResourceRow): Resource => ({
  type: row.type,
  id: row.id,
  attributes: structuredClone(row.attributes),
  parents: row.parents.map((parent) => ({ type: parent.type, id: parent.id })),
  relations: Object.fromEntries(
    Object.entries(row.relations).map(([relation, holders]) => [
      relation,
      holders.map((holder) => ({ type: holder.type, id: holder.id })),
    ]),
  ),
});

/** Drops `null` members (Cedar leaves them out) after checking that every value converts to Cedar. */
function checkAttributes(attributes: unknown, field: string): Record<string, unknown> {
  if (attributes === undefined || attributes === null) return {};
  if (typeof attributes !== 'object' || Array.isArray(attributes))
    throw invalidRequest(`${field}: expected a JSON object`, field);
  const kept: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(attributes as Record<string, unknown>)) {
    if (name.length === 0 || name.includes('\u0000'))
      throw invalidRequest(`${field}: an attribute name is a non-empty string without NUL`, field);
    if (jsonToCedar(value, `${field}.${name}`) !== undefined) kept[name] = value;
  }
  if (Buffer.byteLength(JSON.stringify(kept)) > maxAttributesBytes)
    throw invalidRequest(`${field}: at most ${String(maxAttributesBytes)} bytes of JSON`, field);
  return kept;
}

function checkRef(ref: unknown, field: string): ResourceRef {
  const plain =
    ref && typeof ref === 'object' && '__entity' in ref ? (ref as { __entity: unknown }).__entity : ref;
  if (!plain || typeof plain !== 'object')
    throw invalidRequest(`${field}: expected {"type": ..., "id": ...}`, field);
  const { type, id } = plain as { type?: unknown; id?: unknown };
  return { type: checkEntityType(type, `${field}.type`), id: checkEntityId(id, `${field}.id`) };
}

/** Types whose entities come from the directory (accounts, clients, groups, roles): never stored as resources. */
const directoryTypes = new Set(['user', 'client', 'group', 'role']);

function checkInput(input: ResourceInput, field: string) {
  const type = checkEntityType(input.type, `${field}type`);
  if (directoryTypes.has(type))
    throw invalidRequest(
      `${field}type: ${type} entities come from the directory (accounts, clients, groups, roles), not from stored resources`,
      `${field}type`,
    );
  const id = checkEntityId(input.id, `${field}id`);
  const parents = (input.parents ?? []).map((parent, index) =>
    checkRef(parent, `${field}parents.${String(index)}`),
  );
  if (parents.length > maxParents)
    throw invalidRequest(`${field}parents: at most ${String(maxParents)} parents`, `${field}parents`);
  if (parents.some((parent) => parent.type === type && parent.id === id))
    throw invalidRequest(`${field}parents: a resource cannot be its own parent`, `${field}parents`);
  return { type, id, attributes: checkAttributes(input.attributes, `${field}attributes`), parents };
}

export function checkRelation(relation: string): string {
  if (!relationPattern.test(relation))
    throw invalidRequest(
      `"${relation}" is not a valid relation name (1-64 of A-Z a-z 0-9 _, not starting with a digit: resource.${relation} in a policy)`,
      'relation',
    );
  return relation;
}

/**
 * Resources the policy decision point knows (type, id, attributes, parents) and their relation sets: per-resource
 * grants to users and groups (`resource share`), which policies read as `resource.<relation>`.
 */
export function createResourceLibrary(deps: {
  pool: Pool;
  queries: ResourceQueries;
  accounts: Pick<AccountQueries, 'findByEmail'>;
  groups: Pick<GroupQueries, 'existing'>;
  audit: AuditLog;
}) {
  const { pool, queries, audit } = deps;

  async function require(type: string, id: string): Promise<ResourceRow> {
    const row = await queries.find(type, id);
    if (!row) throw notFound(`no resource ${type}:${id}`);
    return row;
  }

  async function holderOf(holder: { email: string } | { group: string }) {
    if ('email' in holder) {
      const account = await deps.accounts.findByEmail(holder.email.trim());
      if (!account) throw notFound(`no account with email ${holder.email}`);
      return { key: { accountId: account.id }, ref: { type: 'user', id: account.id } };
    }
    if ((await deps.groups.existing([holder.group])).length === 0)
      throw notFound(`no group named ${holder.group}`);
    return { key: { groupName: holder.group }, ref: { type: 'group', id: holder.group } };
  }

  async function shareOrUnshare(
    verb: 'share' | 'unshare',
    ref: ResourceRef,
    relation: string,
    holder: { email: string } | { group: string },
    actor: string,
  ) {
    checkEntityType(ref.type, 'type');
    checkEntityId(ref.id, 'id');
    checkRelation(relation);
    const { key, ref: holderRef } = await holderOf(holder);
    await require(ref.type, ref.id);
    const changed =
      verb === 'share' ? await queries.share(ref, relation, key) : await queries.unshare(ref, relation, key);
    if (changed)
      await audit.record('resource.changed', {
        actor,
        details: { action: `resource.${verb}`, resource: ref, relation, holder: holderRef },
      });
    return { changed, resource: toResource(await require(ref.type, ref.id)) };
  }

  return {
    /** Creates or replaces a resource's attributes and parents (its relation sets stay). */
    async put(input: ResourceInput, actor: string): Promise<Resource> {
      const resource = checkInput(input, '');
      await withTransaction(pool, (tx) => queries.upsert(resource, tx));
      await audit.record('resource.changed', {
        actor,
        details: { action: 'resource.put', resource: { type: resource.type, id: resource.id } },
      });
      return toResource(await require(resource.type, resource.id));
    },

    async delete(type: string, id: string, actor: string): Promise<void> {
      checkEntityType(type, 'type');
      checkEntityId(id, 'id');
      if (!(await queries.delete(type, id))) throw notFound(`no resource ${type}:${id}`);
      await audit.record('resource.changed', {
        actor,
        details: { action: 'resource.delete', resource: { type, id } },
      });
    },

    async get(type: string, id: string): Promise<Resource> {
      checkEntityType(type, 'type');
      checkEntityId(id, 'id');
      return toResource(await require(type, id));
    },

    /** Every resource of a type, in id order. */
    async list(type: string): Promise<Resource[]> {
      checkEntityType(type, 'type');
      const all: Resource[] = [];
      for (let after: string | undefined; ;) {
        const page = await queries.listByType(type, maxPage, after);
        all.push(...page.map(toResource));
        if (page.length < maxPage) return all;
        after = page[page.length - 1]!.id;
      }
    },

    /**
     * One page of the stored resources of a type, in id order after `after` (the admin API's list); `next` is the
     * cursor of the following page, null on the last one.
     */
    async listPage(
      type: string,
      page: { limit: number; after?: string | undefined },
    ): Promise<{ resources: Resource[]; next: string | null }> {
      checkEntityType(type, 'type');
      const limit = Math.max(1, Math.min(page.limit, maxPage));
      const rows = await queries.listByType(type, limit + 1, page.after);
      const kept = rows.slice(0, limit);
      return {
        resources: kept.map(toResource),
        next: rows.length > limit && kept.length > 0 ? kept[kept.length - 1]!.id : null,
      };
    },

    /**
     * One page of the ids of the stored resources of a type (for searches), in id order after `after`; `next` is
     * the cursor of the following page, undefined on the last one. A valid but unknown type has none.
     */
    async listIds(
      type: string,
      page: { limit: number; after?: string | undefined },
    ): Promise<{ ids: string[]; next: string | undefined }> {
      checkEntityType(type, 'type');
      const limit = Math.max(1, Math.min(page.limit, maxPage));
      const ids = await queries.idsByType(type, limit + 1, page.after);
      const more = ids.length > limit;
      const kept = more ? ids.slice(0, limit) : ids;
      return { ids: kept, next: more ? kept[kept.length - 1] : undefined };
    },

    /**
     * Upserts many resources from Cedar's entity JSON (`[{"uid": {"type", "id"}, "attrs": {...}, "parents":
     * [...]}]`), all or nothing: one bad entity writes none.
     */
    async import(entities: unknown, actor: string): Promise<{ imported: number }> {
      if (!Array.isArray(entities))
        throw invalidRequest(
          'expected a JSON array of entities ({"uid": ..., "attrs": ..., "parents": ...})',
        );
      if (entities.length > maxImport)
        throw invalidRequest(`at most ${String(maxImport)} entities per import`);
      const resources = entities.map((entity: unknown, index) => {
        const field = `${String(index)}.`;
        if (!entity || typeof entity !== 'object' || Array.isArray(entity))
          throw invalidRequest(`${String(index)}: expected an entity object`, String(index));
        const { uid, attrs, parents } = entity as { uid?: unknown; attrs?: unknown; parents?: unknown };
        const ref = checkRef(uid, `${field}uid`);
        if (parents !== undefined && !Array.isArray(parents))
          throw invalidRequest(`${field}parents: expected an array`, `${field}parents`);
        return checkInput(
          {
            type: ref.type,
            id: ref.id,
            attributes: (attrs ?? {}) as Record<string, unknown>,
            parents: (parents ?? []) as ResourceRef[],
          },
          field,
        );
      });
      const seen = new Set<string>();
      for (const resource of resources) {
        const key = `${resource.type}\u0000${resource.id}`;
        if (seen.has(key))
          throw invalidRequest(`${resource.type}:${resource.id} appears twice in the import`);
        seen.add(key);
      }
      await withTransaction(pool, async (tx) => {
        for (const resource of resources) await queries.upsert(resource, tx);
      });
      await audit.record('resource.changed', {
        actor,
        details: { action: 'resource.import', count: resources.length },
      });
      return { imported: resources.length };
    },

    share: (
      ref: ResourceRef,
      relation: string,
      holder: { email: string } | { group: string },
      actor: string,
    ) => shareOrUnshare('share', ref, relation, holder, actor),

    unshare: (
      ref: ResourceRef,
      relation: string,
      holder: { email: string } | { group: string },
      actor: string,
    ) => shareOrUnshare('unshare', ref, relation, holder, actor),
  };
}

export type ResourceLibrary = ReturnType<typeof createResourceLibrary>;
