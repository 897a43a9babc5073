import { randomUUID } from 'node:crypto';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { AppError, invalidRequest } from '../../errors/app-error.ts';
import type { AccountQueries } from '../../queries/account-queries.ts';
import type { AuthzDirectoryQueries, GroupNode } from '../../queries/authz-directory-queries.ts';
import type { ResourceQueries, ResourceRow } from '../../queries/resource-queries.ts';
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
}

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
 * instance and per version), so a decision only builds entities and evaluates.
 */
export function createDecisionLibrary(deps: {
  policies: PolicyLibrary;
  accounts: Pick<AccountQueries, 'findById'>;
  roles: Pick<RoleQueries, 'grantsOfAccount' | 'grantsOfClient'>;
  directory: AuthzDirectoryQueries;
  resources: Pick<ResourceQueries, 'findWithAncestors'>;
}) {
  const instance = randomUUID();
  let prepared: { version: number; plain: string; rbac: string } | undefined;

  /**
   * The preparsed ids of the version a decision read (two slots per library instance, overwritten in place when
   * the version changes). Parsing and evaluating run synchronously, so a decision evaluates exactly the version
   * it read and reports.
   */
  function prepare(active: ActivePolicySet): { plain: string; rbac: string } {
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
    prepared = { version: active.version, plain, rbac };
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

  async function resourceOf(resource: DecisionRequest['resource']): Promise<EntityJson[]> {
    // An account or a client as the resource ("may Ada view Bob's profile") is the directory's entity.
    if (resource.type === 'user' || resource.type === 'client')
      return (await principalOf(resource, 'resource')).entities;
    const properties = record(resource.properties, 'resource.properties');
    const rows = await deps.resources.findWithAncestors(resource.type, resource.id);
    const own = rows.find((row) => row.type === resource.type && row.id === resource.id);
    const entity = own
      ? storedEntity(own, 'resource.attributes')
      : { uid: { type: resource.type, id: resource.id }, attrs: {}, parents: [] };
    entity.attrs = { ...entity.attrs, ...properties };
    return [
      entity,
      ...rows.filter((row) => row !== own).map((row) => storedEntity(row, 'resource.ancestors')),
    ];
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
    const resource = await memoized(memo?.resources, request.resource, () => resourceOf(request.resource));
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
    const answer = cedar.statefulIsAuthorized({
      principal: { type: request.subject.type, id: request.subject.id },
      action: { type: 'Action', id: request.action.name },
      resource: { type: request.resource.type, id: request.resource.id },
      context,
      preparsedPolicySetId: principal.permissions.has(request.action.name) ? ids.rbac : ids.plain,
      entities: entities as cedar.EntityJson[],
    });
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
      options: { stopAfter?: (item: BatchItem) => boolean } = {},
    ): Promise<BatchItem[]> {
      const active = await deps.policies.active();
      const memo: BatchMemo = { principals: new Map(), resources: new Map() };
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
