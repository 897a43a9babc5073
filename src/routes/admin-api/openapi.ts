import { z } from 'zod';
import { accountOperations, directoryOperations } from './openapi-admin-operations.ts';
import { authzOperations } from './openapi-authz-operations.ts';
import type { AdminOperation } from './openapi-operation.ts';
import { responseComponents } from './response-schemas.ts';

/** Every operation of the admin API, in the document's order. */
export const adminApiOperations: readonly AdminOperation[] = [
  ...accountOperations,
  ...directoryOperations,
  ...authzOperations,
];

const errorResponses = {
  400: {
    name: 'BadRequest',
    description:
      'Invalid JSON, parameter or field (`error: invalid_request`; the field or parameter is named in `field`)',
  },
  401: {
    name: 'Unauthorized',
    description:
      'No token, or an invalid, expired, revoked or foreign one, or a DPoP-bound token without a valid proof (`WWW-Authenticate: Bearer` or `DPoP`)',
  },
  403: {
    name: 'Forbidden',
    description: 'A valid token without the permission (`error: insufficient_scope`)',
  },
  404: {
    name: 'NotFound',
    description: 'Unknown user, role, group, client, API, upstream, resource or version',
  },
  409: { name: 'Conflict', description: 'It already exists (`error: conflict`)' },
  413: { name: 'TooLarge', description: 'The request body is larger than the limit' },
  503: {
    name: 'Unavailable',
    description: 'A storage service is unavailable (`Retry-After` says when to try again)',
  },
} as const;
type DocumentedError = keyof typeof errorResponses;

const schemaRef = (name: string) => `#/components/schemas/${name}`;

/**
 * Zod's JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1), tidied for a document: an ISO 8601 timestamp's
 * format says what its 500-character pattern does, and a timestamp default (the audit list's `since`) is computed
 * per request, so it is described in words instead of frozen at the time the document was built.
 */
const tidy: NonNullable<Parameters<typeof z.toJSONSchema>[1]>['override'] = ({ jsonSchema }) => {
  if (jsonSchema.format === 'date-time') {
    delete jsonSchema.pattern;
    delete jsonSchema.default;
  }
};

/** A schema as part of the document: the document's dialect is OpenAPI 3.1's, and its place is its name. */
function embedded(schema: object): Record<string, unknown> {
  const json: Record<string, unknown> = { ...schema };
  delete json.$schema;
  delete json.$id;
  return json;
}

function toSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  return embedded(z.toJSONSchema(schema, { io, override: tidy, unrepresentable: 'any' }));
}

/** The `components.schemas` of the responses: the named ones, then each operation's own, in one pass. */
function responseSchemas(operations: readonly AdminOperation[]) {
  const registry = z.registry<{ id: string }>();
  for (const [name, schema] of Object.entries(responseComponents)) registry.add(schema, { id: name });
  const idOf = new Map<z.ZodType, string>();
  for (const operation of operations) {
    const { response } = operation;
    if (!response || idOf.has(response)) continue;
    const named = registry.get(response)?.id;
    const id = named ?? `${operation.operationId[0]!.toUpperCase()}${operation.operationId.slice(1)}Response`;
    if (!named) registry.add(response, { id });
    idOf.set(response, id);
  }
  const { schemas } = z.toJSONSchema(registry, {
    io: 'output',
    override: tidy,
    unrepresentable: 'any',
    uri: schemaRef,
  });
  const components: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    components[id] = embedded(schema);
  }
  return { components, idOf };
}

function parametersOf(operation: AdminOperation) {
  const pathNames = [...operation.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => name!);
  const pathParameters = pathNames.map((name) => {
    const rule = operation.params?.shape[name] as z.ZodType | undefined;
    const schema = rule ? toSchema(rule, 'input') : { type: 'string' };
    const { description, ...rest } = schema;
    return { name, in: 'path', required: true, ...(description ? { description } : {}), schema: rest };
  });
  const query = operation.query ? toSchema(operation.query, 'input') : undefined;
  const required = new Set((query?.required as string[] | undefined) ?? []);
  const queryParameters = Object.entries(
    (query?.properties ?? {}) as Record<string, Record<string, unknown>>,
  ).map(([name, { description, ...schema }]) => ({
    name,
    in: 'query',
    required: required.has(name),
    ...(description ? { description } : {}),
    schema,
  }));
  return [...pathParameters, ...queryParameters];
}

