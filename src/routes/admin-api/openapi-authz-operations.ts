import { z } from 'zod';
import * as schemas from './admin-schemas.ts';
import type { AdminOperation } from './openapi-operation.ts';
import * as responses from './response-schemas.ts';

/**
 * The operations of authz-admin-routes.ts (the policy decision point), in its order. test/integration/openapi.test.ts
 * fails when a route and this list part.
 */

const read = 'admin:read' as const;
const write = 'admin:write' as const;
const largeBody = 'Body up to 4 MiB (or the configured body limit, when larger).';
const resourceRef = z.object({
  type: z.string().describe('The resource type (Cedar entity type), URL-encoded.'),
  id: z.string().describe('The resource id, URL-encoded.'),
});

export const authzOperations: readonly AdminOperation[] = [
  {
    method: 'get',
    path: '/policy',
    operationId: 'getPolicy',
    summary: 'The active Cedar policy set (version 0: none)',
    permission: read,
    response: responses.policySet,
  },
  {
    method: 'put',
    path: '/policy',
    operationId: 'setPolicy',
    summary: 'Validate a Cedar policy set and make it the active one, atomically',
    description: `Validated against \`schema\` when given. A set that does not parse or validate is a 400 with Cedar’s message and line, and changes nothing. ${largeBody}`,
    permission: write,
    body: schemas.setPolicyBody,
    response: responses.storedPolicySet,
  },
  {
    method: 'get',
    path: '/policy/history',
    operationId: 'getPolicyHistory',
    summary: 'Every version of the policy set: who made it, when, what it restored',
    permission: read,
    response: responses.policyHistory,
  },
  {
    method: 'get',
    path: '/policy/versions/{version}',
    operationId: 'getPolicyVersion',
    summary: 'One version of the policy set (its text and schema)',
    permission: read,
    params: z.object({
      version: z
        .string()
        .regex(/^[1-9][0-9]{0,15}$/)
        .describe('1, 2, ...'),
    }),
    response: responses.policySet,
    errors: [400],
  },
  {
    method: 'post',
    path: '/policy/rollback',
    operationId: 'rollbackPolicy',
    summary: 'Make an older version active again (as a new version)',
    permission: write,
    body: schemas.rollbackPolicyBody,
    response: responses.storedPolicySet,
    errors: [404],
  },
  {
    method: 'get',
    path: '/resources',
    operationId: 'listResources',
    summary: 'The stored resources of a type',
    description:
      '`?type=` is required. A page at a time: `?limit=` (up to 1000), `?cursor=` from the previous answer’s `next` (null on the last page).',
    permission: read,
    query: schemas.resourcesQuery,
    response: responses.resourcePage,
  },
  {
    method: 'post',
    path: '/resources/import',
    operationId: 'importResources',
    summary: 'Upsert up to 10,000 resources from Cedar’s entity JSON, all or nothing',
    description: `\`[{"uid": {"type", "id"}, "attrs": {...}, "parents": [...]}]\`. ${largeBody}`,
    permission: write,
    body: schemas.importResourcesBody,
    response: responses.resourceImport,
  },
  {
    method: 'get',
    path: '/resources/{type}/{id}',
    operationId: 'getResource',
    summary: 'A stored resource: attributes, parents and relation sets',
    permission: read,
    params: resourceRef,
    response: responses.resource,
  },
  {
    method: 'put',
    path: '/resources/{type}/{id}',
    operationId: 'putResource',
    summary: 'Create or replace a resource’s attributes and parents (its relation sets stay)',
    permission: write,
    params: resourceRef,
    body: schemas.putResourceBody,
    response: responses.resource,
  },
  {
    method: 'delete',
    path: '/resources/{type}/{id}',
    operationId: 'deleteResource',
    summary: 'Delete a resource',
    permission: write,
    params: resourceRef,
    status: 204,
  },
  {
    method: 'post',
    path: '/resources/{type}/{id}/share',
    operationId: 'shareResource',
    summary: 'Grant a relation on the resource to an account or a group',
    description: 'Policies read it as `resource.<relation>`.',
    permission: write,
    params: resourceRef,
    body: schemas.shareBody,
    response: responses.resourceShare,
  },
  {
    method: 'post',
    path: '/resources/{type}/{id}/unshare',
    operationId: 'unshareResource',
    summary: 'Take a relation on the resource away from an account or a group',
    permission: write,
    params: resourceRef,
    body: schemas.shareBody,
    response: responses.resourceShare,
  },
  {
    method: 'post',
    path: '/authz/check',
    operationId: 'checkAuthorization',
    summary: 'One decision, with the policies that decided it',
    description: 'With `explain`, also the entities and context it was made on.',
    permission: read,
    body: schemas.authzCheckBody,
    response: responses.decision,
  },
];
