import { randomUUID } from 'node:crypto';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { AppError, invalidRequest } from '../../errors/app-error.ts';
import type { AccountQueries } from '../../queries/account-queries.ts';
import type { AuthzDirectoryQueries, GroupNode } from '../../queries/authz-directory-queries.ts';
import { maxAncestorDepth, type ResourceQueries, type ResourceRow } from '../../queries/resource-queries.ts';
import type { HolderGrants, RoleQueries } from '../../queries/role-queries.ts';
import { builtinAttributeNames } from '../accounts.ts';
import {
  checkEntityId,
  checkEntityType,
  entityValue,
  jsonToCedarRecord,
  type CedarValue,
  type EntityRef,
} from './cedar-values.ts';
import type { ActivePolicySet, PolicyLibrary } from './policies.ts';
import { internalPolicyPrefix } from './policy-set.ts';

/** One decision request, in AuthZEN's terms (subject, action, resource, context). */
export interface DecisionRequest {
  subject: { type: string; id: string; properties?: Record<string, unknown> | undefined };
  action: { name: string; properties?: Record<string, unknown> | undefined };
  resource: { type: string; id: string; properties?: Record<string, unknown> | undefined };
  context?: Record<string, unknown> | undefined;
}

export interface DecisionError {
  /** The policy whose evaluation failed (it did not apply). */
  policy: string;
  message: string;
}

export interface Decision {
  decision: boolean;
  /** The policies that decided: the satisfied permits of an allow, the satisfied forbids of a deny. */
  policies: string[];
  /** Policies that could not be evaluated for this request (Cedar skips them). */
  errors: DecisionError[];
}

export interface EntityJson {
  uid: EntityRef;
  attrs: Record<string, CedarValue>;
  parents: EntityRef[];
}

export type CheckedDecision = Decision & {
  /** The version of the policy set that decided (0: none, RBAC alone). */
  version: number;
  /** With `explain`: the entities and the context the decision was made on. */
  entities?: EntityJson[];
  context?: Record<string, CedarValue>;
};

/** An item of a batch: its decision, or why it could not be evaluated (a request error, as a 400 would say). */
export type BatchItem = CheckedDecision | { error: { code: string; message: string; field?: string } };

type LoadedEntity = {
  entities: EntityJson[];
  permissions: ReadonlySet<string>;
  disabled: boolean;
};

/** What one batch loads once: subjects and resources by type and id (those sent without properties). */
interface BatchMemo {
  principals: Map<string, Promise<LoadedEntity>>;
  resources: Map<string, Promise<EntityJson[]>>;
  /** Stored resources the caller loaded for the batch (a search page with its ancestors), by type and id. */
  stored?: StoredIndex;
}

/**
 * Stored resources loaded in advance (`ResourceQueries.pageWithAncestors`): `candidates` are the resources the
 * batch asks about, `rows` them and every stored resource above them; each row becomes an entity once per batch.
 */
interface StoredIndex {
  candidates: ReadonlySet<string>;
  rows: ReadonlyMap<string, ResourceRow>;
  entities: Map<string, EntityJson>;
}

const refKey = (ref: { type: string; id: string }) => `${ref.type}\u0000${ref.id}`;

function memoized<T>(
  memo: Map<string, Promise<T>> | undefined,
  ref: { type: string; id: string; properties?: Record<string, unknown> | undefined },
  load: () => Promise<T>,
): Promise<T> {
  if (!memo || (ref.properties && Object.keys(ref.properties).length > 0)) return load();
  const key = `${ref.type}\u0000${ref.id}`;
  let loaded = memo.get(key);
  if (!loaded) memo.set(key, (loaded = load()));
  return loaded;
}

/** A policy set version as Cedar holds it: its two preparsed forms and the attribute names it reads. */
interface PreparedVersion {
  version: number;
  plain: string;
  rbac: string;
  /** Every attribute name the policies read (`e.name`, `e has name`); undefined: unknown, nothing is left out. */
  reads: ReadonlySet<string> | undefined;
}

/** Collects every attribute name in a policy's JSON form: the `attr` of `.` and of `has` (a path in Cedar 4). */
function collectAttributes(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectAttributes(item, into);
    return;
  }
  if (!value || typeof value !== 'object') return;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    // An `attr` that is not a name (a record literal's field called "attr") is an expression: walked too.
    if (key === 'attr' && typeof item === 'string') into.add(item);
    else if (key === 'attr' && Array.isArray(item) && item.every((name) => typeof name === 'string'))
      for (const name of item as string[]) into.add(name);
    else collectAttributes(item, into);
  }
}

