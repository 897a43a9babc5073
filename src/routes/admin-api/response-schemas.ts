import { z } from 'zod';
import type { Account } from '../../libraries/accounts.ts';
import type { AuditEvent } from '../../libraries/audit.ts';
import type { Decision, EntityJson } from '../../libraries/authz/decisions.ts';
import type { PolicyHistoryEntry, PolicySetVersion } from '../../libraries/authz/policies.ts';
import type { Resource } from '../../libraries/authz/resources.ts';
import type { ClientSummary } from '../../libraries/clients.ts';
import type { Group } from '../../libraries/groups.ts';
import type { IdentityProvider } from '../../libraries/identity-providers.ts';
import type { ApiResource, EffectiveAccess, Role } from '../../libraries/rbac.ts';
import type { ActiveSession, GrantedApp } from '../../libraries/session-ledger.ts';
import type { SignOutResult } from '../../libraries/session-management.ts';

/**
 * What the admin API answers, as JSON on the wire (a `Date` is an ISO 8601 string): the response schemas of the
 * OpenAPI document (openapi.ts), and what test/integration/openapi.test.ts parses real answers with. Every object is
 * strict, so a field the router starts to return without describing it here fails that test. The type checks at
 * the end tie each schema to the library type the router returns, so a changed library type fails `tsc` first.
 */

const timestamp = z.iso.datetime();
const strings = z.array(z.string());
/** Typed JSON values by name (custom attributes, resource attributes, a decision's context). */
const jsonValues = z.record(z.string(), z.unknown());
/** The cursor of the page after this one, for `?cursor=`; null on the last page. */
const next = z
  .string()
  .nullable()
  .describe('The cursor of the next page (`?cursor=`); null on the last page.');

export const account = z.strictObject({
  id: z.string().describe('The account’s `sub`.'),
  email: z.string(),
  emailVerified: z.boolean(),
  name: z.string().nullable(),
  status: z.enum(['active', 'disabled']),
  hasPassword: z.boolean().describe('False for accounts created through an upstream sign-in.'),
  attributes: jsonValues,
  createdAt: timestamp,
  updatedAt: timestamp,
});

/** `POST /users`: the account and the roles it was created with. */
export const createdUser = account.extend({ roles: strings });

/** An account as most user routes answer: its own roles, the groups it is itself in, its direct permissions. */
export const user = account.extend({
  roles: strings.describe('Roles assigned to the account itself (not through a group).'),
  groups: strings.describe('Groups the account is itself a member of (not their ancestors).'),
  directPermissions: strings.describe('Permissions held directly (not through a role or group).'),
});

export const effectiveAccess = z.strictObject({ roles: strings, permissions: strings });

/** `GET /users/{id}`: the account with everything it holds through its roles and groups. */
export const userDetail = user.extend({ effective: effectiveAccess });

export const userPage = z.strictObject({ users: z.array(user), next });

