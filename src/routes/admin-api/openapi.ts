import { z } from 'zod';
import * as schemas from './admin-schemas.ts';

type Operation = {
  summary: string;
  permission: 'admin:read' | 'admin:write';
  body?: z.ZodType;
  created?: boolean;
  noContent?: boolean;
};

const operations: Record<string, Record<string, Operation>> = {
  '/users': {
    get: {
      summary:
        'List accounts with their roles, a page at a time (`?limit=` up to 1000, `?cursor=` from the previous answer’s `next`; `next` is null on the last page)',
      permission: 'admin:read',
    },
    post: {
      summary: 'Create an account',
      permission: 'admin:write',
      body: schemas.createUserBody,
      created: true,
    },
  },
  '/users/{id}': {
    get: { summary: 'Get an account', permission: 'admin:read' },
    patch: {
      summary:
        'Update name, status (disable/enable), email verification or custom attributes (`attributes` set, `removeAttributes` removed)',
      permission: 'admin:write',
      body: schemas.updateUserBody,
    },
  },
  '/users/{id}/sessions': {
    get: { summary: "List the user's active sessions and the apps they granted", permission: 'admin:read' },
    delete: {
      summary: 'Sign the user out everywhere (every session and grant, with their tokens)',
      permission: 'admin:write',
    },
  },
  '/users/{id}/sessions/{sessionId}': {
    delete: { summary: 'End one session and revoke its tokens', permission: 'admin:write', noContent: true },
  },
  '/users/{id}/grants/{grantId}': {
    delete: {
      summary: "Revoke an app's access (its refresh and access tokens)",
      permission: 'admin:write',
      noContent: true,
    },
  },
  '/users/{id}/unlock': {
    post: {
      summary: 'Lift the sign-in lock (failed passwords and codes) of the user',
      permission: 'admin:write',
    },
  },
  '/audit': {
    get: {
      summary: 'Audit events: ?since=ISO-8601&type=mfa&accountId=...&limit=1000',
      permission: 'admin:read',
    },
  },
  '/users/{id}/reset-mfa': {
    post: { summary: "Remove the user's second factor and recovery codes", permission: 'admin:write' },
  },
  '/users/{id}/roles': {
    post: { summary: 'Assign a role', permission: 'admin:write', body: schemas.roleReferenceBody },
  },
  '/users/{id}/roles/{role}': { delete: { summary: 'Remove a role', permission: 'admin:write' } },
  '/users/{id}/permissions': {
    post: {
      summary: 'Give the user a permission directly (not through a role or group)',
      permission: 'admin:write',
      body: schemas.permissionBody,
    },
  },
  '/users/{id}/permissions/{permission}': {
    delete: { summary: 'Take away a permission the user holds directly', permission: 'admin:write' },
  },
  '/groups': {
    get: {
      summary: 'List groups with their roles, permissions, parent groups and member counts',
      permission: 'admin:read',
    },
    post: {
      summary: 'Create a group (members inherit its roles and permissions, and its parent groups’)',
      permission: 'admin:write',
      body: schemas.createGroupBody,
      created: true,
    },
  },
  '/groups/{name}': {
    get: { summary: 'Get a group and its members', permission: 'admin:read' },
    patch: {
      summary: "Change a group's roles, permissions and parent groups (a parent that makes a cycle is a 400)",
      permission: 'admin:write',
      body: schemas.updateGroupBody,
    },
    delete: { summary: 'Delete a group', permission: 'admin:write', noContent: true },
  },
  '/groups/{name}/members': {
    post: {
      summary: 'Add a member (by accountId or email)',
      permission: 'admin:write',
      body: schemas.groupMemberBody,
    },
  },
  '/groups/{name}/members/{accountId}': {
    delete: { summary: 'Remove a member', permission: 'admin:write' },
  },
  '/roles': {
    get: { summary: 'List roles with their permissions', permission: 'admin:read' },
    post: {
      summary: 'Create a role',
      permission: 'admin:write',
      body: schemas.createRoleBody,
      created: true,
    },
  },
  '/roles/{name}': {
    delete: { summary: 'Delete a role (not a built-in one)', permission: 'admin:write', noContent: true },
  },
  '/roles/{name}/permissions': {
    post: { summary: 'Add a permission to a role', permission: 'admin:write', body: schemas.permissionBody },
  },
  '/roles/{name}/permissions/{permission}': {
    delete: { summary: 'Take a permission from a role', permission: 'admin:write' },
  },
  '/clients': {
    get: { summary: 'List clients', permission: 'admin:read' },
    post: {
      summary: 'Register a client (a generated secret is returned once)',
      permission: 'admin:write',
      body: schemas.createClientBody,
      created: true,
    },
  },
  '/clients/{id}': {
    get: { summary: 'Get a client', permission: 'admin:read' },
    patch: { summary: 'Update a client', permission: 'admin:write', body: schemas.updateClientBody },
    delete: { summary: 'Delete a client', permission: 'admin:write', noContent: true },
  },
  '/idps': {
    get: { summary: 'List upstream identity providers', permission: 'admin:read' },
    post: {
      summary: 'Register an upstream identity provider (oidc, github, google)',
      permission: 'admin:write',
      body: schemas.createIdentityProviderBody,
      created: true,
    },
  },
  '/idps/{id}': {
    delete: {
      summary: 'Remove an upstream and its linked identities',
      permission: 'admin:write',
      noContent: true,
    },
  },
  '/policy': {
    get: {
      summary:
        'The active Cedar policy set: `{"version": N, "text": "...", "schema": "..." | null}` (version 0: none)',
      permission: 'admin:read',
    },
    put: {
      summary:
        'Validate a Cedar policy set (against `schema` when given) and make it the active one, atomically: a set that does not parse or validate is a 400 with Cedar’s message and line, and changes nothing. Body up to 4 MiB.',
      permission: 'admin:write',
      body: schemas.setPolicyBody,
    },
  },
  '/policy/history': {
    get: {
      summary: 'Every version of the policy set: who made it, when, what it restored',
      permission: 'admin:read',
    },
  },
  '/policy/versions/{version}': {
    get: { summary: 'One version of the policy set (its text and schema)', permission: 'admin:read' },
  },
  '/policy/rollback': {
    post: {
      summary: 'Make an older version active again (as a new version)',
      permission: 'admin:write',
      body: schemas.rollbackPolicyBody,
    },
  },
  '/resources': {
    get: {
      summary:
        'The stored resources of a type, a page at a time (`?type=` required, `?limit=` up to 1000, `?cursor=` from the previous answer’s `next`; `next` is null on the last page)',
      permission: 'admin:read',
    },
  },
  '/resources/import': {
    post: {
      summary:
        'Upsert up to 10,000 resources from Cedar’s entity JSON (`[{"uid": {"type", "id"}, "attrs": {...}, "parents": [...]}]`), all or nothing. Body up to 4 MiB.',
      permission: 'admin:write',
      body: schemas.importResourcesBody,
    },
  },
  '/resources/{type}/{id}': {
    get: { summary: 'A stored resource: attributes, parents and relation sets', permission: 'admin:read' },
    put: {
      summary: 'Create or replace a resource’s attributes and parents (its relation sets stay)',
      permission: 'admin:write',
      body: schemas.putResourceBody,
    },
    delete: { summary: 'Delete a resource', permission: 'admin:write', noContent: true },
  },
  '/resources/{type}/{id}/share': {
    post: {
      summary:
        'Grant a relation on the resource (`resource.<relation>` in policies) to an account or a group',
      permission: 'admin:write',
      body: schemas.shareBody,
    },
  },
  '/resources/{type}/{id}/unshare': {
    post: {
      summary: 'Take a relation on the resource away from an account or a group',
      permission: 'admin:write',
      body: schemas.shareBody,
    },
  },
  '/authz/check': {
    post: {
      summary:
        'One decision: `{"decision", "policies" (the ids that decided), "errors", "version"}`; with `explain`, also the entities and context it was made on',
      permission: 'admin:read',
      body: schemas.authzCheckBody,
    },
  },
  '/apis': {
    get: { summary: 'List APIs (resource servers)', permission: 'admin:read' },
    post: {
      summary:
        'Register an API; `searchClaims` puts into its user access tokens the resources a resource search finds at issuance (at most 100 per claim, then `<name>_truncated: true`)',
      permission: 'admin:write',
      body: schemas.createApiBody,
      created: true,
    },
  },
};

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, error_description: { type: 'string' }, field: { type: 'string' } },
  required: ['error'],
};

