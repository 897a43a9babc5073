import { z } from 'zod';
import { supportedGrantTypes } from '../../libraries/clients.ts';

/** Request bodies of the admin API. Unknown fields are refused, so a typo is a 400 instead of a silent no-op. */
const text = (max: number) => z.string().min(1).max(max);
const uriList = z.array(text(2000)).max(50);
/** Custom attributes of an account: typed JSON values by name (names and sizes are the accounts library's rules). */
const attributes = z.record(text(64), z.unknown());

/** A list's paging parameters: the cursor is the `next` of the page before (opaque, given out by Gatehouse). */
const cursorOf = (max: number) =>
  z.string().max(max).optional().describe('The `next` of the previous page; absent: the first page.');
const limitOf = (max: number, fallback: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback).describe('How many items a page holds at most.');

/** A page of the user list (`?limit=100&cursor=...`): `next` in the answer is the cursor of the page after. */
export const usersQuery = z.object({ limit: limitOf(1000, 1000), cursor: cursorOf(200) });

/** A page of the other lists (clients, roles, groups, APIs, upstreams), the same way. */
export const pageQuery = z.object({ limit: limitOf(1000, 1000), cursor: cursorOf(4000) });

/** The audit query (`?since=ISO&type=mfa&accountId=...&limit=100`); a 400 names the offending parameter. */
export const auditQuery = z
  .object({
    since: z.iso
      .datetime({ offset: true })
      .default(() => new Date(Date.now() - 86_400_000).toISOString())
      .describe('The oldest event to show (ISO 8601); default: 24 hours ago.'),
    type: z.string().max(64).optional().describe('Only events of this type (`mfa` for every `mfa.*`).'),
    accountId: z.string().max(255).optional().describe('Only events about this account.'),
    limit: limitOf(10_000, 1000),
    /** The `next` of the page before. */
    cursor: z
      .string()
      .regex(/^[1-9][0-9]{0,18}$/, 'not a cursor Gatehouse gave out')
      .optional()
      .describe('The `next` of the previous page; absent: the first page.'),
  })
  .strict();

/**
 * A page of resources (`?type=T&limit=100&cursor=...`). The same as `resourcesQuery` in authz-admin-routes.ts,
 * which validates the request; kept here so the OpenAPI document can describe it.
 */
export const resourcesQuery = z.object({
  type: z.string().min(1).max(200).describe('The resource type (Cedar entity type).'),
  limit: limitOf(1000, 1000),
  cursor: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .describe('The `next` of the previous page; absent: the first page.'),
});

/** An invitation: the account is created without a password and its address is mailed a link to set one. */
export const inviteUserBody = z
  .object({
    email: text(320),
    name: text(200).optional(),
    roles: z.array(text(64)).max(100).default([]),
  })
  .strict();

export const createUserBody = z
  .object({
    email: text(320),
    password: z.string().max(1024),
    name: text(200).optional(),
    emailVerified: z.boolean().optional(),
    roles: z.array(text(64)).max(100).default([]),
    /** The account's `sub`: a UUID, or an id with a character no client id has (`auth0|5f7c8ec7`). */
    id: text(255).optional(),
    attributes: attributes.optional(),
  })
  .strict();

export const updateUserBody = z
  .object({
    name: z.string().max(200).nullable().optional(),
    status: z.enum(['active', 'disabled']).optional(),
    emailVerified: z.boolean().optional(),
    /** Attributes to set (replacing those of the same name); the others are kept. */
    attributes: attributes.optional(),
    /** Names of attributes to remove. */
    removeAttributes: z.array(text(64)).max(100).optional(),
  })
  .strict();

/** `PUT /users/{id}/password`: the password policy is the accounts library's (a 400 naming `password`). */
export const setPasswordBody = z.object({ password: z.string().min(1).max(1024) }).strict();

export const roleReferenceBody = z.object({ role: text(64) }).strict();

export const createRoleBody = z
  .object({
    name: text(64),
    permissions: z.array(text(128)).max(500).default([]),
    description: z.string().max(500).optional(),
  })
  .strict();

export const updateRoleBody = z.object({ mfaRequired: z.boolean() }).strict();

export const permissionBody = z.object({ permission: text(128) }).strict();

export const createClientBody = z
  .object({
    id: text(128),
    name: text(200).optional(),
    secret: z.string().min(16).max(256).optional(),
    redirectUris: uriList.default([]),
    postLogoutRedirectUris: uriList.default([]),
    grantTypes: z.array(z.enum(supportedGrantTypes)).max(4).default([]),
    scope: text(1000).optional(),
    public: z.boolean().default(false),
    firstParty: z.boolean().default(false),
    roles: z.array(text(64)).max(100).default([]),
    /** APIs (identifiers) the client may get user access tokens for. */
    apis: z.array(text(2000)).max(100).default([]),
    backchannelLogoutUri: text(2000).optional(),
    mfaRequired: z.boolean().default(false),
  })
  .strict();

export const updateClientBody = z
  .object({
    name: text(200).optional(),
    redirectUris: uriList.optional(),
    postLogoutRedirectUris: uriList.optional(),
    grantTypes: z.array(z.enum(supportedGrantTypes)).max(4).optional(),
    scope: text(1000).optional(),
    firstParty: z.boolean().optional(),
    backchannelLogoutUri: z.string().max(2000).nullable().optional(),
    /** Replaces the APIs the client may get user access tokens for. */
    apis: z.array(text(2000)).max(100).optional(),
    mfaRequired: z.boolean().optional(),
  })
  .strict();