export const activeSession = z.strictObject({
  id: z.string(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  clients: strings,
  createdAt: timestamp,
  lastSeenAt: timestamp,
  expiresAt: timestamp,
});

export const grantedApp = z.strictObject({
  grantId: z.string(),
  clientId: z.string(),
  scope: z.string(),
  resources: strings,
});

export const userSessions = z.strictObject({
  sessions: z.array(activeSession),
  grants: z.array(grantedApp),
});

export const signOutResult = z.strictObject({
  sessions: z.number().int().describe('Sessions ended.'),
  grants: z.number().int().describe('Grants revoked (with their tokens).'),
});

export const mfaReset = z.strictObject({
  removed: z.boolean().describe('False when the account had no second factor or recovery codes.'),
});

export const unlocked = z.strictObject({ unlocked: z.literal(true) });

export const role = z.strictObject({
  name: z.string(),
  description: z.string().nullable(),
  builtin: z.boolean(),
  mfaRequired: z.boolean(),
  permissions: strings,
});

export const rolePage = z.strictObject({ roles: z.array(role), next });

export const group = z.strictObject({
  name: z.string(),
  description: z.string().nullable(),
  roles: strings,
  permissions: strings,
  parents: strings.describe('The group’s own parent groups (their ancestors count too).'),
  memberCount: z.number().int(),
});

export const groupPage = z.strictObject({ groups: z.array(group), next });

export const groupDetail = group.extend({
  members: z.array(z.strictObject({ id: z.string(), email: z.string() })),
});

export const client = z.strictObject({
  id: z.string(),
  name: z.string().nullable(),
  public: z.boolean(),
  firstParty: z.boolean(),
  grantTypes: strings,
  redirectUris: strings,
  postLogoutRedirectUris: strings,
  scope: z.string(),
  backchannelLogoutUri: z.string().nullable(),
  apis: strings.describe('APIs (identifiers) the client may get user access tokens for.'),
});

/** `POST /clients`: the client, its roles, and a secret shown this once (a confidential client's). */
export const createdClient = client.extend({
  roles: strings,
  secret: z.string().optional().describe('The client secret, shown once (absent for a public client).'),
});

export const clientPage = z.strictObject({ clients: z.array(client), next });

/** `POST /clients/{id}/rotate-secret`, in RFC 7591's names. */
export const rotatedSecret = z.strictObject({ client_id: z.string(), client_secret: z.string() });

const roleRule = z.strictObject({ claim: z.string(), value: z.string(), role: z.string() });

export const identityProvider = z.strictObject({
  id: z.string(),
  type: z.enum(['oidc', 'github', 'google']),
  name: z.string(),
  issuer: z.string(),
  clientId: z.string(),
  scope: z.string(),
  enabled: z.boolean(),
  linkPolicy: z.enum(['confirm', 'auto', 'never']),
  trustEmail: z.boolean(),
  roleRules: z.array(roleRule),
  redirectUri: z.string().describe('The callback URL to register at the upstream.'),
});

export const identityProviderPage = z.strictObject({ idps: z.array(identityProvider), next });

export const auditEvent = z.strictObject({
  id: z.string(),
  at: timestamp,
  type: z.string(),
  accountId: z.string().nullable(),
  clientId: z.string().nullable(),
  actor: z.string().nullable(),
  ip: z.string().nullable(),
  details: jsonValues,
});

export const auditPage = z.strictObject({ events: z.array(auditEvent), next });

const searchClaim = z.strictObject({ name: z.string(), action: z.string(), type: z.string() });

export const api = z.strictObject({
  identifier: z.string(),
  name: z.string().nullable(),
  format: z.enum(['jwt', 'opaque']),
  accessTokenTtl: z.number().int().nullable(),
  builtin: z.boolean(),
  permissions: strings,
  descriptions: z.record(z.string(), z.string()),
  searchClaims: z.array(searchClaim),
});

export const apiPage = z.strictObject({ apis: z.array(api), next });

export const policySet = z.strictObject({
  version: z.number().int().describe('0: no policy set was ever stored.'),
  text: z.string(),
  schema: z.string().nullable(),
});

/** `PUT /policy`, `POST /policy/rollback`: the new active version and the ids of its policies. */
export const storedPolicySet = policySet.extend({ policies: strings });

export const policyHistory = z.strictObject({
  versions: z.array(
    z.strictObject({
      version: z.number().int(),
      createdAt: timestamp,
      createdBy: z.string(),
      restoredFrom: z.number().int().nullable(),
      active: z.boolean(),
    }),
  ),
});

const entityRef = z.strictObject({ type: z.string(), id: z.string() });

export const resource = z.strictObject({
  type: z.string(),
  id: z.string(),
  attributes: jsonValues,
  parents: z.array(entityRef),
  relations: z.record(z.string(), z.array(entityRef)).describe('Relation → its holders (users and groups).'),
});

export const resourcePage = z.strictObject({ resources: z.array(resource), next });

export const resourceImport = z.strictObject({ imported: z.number().int() });

/** `POST /resources/{type}/{id}/share` and `/unshare`: whether anything changed, and the resource now. */
export const resourceShare = z.strictObject({ changed: z.boolean(), resource });

export const decision = z.strictObject({
  decision: z.boolean(),
  policies: strings.describe('The policies that decided.'),
  errors: z.array(z.strictObject({ policy: z.string(), message: z.string() })),
  version: z.number().int().describe('The policy set version that decided (0: none, RBAC alone).'),
  entities: z
    .array(z.strictObject({ uid: entityRef, attrs: jsonValues, parents: z.array(entityRef) }))
    .optional()
    .describe('With `explain`: the entities the decision was made on (Cedar’s entity JSON).'),
  context: jsonValues.optional().describe('With `explain`: the context the decision was made on.'),
});

/** The OpenAPI document itself (not described further here). */
export const openApiDocument = z.looseObject({ openapi: z.string(), paths: jsonValues });

/** `{error, error_description}` after RFC 6749 section 5.2, and the offending field of a 400 when known. */
export const errorResponse = z.strictObject({
  error: z.string().describe('A stable code: invalid_request, invalid_token, not_found, conflict, ...'),
  error_description: z.string(),
  field: z.string().optional().describe('The request field or parameter a 400 is about.'),
});

/**
 * The schemas the document names in `components.schemas` (the rest are written where they are used).
 * Names are the document's: changing one changes every `$ref` to it.
 */
export const responseComponents = {
  Account: account,
  User: user,
  UserDetail: userDetail,
  CreatedUser: createdUser,
  UserPage: userPage,
  UserSessions: userSessions,
  Role: role,
  RolePage: rolePage,
  Group: group,
  GroupDetail: groupDetail,
  GroupPage: groupPage,
  Client: client,
  CreatedClient: createdClient,
  ClientPage: clientPage,
  IdentityProvider: identityProvider,
  IdentityProviderPage: identityProviderPage,
  AuditEvent: auditEvent,
  AuditPage: auditPage,
  Api: api,
  ApiPage: apiPage,
  PolicySet: policySet,
  StoredPolicySet: storedPolicySet,
  PolicyHistory: policyHistory,
  Resource: resource,
  ResourcePage: resourcePage,
  Decision: decision,
  Error: errorResponse,
} as const;

/** The JSON form of a library type: what `JSON.stringify` makes of it (dates become strings). */
type Wire<T> = T extends Date
  ? string
  : T extends readonly (infer Item)[]
    ? Wire<Item>[]
    : T extends object
      ? { [Key in keyof T]: Wire<T[Key]> }
      : T;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** What the library sends fits the schema (Cedar values are described as any JSON value). */
type Fits<Sent, Schema> = [Sent] extends [Schema] ? true : false;
type Assert<T extends true> = T;

/** Compile-time: each schema describes exactly the library type the router sends (fails `tsc` on drift). */
export type ResponseSchemasMatchLibraries = [
  Assert<Same<z.infer<typeof account>, Wire<Account>>>,
  Assert<Same<z.infer<typeof effectiveAccess>, EffectiveAccess>>,
  Assert<Same<z.infer<typeof activeSession>, ActiveSession>>,
  Assert<Same<z.infer<typeof grantedApp>, GrantedApp>>,
  Assert<Same<z.infer<typeof signOutResult>, SignOutResult>>,
  Assert<Same<z.infer<typeof role>, Role>>,
  Assert<Same<z.infer<typeof group>, Group>>,
  Assert<Same<z.infer<typeof client>, ClientSummary>>,
  Assert<Same<z.infer<typeof identityProvider>, IdentityProvider>>,
  Assert<Same<z.infer<typeof auditEvent>, AuditEvent>>,
  Assert<Same<z.infer<typeof api>, ApiResource>>,
  Assert<Same<z.infer<typeof policySet>, PolicySetVersion>>,
  Assert<Same<z.infer<typeof policyHistory>['versions'][number], PolicyHistoryEntry>>,
  Assert<Same<z.infer<typeof resource>, Resource>>,
  Assert<Same<Omit<z.infer<typeof decision>, 'version' | 'entities' | 'context'>, Decision>>,
  Assert<Fits<Wire<EntityJson>[] | undefined, z.infer<typeof decision>['entities']>>,
];
