import type { Queryable } from '../db/pg-pool.ts';

export interface ApiResourceRow {
  identifier: string;
  name: string | null;
  format: 'jwt' | 'opaque';
  access_token_ttl: number | null;
  builtin: boolean;
  permissions: string[];
  /** Permission → what it lets an application do, in words (only those described). */
  descriptions: Record<string, string>;
  /** Claims filled by a resource search at issuance (migration 017; `[]` when none). */
  search_claims: { name: string; action: string; type: string }[];
}

const withPermissions = `
  SELECT a.identifier, a.name, a.format, a.access_token_ttl, a.builtin, a.search_claims,
         COALESCE(array_agg(p.permission ORDER BY p.permission) FILTER (WHERE p.permission IS NOT NULL), '{}') AS permissions,
         COALESCE(jsonb_object_agg(p.permission, p.description) FILTER (WHERE p.description IS NOT NULL), '{}') AS descriptions
  FROM api_resources a LEFT JOIN api_permissions p ON p.api_identifier = a.identifier`;

/** APIs (resource servers) and the permissions each declares. */
export function createApiResourceQueries(db: Queryable) {
  return {
    async upsert(
      api: {
        identifier: string;
        name: string | null;
        format: 'jwt' | 'opaque';
        accessTokenTtl: number | null;
        builtin: boolean;
      },
      tx: Queryable = db,
    ): Promise<void> {
      await tx.query(
        `INSERT INTO api_resources (identifier, name, format, access_token_ttl, builtin) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (identifier) DO UPDATE SET name = $2, format = $3, access_token_ttl = $4, builtin = $5`,
        [api.identifier, api.name, api.format, api.accessTokenTtl, api.builtin],
      );
    },

    /** Declares permissions; a description given replaces the one kept, none keeps it. */
    async addPermissions(
      identifier: string,
      permissions: readonly string[],
      tx: Queryable = db,
      descriptions: Readonly<Record<string, string>> = {},
    ): Promise<void> {
      if (permissions.length === 0) return;
      await tx.query(
        `INSERT INTO api_permissions (api_identifier, permission, description)
         SELECT $1, p, d FROM unnest($2::text[], $3::text[]) AS t(p, d)
         ON CONFLICT (api_identifier, permission)
         DO UPDATE SET description = COALESCE(EXCLUDED.description, api_permissions.description)`,
        [identifier, permissions, permissions.map((permission) => descriptions[permission] ?? null)],
      );
    },

    /** Changes an API's name, token format or token lifetime; false when there is no such API. */
    async update(
      identifier: string,
      patch: { name?: string | null; format?: 'jwt' | 'opaque'; accessTokenTtl?: number | null },
      tx: Queryable = db,
    ): Promise<boolean> {
      const { rowCount } = await tx.query(
        `UPDATE api_resources SET
           name = CASE WHEN $2 THEN $3 ELSE name END,
           format = COALESCE($4, format),
           access_token_ttl = CASE WHEN $5 THEN $6 ELSE access_token_ttl END
         WHERE identifier = $1`,
        [
          identifier,
          patch.name !== undefined,
          patch.name ?? null,
          patch.format ?? null,
          patch.accessTokenTtl !== undefined,
          patch.accessTokenTtl ?? null,
        ],
      );
      return (rowCount ?? 0) > 0;
    },

    /** Withdraws permissions the API declared (roles keep holding the strings; tokens for the API stop carrying them). */
    async removePermissions(
      identifier: string,
      permissions: readonly string[],
      tx: Queryable = db,
    ): Promise<void> {
      if (permissions.length === 0) return;
      await tx.query(
        'DELETE FROM api_permissions WHERE api_identifier = $1 AND permission = ANY($2::text[])',
        [identifier, permissions],
      );
    },

    /** Replaces the API's search claims (validated by the caller). */
    async setSearchClaims(
      identifier: string,
      claims: readonly { name: string; action: string; type: string }[],
      tx: Queryable = db,
    ): Promise<void> {
      await tx.query('UPDATE api_resources SET search_claims = $2::jsonb WHERE identifier = $1', [
        identifier,
        JSON.stringify(claims),
      ]);
    },

    async find(identifier: string): Promise<ApiResourceRow | undefined> {
      const { rows } = await db.query<ApiResourceRow>(
        `${withPermissions} WHERE a.identifier = $1 GROUP BY a.identifier`,
        [identifier],
      );
      return rows[0];
    },

    async list(): Promise<ApiResourceRow[]> {
      const { rows } = await db.query<ApiResourceRow>(
        `${withPermissions} GROUP BY a.identifier ORDER BY a.identifier`,
      );
      return rows;
    },

    async delete(identifier: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM api_resources WHERE identifier = $1 AND NOT builtin', [
        identifier,
      ]);
      return (rowCount ?? 0) > 0;
    },
  };
}

export type ApiResourceQueries = ReturnType<typeof createApiResourceQueries>;
