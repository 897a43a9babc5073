import type { z } from 'zod';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** Error statuses an operation can answer with `{error, error_description}` besides those every one has. */
export type ErrorStatus = 400 | 404 | 409 | 413;

/**
 * One operation of the admin API, written next to the routes it describes (openapi-*-operations.ts): the document
 * is generated from these and from the zod schemas the routes validate with, and test/integration/openapi.test.ts
 * checks that the router serves exactly the documented operations. A module that adds routes adds its list to
 * `adminApiOperations` below.
 */
export interface AdminOperation {
  method: HttpMethod;
  /** The path under `/admin/api`, with `{name}` for a path parameter (the router's `:name`). */
  path: string;
  /** Unique in the document; camelCase, a verb first. */
  operationId: string;
  summary: string;
  description?: string;
  /** The permission the access token needs; null: none (the document itself). */
  permission: 'admin:read' | 'admin:write' | null;
  /** Path parameters that are more than any string (a schema per name); the others are strings. */
  params?: z.ZodObject;
  /** The query parameters, the schema `readQuery` validates them with. */
  query?: z.ZodObject;
  /** The JSON request body, the schema `readJson` validates it with. */
  body?: z.ZodType;
  /** The success status: 200 (default), 201 for a creation, 204 for none. */
  status?: 200 | 201 | 204;
  /** What a success answers (none with 204): a schema of response-schemas.ts. */
  response?: z.ZodType;
  /**
   * Error statuses beyond what the shape implies (400 with a body or query; 404 with a path parameter; 409 with
   * 201; 413 with a body): a 400 of a path parameter or of a rule the library checks, a 409 of an update.
   */
  errors?: readonly ErrorStatus[];
}