function errorsOf(operation: AdminOperation): DocumentedError[] {
  const statuses = new Set<DocumentedError>(operation.errors ?? []);
  if (operation.body || operation.query) statuses.add(400);
  if (operation.path.includes('{')) statuses.add(404);
  if (operation.status === 201) statuses.add(409);
  if (operation.body) statuses.add(413);
  if (operation.permission) for (const status of [401, 403, 503] as const) statuses.add(status);
  return [...statuses].sort((a, b) => a - b);
}

/** `/users/{id}/roles` → `users`: operations are tagged by what they are about. */
const tagOf = (path: string) => path.split('/')[1]!.replace(/\.json$/, '');

/**
 * The OpenAPI 3.1 description of the admin API, served at `/admin/api/openapi.json`. Parameters, request bodies and
 * responses are generated with zod's own JSON Schema output (`z.toJSONSchema`, draft 2020-12, which OpenAPI 3.1
 * uses) from the schemas the routes validate with and the response schemas of response-schemas.ts; no OpenAPI
 * library is needed for that.
 */
export function buildOpenApiDocument(
  issuer: string,
  operations: readonly AdminOperation[] = adminApiOperations,
): Record<string, unknown> {
  const { components: schemas, idOf } = responseSchemas(operations);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of operations) {
    const status = operation.status ?? 200;
    const parameters = parametersOf(operation);
    const responses: Record<string, unknown> = {
      [status]:
        status === 204 || !operation.response
          ? { description: 'Done (no content)' }
          : {
              description: status === 201 ? 'Created' : 'OK',
              content: { 'application/json': { schema: { $ref: schemaRef(idOf.get(operation.response)!) } } },
            },
    };
    for (const error of errorsOf(operation))
      responses[error] = { $ref: `#/components/responses/${errorResponses[error].name}` };
    (paths[operation.path] ??= {})[operation.method] = {
      operationId: operation.operationId,
      tags: [tagOf(operation.path)],
      summary: operation.summary,
      description: [
        operation.description,
        operation.permission ? `Requires the permission \`${operation.permission}\`.` : 'Needs no token.',
      ]
        .filter(Boolean)
        .join('\n\n'),
      security: operation.permission
        ? [{ bearer: [operation.permission] }, { dpop: [operation.permission] }]
        : [],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(operation.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: toSchema(operation.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  const tokenHow = `an access token for the API \`${issuer}/admin\` (request it with \`resource=${issuer}/admin\`, for example with the client credentials grant at \`${issuer}/token\`); its holder needs the permission the operation names (\`admin:read\` to read, \`admin:write\` to change)`;
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse admin API',
      version: '1',
      description: `Manage Gatehouse's accounts, roles, groups, clients, APIs, upstream identity providers, audit log and policies. Every operation but this document needs ${tokenHow}. Errors are JSON \`{"error", "error_description"}\` (after RFC 6749 section 5.2). Lists answer a page at a time: \`?limit=\` and \`?cursor=\` (the \`next\` of the previous page; \`next\` is null on the last page).`,
    },
    servers: [{ url: `${issuer}/admin/api` }],
    tags: [...new Set(operations.map((operation) => tagOf(operation.path)))].map((name) => ({ name })),
    security: [{ bearer: [] }, { dpop: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: `A bearer token (RFC 6750): ${tokenHow}.` },
        dpop: {
          type: 'http',
          scheme: 'DPoP',
          description: `A DPoP-bound token (RFC 9449) with its proof in the \`DPoP\` header (\`htu\` is \`${issuer}/admin/api/...\`): ${tokenHow}.`,
        },
      },
      schemas,
      responses: Object.fromEntries(
        Object.values(errorResponses).map(({ name, description }) => [
          name,
          {
            description,
            content: { 'application/json': { schema: { $ref: schemaRef('Error') } } },
            ...(name === 'Unauthorized'
              ? { headers: { 'WWW-Authenticate': { schema: { type: 'string' } } } }
              : {}),
          },
        ]),
      ),
    },
    paths,
  };
}