/**
 * The attribute names a policy set reads. Cedar reads an entity's attribute only by a name written in a policy
 * (`principal.email`, `resource has owner`, `resource["x"]`): an attribute named nowhere cannot change a decision,
 * nor its errors. Undefined when a policy cannot be read as JSON (then every attribute is passed).
 */
export function attributesRead(policies: Record<string, string>): ReadonlySet<string> | undefined {
  const names = new Set<string>();
  for (const text of Object.values(policies)) {
    const json = cedar.policyToJson(text);
    if (json.type === 'failure') return undefined;
    collectAttributes(json.json, names);
  }
  return names;
}

/**
 * What Cedar is given for a decision: each entity with only the attributes `reads` names, and without the entities
 * left with neither attributes nor parents (roles, actions, folders at the top). Converting entities into Cedar's
 * own form is most of a decision's cost, and an account's `permissions` or a resource's metadata are often large
 * and read by no policy. An entity Cedar does not know has no attributes (`e has x` is false) and no ancestors, as
 * an empty one: only the message of an error differs (see decide()).
 */
export function leanEntities(entities: readonly EntityJson[], reads: ReadonlySet<string>): EntityJson[] {
  const lean: EntityJson[] = [];
  for (const entity of entities) {
    const names = Object.keys(entity.attrs);
    const kept = names.filter((name) => reads.has(name));
    if (kept.length === 0 && entity.parents.length === 0) continue;
    lean.push(
      kept.length === names.length
        ? entity
        : {
            uid: entity.uid,
            // Object.fromEntries defines each name as an own property (an attribute may be named `__proto__`).
            attrs: Object.fromEntries(kept.map((name) => [name, entity.attrs[name]!])),
            parents: entity.parents,
          },
    );
  }
  return lean;
}

/** The id under which a decision names the RBAC rule when it permitted. */
export const rbacPolicyId = `${internalPolicyPrefix}rbac`;
const rbacPolicy = 'permit(principal, action, resource);';
const maxActionName = 256;

/**
 * The policy decision point: a request becomes Cedar entities as ../shared/CONTRACT.md maps them, and Cedar
 * decides.
 *
 * **RBAC inside Cedar.** A subject holding permission P is permitted action P on any resource unless a `forbid`
 * applies. Action names are entity ids, which no Cedar expression can read, so RBAC cannot be one policy that
 * compares them with `principal.permissions`. Gatehouse checks the holding itself (the permissions come from the
 * directory, never from the request) and, when it holds, evaluates the active set *plus* one unconditional internal
 * permit, `gatehouse:rbac`. Cedar's own rule then decides: any satisfied `forbid` denies; otherwise the RBAC permit
 * (and any permit of the set) allows, and the decision names `gatehouse:rbac`. With no policy set at all, that one
 * permit is the whole set. Both forms of each version are parsed once into Cedar's preparsed store (per library
 * instance and per version), so a decision only builds entities and evaluates; and Cedar is given only the
 * attributes the version's policies name ({@link leanEntities}), converting entities being most of its work.
 */