export const createApiBody = z
  .object({
    identifier: text(2000),
    name: text(200).optional(),
    permissions: z.array(text(128)).max(500).default([]),
    /** Permission → what it lets an application do, in words (the consent page shows it). */
    descriptions: z.record(text(128), text(200)).optional(),
    format: z.enum(['jwt', 'opaque']).default('jwt'),
    accessTokenTtl: z.number().int().positive().max(86400).optional(),
    /**
     * Claims user access tokens for the API carry: `name` = the resources of `type` the subject may `action`
     * (a resource search at every issuance), as `[{"type", "id"}]`; at most 100 entries, then `<name>_truncated`.
     */
    searchClaims: z
      .array(z.object({ name: text(64), action: text(256), type: text(200) }).strict())
      .max(5)
      .optional(),
  })
  .strict();

/** `PATCH /apis/{identifier}`: what is not given stays; `searchClaims` replaces them all when given. */
export const updateApiBody = z
  .object({
    name: text(200).nullable().optional(),
    addPermissions: z.array(text(128)).max(500).optional(),
    removePermissions: z.array(text(128)).max(500).optional(),
    descriptions: z.record(text(128), text(200)).optional(),
    format: z.enum(['jwt', 'opaque']).optional(),
    accessTokenTtl: z.number().int().positive().max(86400).nullable().optional(),
    searchClaims: z
      .array(z.object({ name: text(64), action: text(256), type: text(200) }).strict())
      .max(5)
      .optional(),
  })
  .strict();

/** `PATCH /idps/{id}`: the id and type stay; what is not given stays. */
export const updateIdentityProviderBody = z
  .object({
    name: text(60).optional(),
    issuer: text(2000).optional(),
    clientId: text(256).optional(),
    clientSecret: text(512).optional(),
    scope: text(1000).optional(),
  })
  .strict();

export const createIdentityProviderBody = z
  .object({
    id: text(40),
    type: z.enum(['oidc', 'github', 'google']),
    issuer: text(2000).optional(),
    clientId: text(256),
    clientSecret: text(512),
    scope: text(1000).optional(),
    name: text(60).optional(),
    linkPolicy: z.enum(['confirm', 'auto', 'never']).optional(),
    trustEmail: z.boolean().optional(),
    roleRules: z
      .array(z.object({ claim: text(100), value: text(200), role: text(64) }).strict())
      .max(50)
      .optional(),
  })
  .strict();

export const createGroupBody = z
  .object({
    name: text(64),
    description: z.string().max(500).optional(),
    roles: z.array(text(64)).max(100).default([]),
    permissions: z.array(text(128)).max(500).default([]),
    parents: z.array(text(64)).max(100).default([]),
  })
  .strict();

export const updateGroupBody = z
  .object({
    addRoles: z.array(text(64)).max(100).optional(),
    removeRoles: z.array(text(64)).max(100).optional(),
    addPermissions: z.array(text(128)).max(500).optional(),
    removePermissions: z.array(text(128)).max(500).optional(),
    addParents: z.array(text(64)).max(100).optional(),
    removeParents: z.array(text(64)).max(100).optional(),
  })
  .strict();

/** A member, by account id or by email (exactly one). */
export const groupMemberBody = z
  .object({ accountId: text(255).optional(), email: text(320).optional() })
  .strict()
  .refine((body) => (body.accountId === undefined) !== (body.email === undefined), {
    message: 'give exactly one of accountId and email',
    path: ['accountId'],
  })
  .describe('Exactly one of accountId and email.');

// The policy decision point (issue 14): policies, resources, decisions.
const entityType = text(200);
const entityId = text(1024);
const entityRef = z.object({ type: entityType, id: entityId }).strict();
/** JSON values by name (attributes, properties, context): Cedar's rules are the authz library's. */
const jsonRecord = z.record(z.string().max(256), z.unknown());

export const setPolicyBody = z
  .object({
    /** The whole Cedar policy set (replaces the active one once it parses and validates). */
    text: z.string().max(1024 * 1024),
    /** A Cedar schema (human-readable or JSON text) to validate against; null or absent: none. */
    schema: z
      .string()
      .max(1024 * 1024)
      .nullable()
      .optional(),
  })
  .strict();

export const rollbackPolicyBody = z.object({ version: z.number().int().min(1) }).strict();

export const putResourceBody = z
  .object({
    attributes: jsonRecord.optional(),
    parents: z.array(entityRef).max(100).optional(),
  })
  .strict();

/** `resource import`: Cedar's entity JSON, an array (each entity checked by the resources library). */
export const importResourcesBody = z.array(z.unknown()).max(10_000);

/** A relation on a resource, held by an account (email) or a group (exactly one). */
export const shareBody = z
  .object({ relation: text(64), email: text(320).optional(), group: text(64).optional() })
  .strict()
  .refine((body) => (body.email === undefined) !== (body.group === undefined), {
    message: 'give exactly one of email and group',
    path: ['email'],
  })
  .describe('Exactly one of email and group.');

const decisionEntity = z
  .object({ type: entityType, id: entityId, properties: jsonRecord.optional() })
  .strict();

/** `authz check`: one decision, with the policies that decided it (and with `explain`, the entities). */
export const authzCheckBody = z
  .object({
    subject: decisionEntity,
    action: z.object({ name: text(256), properties: jsonRecord.optional() }).strict(),
    resource: decisionEntity,
    context: jsonRecord.optional(),
    explain: z.boolean().optional(),
  })
  .strict();