/** OpenAPI 3.1 description of the admin API; request schemas are generated from the same zod schemas it enforces. */
export function buildOpenApiDocument(issuer: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(operations)) {
    paths[path] = {};
    for (const [method, operation] of Object.entries(methods)) {
      const parameters = [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
        name,
        in: 'path',
        required: true,
        schema: { type: 'string' },
      }));
      const success = operation.noContent ? '204' : operation.created ? '201' : '200';
      paths[path]![method] = {
        summary: operation.summary,
        description: `Requires permission \`${operation.permission}\`.`,
        security: [{ gatehouse: [operation.permission] }],
        ...(parameters.length > 0 ? { parameters } : {}),
        ...(operation.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: z.toJSONSchema(operation.body, { io: 'input' }) } },
              },
            }
          : {}),
        responses: {
          [success]: { description: 'Done' },
          '400': {
            description: 'Invalid JSON or field (named in `field`)',
            content: { 'application/json': { schema: errorSchema } },
          },
          '401': {
            description:
              'No token, or an invalid, expired, revoked or foreign one (`WWW-Authenticate: Bearer`)',
          },
          '403': { description: 'A valid token without the permission (`error="insufficient_scope"`)' },
          '404': {
            description: 'Unknown user, role, group, client, API, resource or policy version',
            content: { 'application/json': { schema: errorSchema } },
          },
          '409': { description: 'Already exists', content: { 'application/json': { schema: errorSchema } } },
        },
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse admin API',
      version: '1',
      description: `Bearer access tokens issued by Gatehouse for the API ${issuer}/admin (request them with resource=${issuer}/admin).`,
    },
    servers: [{ url: `${issuer}/admin/api` }],
    components: {
      securitySchemes: {
        gatehouse: {
          type: 'oauth2',
          flows: {
            clientCredentials: {
              tokenUrl: `${issuer}/token`,
              scopes: { 'admin:read': 'read', 'admin:write': 'change' },
            },
          },
        },
      },
    },
    paths,
  };
}