export function createDecisionLibrary(deps: {
  policies: PolicyLibrary;
  accounts: Pick<AccountQueries, 'findById'>;
  roles: Pick<RoleQueries, 'grantsOfAccount' | 'grantsOfClient'>;
  directory: AuthzDirectoryQueries;
  resources: Pick<ResourceQueries, 'findWithAncestors'>;
}) {
  const instance = randomUUID();
  let prepared: PreparedVersion | undefined;

  /**
   * The preparsed ids of the version a decision read (two slots per library instance, overwritten in place when
   * the version changes), and the attribute names its policies read. Parsing and evaluating run synchronously, so
   * a decision evaluates exactly the version it read and reports.
   */
  function prepare(active: ActivePolicySet): PreparedVersion {
    if (prepared?.version === active.version) return prepared;
    const plain = `${instance}:plain`;
    const rbac = `${instance}:rbac`;
    for (const [id, policies] of [
      [plain, active.policies],
      [rbac, { ...active.policies, [rbacPolicyId]: rbacPolicy }],
    ] as const) {
      const answer = cedar.preparsePolicySet(id, { staticPolicies: policies });
      if (answer.type === 'failure')
        throw new Error(`the stored policy set version ${String(active.version)} does not parse`);
    }
    prepared = { version: active.version, plain, rbac, reads: attributesRead(active.policies) };
    return prepared;
  }

  const record = (value: Record<string, unknown> | undefined, field: string) =>
    jsonToCedarRecord(value, field);

  /**
   * A directory entity (`user::"<sub>"`, `client::"<id>"`; any other type is bare): its entity, the entities of its
   * roles and groups, and the permissions RBAC reads. The subject of a request, or its resource when it names an
   * account or a client (`field` says which, in errors).
   */
  async function principalOf(
    subject: DecisionRequest['subject'],
    field: 'subject' | 'resource' = 'subject',
  ): Promise<LoadedEntity> {
    const uid = { type: subject.type, id: subject.id };
    const properties = record(subject.properties, `${field}.properties`);
    if (subject.type === 'user' || subject.type === 'client') {
      const builtin = Object.keys(properties).find((name) =>
        (builtinAttributeNames as readonly string[]).includes(name),
      );
      if (builtin !== undefined)
        throw invalidRequest(
          `${field}.properties.${builtin}: a built-in attribute comes from the directory, not from the request`,
          `${field}.properties.${builtin}`,
        );
    }
    const bare = { entities: [{ uid, attrs: properties, parents: [] }], permissions: new Set<string>() };
    if (subject.type === 'user') {
      const account = await deps.accounts.findById(subject.id);
      if (!account) return { ...bare, disabled: false };
      if (account.status !== 'active') return { ...bare, disabled: true };
      const grants = await deps.roles.grantsOfAccount(account.id);
      const permissions = grants.permissions.map((grant) => grant.permission);
      const attrs: Record<string, CedarValue> = {
        ...record(account.attributes, `${field}.attributes`),
        ...properties,
        sub: account.id,
        email: account.email,
        email_verified: account.email_verified,
        permissions: [...permissions],
      };
      if (account.name !== null) attrs.name = account.name;
      return {
        entities: [
          {
            uid,
            attrs,
            parents: [
              ...grants.roles.map((role) => ({ type: 'role', id: role })),
              ...grants.groups.map((group) => ({ type: 'group', id: group })),
            ],
          },
          ...(await directoryEntities(grants)),
        ],
        permissions: new Set(permissions),
        disabled: false,
      };
    }
    if (subject.type === 'client') {
      if (!(await deps.directory.clientExists(subject.id))) return { ...bare, disabled: false };
      const grants = await deps.roles.grantsOfClient(subject.id);
      const permissions = grants.permissions.map((grant) => grant.permission);
      return {
        entities: [
          {
            uid,
            attrs: { ...properties, permissions: [...permissions] },
            parents: grants.roles.map((role) => ({ type: 'role', id: role })),
          },
          ...grants.roles.map((role) => ({ uid: { type: 'role', id: role }, attrs: {}, parents: [] })),
        ],
        permissions: new Set(permissions),
        disabled: false,
      };
    }
    return { ...bare, disabled: false };
  }

  /** `group::"<name>"` for each group an account is in (with its roles and parents), and `role::"<name>"`. */
  async function directoryEntities(grants: HolderGrants): Promise<EntityJson[]> {
    const graph = grants.groups.length > 0 ? await deps.directory.groupGraph() : [];
    const byName = new Map<string, GroupNode>(graph.map((group) => [group.name, group]));
    const roles = new Set(grants.roles);
    const groups = grants.groups.map((name) => {
      const node = byName.get(name);
      node?.roles.forEach((role) => roles.add(role));
      return {
        uid: { type: 'group', id: name },
        attrs: {},
        parents: [
          ...(node?.roles ?? []).map((role) => ({ type: 'role', id: role })),
          ...(node?.parents ?? []).map((parent) => ({ type: 'group', id: parent })),
        ],
      };
    });
    return [
      ...groups,
      ...[...roles].map((role) => ({ uid: { type: 'role', id: role }, attrs: {}, parents: [] })),
    ];
  }

  /**
   * Stored resources already converted to entities, by the rows they came from: the config cache hands out the same
   * frozen rows until they change, so a resource evaluated again is not converted again (nothing mutates the
   * entities: a request's properties go into a copy).
   */
  const convertedRows = new WeakMap<readonly ResourceRow[], { own?: EntityJson; ancestors: EntityJson[] }>();

  /** A stored resource as an entity: its attributes, its relation sets (entity references), its parents. */
  function storedEntity(row: ResourceRow, field: string): EntityJson {
    const attrs = record(row.attributes, field);
    for (const [relation, holders] of Object.entries(row.relations))
      attrs[relation] = holders.map((holder) => entityValue(holder));
    return {
      uid: { type: row.type, id: row.id },
      attrs,
      parents: row.parents.map((parent) => ({ type: parent.type, id: parent.id })),
    };
  }

  /**
   * A resource and its stored ancestors from a batch's preloaded rows: the same set findWithAncestors answers (every
   * stored resource reachable through parents within maxAncestorDepth steps), each converted once per batch.
   */
  function fromStored(
    index: StoredIndex,
    resource: EntityRef,
  ): { own?: EntityJson; ancestors: EntityJson[] } {
    const entityOf = (row: ResourceRow, field: string) => {
      const key = refKey(row);
      let entity = index.entities.get(key);
      if (!entity) index.entities.set(key, (entity = storedEntity(row, field)));
      return entity;
    };
    const start = index.rows.get(refKey(resource));
    const ancestors: EntityJson[] = [];
    if (!start) return { ancestors };
    const seen = new Set([refKey(resource)]);
    let frontier = [start];
    for (let depth = 1; depth <= maxAncestorDepth && frontier.length > 0; depth++) {
      const next: ResourceRow[] = [];
      for (const row of frontier)
        for (const parent of row.parents) {
          const key = refKey(parent);
          const stored = index.rows.get(key);
          if (seen.has(key) || !stored) continue;
          seen.add(key);
          next.push(stored);
          ancestors.push(entityOf(stored, 'resource.ancestors'));
        }
      frontier = next;
    }
    return { own: entityOf(start, 'resource.attributes'), ancestors };
  }

  async function resourceOf(resource: DecisionRequest['resource'], memo?: BatchMemo): Promise<EntityJson[]> {
    // An account or a client as the resource ("may Ada view Bob's profile") is the directory's entity.
    if (resource.type === 'user' || resource.type === 'client')
      return (await principalOf(resource, 'resource')).entities;
    const properties = record(resource.properties, 'resource.properties');
    let own: EntityJson | undefined;
    let ancestors: EntityJson[];
    if (memo?.stored?.candidates.has(refKey(resource))) {
      ({ own, ancestors } = fromStored(memo.stored, resource));
    } else {
      const rows = await deps.resources.findWithAncestors(resource.type, resource.id);
      let converted = convertedRows.get(rows);
      if (!converted) {
        const ownRow = rows.find((row) => row.type === resource.type && row.id === resource.id);
        converted = {
          ...(ownRow ? { own: storedEntity(ownRow, 'resource.attributes') } : {}),
          ancestors: rows
            .filter((row) => row !== ownRow)
            .map((row) => storedEntity(row, 'resource.ancestors')),
        };
        convertedRows.set(rows, converted);
      }
      ({ own, ancestors } = converted);
    }
    // A new object: a preloaded entity is shared by the batch's requests and must not take this one's properties.
    const entity: EntityJson = own
      ? { ...own, attrs: { ...own.attrs, ...properties } }
      : { uid: { type: resource.type, id: resource.id }, attrs: properties, parents: [] };
    return [entity, ...ancestors];
  }

  function checkRequest(request: DecisionRequest): void {
    checkEntityType(request.subject.type, 'subject.type');
    checkEntityId(request.subject.id, 'subject.id');
    checkEntityType(request.resource.type, 'resource.type');
    checkEntityId(request.resource.id, 'resource.id');
    const name = request.action.name;
    if (
      typeof name !== 'string' ||
      name.length === 0 ||
      name.length > maxActionName ||
      name.includes('\u0000')
    )
      throw invalidRequest(
        `action.name: an action name is a string of 1-${String(maxActionName)} characters`,
        'action.name',
      );
  }

  /** The entities of one request, the principal's first (it wins over a resource that is the same entity). */
  async function entitiesOf(request: DecisionRequest, memo?: BatchMemo) {
    checkRequest(request);
    const principal = await memoized(memo?.principals, request.subject, () => principalOf(request.subject));
    const resource = await memoized(memo?.resources, request.resource, () =>
      resourceOf(request.resource, memo),
    );
    const action: EntityJson = {
      uid: { type: 'Action', id: request.action.name },
      attrs: record(request.action.properties, 'action.properties'),
      parents: [],
    };
    const context = record(request.context, 'context');
    const entities = new Map<string, EntityJson>();
    const key = (uid: EntityRef) => `${uid.type}\u0000${uid.id}`;
    const [first, ...principalRest] = principal.entities;
    const [resourceEntity] = resource;
    // The subject asks about itself: the resource's properties apply to the one entity too.
    const principalEntity =
      key(first!.uid) === key(resourceEntity!.uid)
        ? { ...first!, attrs: { ...resourceEntity!.attrs, ...first!.attrs } }
        : first;
    for (const entity of [principalEntity!, ...principalRest, ...resource, action])
      if (!entities.has(key(entity.uid))) entities.set(key(entity.uid), entity);
    return { principal, entities: [...entities.values()], context };
  }

  /** One decision over the version `active`, as check() answers it. */
  async function decide(
    request: DecisionRequest,
    active: ActivePolicySet,
    options: { explain?: boolean; memo?: BatchMemo },
  ): Promise<CheckedDecision> {
    const { principal, entities, context } = await entitiesOf(request, options.memo);
    const explained = options.explain ? { entities, context } : {};
    if (principal.disabled)
      // A disabled account is refused everything, as it is refused tokens.
      return { decision: false, policies: [], errors: [], version: active.version, ...explained };
    const ids = prepare(active);
    const evaluate = (given: EntityJson[]) =>
      cedar.statefulIsAuthorized({
        principal: { type: request.subject.type, id: request.subject.id },
        action: { type: 'Action', id: request.action.name },
        resource: { type: request.resource.type, id: request.resource.id },
        context,
        preparsedPolicySetId: principal.permissions.has(request.action.name) ? ids.rbac : ids.plain,
        entities: given as cedar.EntityJson[],
      });
    const lean = ids.reads ? leanEntities(entities, ids.reads) : entities;
    let answer = evaluate(lean);
    // Leaving an entity out changes an error's message ("does not exist" for "does not have the attribute"), never
    // a decision: a decision with errors (or a failure) is made again on every entity, so it reads as it always did.
    if (lean !== entities && (answer.type === 'failure' || answer.response.diagnostics.errors.length > 0))
      answer = evaluate(entities);
    if (answer.type === 'failure')
      throw invalidRequest(
        `the request cannot be evaluated: ${answer.errors.map((error) => error.message).join('; ')}`,
      );
    return {
      decision: answer.response.decision === 'allow',
      policies: [...answer.response.diagnostics.reason].sort(),
      errors: answer.response.diagnostics.errors.map((error) => ({
        policy: error.policyId,
        message: error.error.message,
      })),
      version: active.version,
      ...explained,
    };
  }

  return {
    /** One decision, with the policies that decided it and the errors of those that could not be evaluated. */
    async check(request: DecisionRequest, options: { explain?: boolean } = {}): Promise<CheckedDecision> {
      // Checked before anything is read: a bad request is a 400 whatever the policies.
      checkRequest(request);
      return decide(request, await deps.policies.active(), options);
    },

    /**
     * Many decisions over one version of the policy set (a batch): each subject and resource without request
     * properties is loaded once for the batch. An item that cannot be evaluated (a 400: an invalid type, a number
     * that fits no Cedar type) is answered with its error, the others still are; anything else fails the batch.
     * With `stopAfter`, the batch ends with the first item it holds true for (AuthZEN's short-circuit semantics).
     */
    async checkMany(
      requests: readonly DecisionRequest[],
      options: {
        stopAfter?: (item: BatchItem) => boolean;
        /**
         * Stored resources loaded beforehand for the batch (a search page: `ids` of `type` with `rows`, them and
         * their ancestors, from `ResourceQueries.pageWithAncestors`): those resources are not loaded one by one.
         */
        preloaded?: { type: string; ids: readonly string[]; rows: readonly ResourceRow[] };
      } = {},
    ): Promise<BatchItem[]> {
      const active = await deps.policies.active();
      const memo: BatchMemo = { principals: new Map(), resources: new Map() };
      if (options.preloaded) {
        const { type, ids, rows } = options.preloaded;
        memo.stored = {
          candidates: new Set(ids.map((id) => refKey({ type, id }))),
          rows: new Map(rows.map((row) => [refKey(row), row])),
          entities: new Map(),
        };
      }
      const answers: BatchItem[] = [];
      for (const request of requests) {
        try {
          answers.push(await decide(request, active, { memo }));
        } catch (error) {
          if (!(error instanceof AppError) || error.status >= 500) throw error;
          answers.push({
            error: {
              code: error.code,
              message: error.message,
              ...(error.field ? { field: error.field } : {}),
            },
          });
        }
        if (options.stopAfter?.(answers[answers.length - 1]!)) break;
      }
      return answers;
    },
  };
}

export type DecisionLibrary = ReturnType<typeof createDecisionLibrary>;
