import type { Queryable } from '../db/pg-pool.ts';

export interface ResourceRef {
  type: string;
  id: string;
}

export interface ResourceRow {
  type: string;
  id: string;
  /** Cedar entity JSON values by name. */
  attributes: Record<string, unknown>;
  parents: ResourceRef[];
  /** Relation name → the users (`user`, by sub) and groups (`group`, by name) holding it. */
  relations: Record<string, ResourceRef[]>;
}

export interface NewResource {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  parents: readonly ResourceRef[];
}

/** A resource's columns with its parents and relation sets folded in (`r` is the authz_resources row). */
const resourceColumns = `r.type, r.id, r.attributes,
  COALESCE((SELECT jsonb_agg(jsonb_build_object('type', p.parent_type, 'id', p.parent_id)
                             ORDER BY p.parent_type, p.parent_id)
            FROM authz_resource_parents p WHERE p.type = r.type AND p.id = r.id), '[]'::jsonb) AS parents,
  COALESCE((SELECT jsonb_object_agg(grants.relation, grants.holders) FROM (
              SELECT rr.relation, jsonb_agg(
                       CASE WHEN rr.account_id IS NOT NULL
                            THEN jsonb_build_object('type', 'user', 'id', rr.account_id)
                            ELSE jsonb_build_object('type', 'group', 'id', rr.group_name) END
                       ORDER BY rr.account_id NULLS LAST, rr.group_name) AS holders
              FROM authz_resource_relations rr WHERE rr.type = r.type AND rr.id = r.id
              GROUP BY rr.relation) AS grants), '{}'::jsonb) AS relations`;

/** How far up a chain of parents an evaluation loads stored resources (a cycle of parents cannot loop). */
export const maxAncestorDepth = 32;

/** Resources the policy decision point knows, their parents and relation sets (migration 014). */
export function createResourceQueries(db: Queryable) {
  return {
    /** Inserts or replaces a resource's attributes and parents; its relation sets are kept. */
    async upsert(resource: NewResource, tx: Queryable = db): Promise<void> {
      await tx.query(
        `INSERT INTO authz_resources (type, id, attributes) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (type, id) DO UPDATE SET attributes = EXCLUDED.attributes, updated_at = now()`,
        [resource.type, resource.id, JSON.stringify(resource.attributes)],
      );
      await tx.query('DELETE FROM authz_resource_parents WHERE type = $1 AND id = $2', [
        resource.type,
        resource.id,
      ]);
      if (resource.parents.length > 0)
        await tx.query(
          `INSERT INTO authz_resource_parents (type, id, parent_type, parent_id)
           SELECT $1, $2, parent.type, parent.id FROM unnest($3::text[], $4::text[]) AS parent(type, id)
           ON CONFLICT DO NOTHING`,
          [
            resource.type,
            resource.id,
            resource.parents.map((parent) => parent.type),
            resource.parents.map((parent) => parent.id),
          ],
        );
    },

    async delete(type: string, id: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM authz_resources WHERE type = $1 AND id = $2', [
        type,
        id,
      ]);
      return (rowCount ?? 0) > 0;
    },

    async find(type: string, id: string): Promise<ResourceRow | undefined> {
      const { rows } = await db.query<ResourceRow>(
        `SELECT ${resourceColumns} FROM authz_resources r WHERE r.type = $1 AND r.id = $2`,
        [type, id],
      );
      return rows[0];
    },

    /**
     * A resource and every stored resource above it (its parents, theirs, ...), for one evaluation: Cedar needs the
     * ancestors' own parents to answer `resource in folder::"top"`, and their attributes for `resource.parent.x`.
     * Empty when the resource is not stored.
     */
    async findWithAncestors(type: string, id: string): Promise<ResourceRow[]> {
      const { rows } = await db.query<ResourceRow>(
        `WITH RECURSIVE chain(type, id, depth) AS (
           SELECT $1::text, $2::text, 0
           UNION
           SELECT p.parent_type, p.parent_id, c.depth + 1
           FROM authz_resource_parents p JOIN chain c ON p.type = c.type AND p.id = c.id
           WHERE c.depth < ${String(maxAncestorDepth)}
         )
         SELECT ${resourceColumns}
         FROM (SELECT DISTINCT type, id FROM chain) AS c JOIN authz_resources r ON r.type = c.type AND r.id = c.id`,
        [type, id],
      );
      return rows;
    },

    /**
     * One page of the resources of a type (id order after `afterId`, as {@link idsByType}) with every stored resource
     * above them, in one statement: what {@link findWithAncestors} loads for each, for a whole page of search
     * candidates at once (a search over 10,000 resources made 10,000 round trips before). `ids` are the page's ids
     * in order; `rows` the page's resources and their ancestors, each once.
     *
     * The page is a range of `authz_resources_type_id_c_idx` (migration 019: it sorted every resource of the type
     * before), and the rows, parents and relation sets of the nodes the walk reaches are lookups per node (`OFFSET
     * 0` keeps the planner from turning them into hash joins that read whole tables: at 10,000 resources that was
     * most of a search's time). The walk itself is a plain join the planner may hash: a lookup per step would be
     * estimated so high (ten rounds of the page's size) that the statement crossed `jit_above_cost`, and compiling
     * it took longer than running it.
     */
    async pageWithAncestors(
      type: string,
      limit: number,
      afterId?: string,
    ): Promise<{ ids: string[]; rows: ResourceRow[] }> {
      const { rows } = await db.query<ResourceRow & { position: string | null }>(
        `WITH RECURSIVE page AS MATERIALIZED (
           SELECT r.id, row_number() OVER (ORDER BY r.id COLLATE "C") AS position
           FROM authz_resources r
           WHERE r.type = $1 AND ($3::text IS NULL OR r.id COLLATE "C" > $3 COLLATE "C")
           ORDER BY r.id COLLATE "C" LIMIT $2
         ),
         chain(type, id, depth) AS (
           SELECT $1::text, page.id, 0 FROM page
           UNION
           SELECT p.parent_type, p.parent_id, c.depth + 1
           FROM authz_resource_parents p JOIN chain c ON p.type = c.type AND p.id = c.id
           WHERE c.depth < ${String(maxAncestorDepth)}
         ),
         nodes AS MATERIALIZED (SELECT DISTINCT type, id FROM chain)
         SELECT ${resourceColumns}, page.position
         FROM nodes n
         CROSS JOIN LATERAL (SELECT * FROM authz_resources WHERE type = n.type AND id = n.id OFFSET 0) r
         LEFT JOIN page ON n.type = $1 AND page.id = n.id`,
        [type, limit, afterId ?? null],
      );
      const ids = rows
        .filter((row) => row.position !== null)
        .sort((a, b) => Number(a.position) - Number(b.position))
        .map((row) => row.id);
      return { ids, rows: rows.map(({ position: _position, ...row }) => row) };
    },

    /** One page of the resources of a type, in id order after `afterId` (a keyset: stable while rows change). */
    async listByType(type: string, limit: number, afterId?: string): Promise<ResourceRow[]> {
      const { rows } = await db.query<ResourceRow>(
        `SELECT ${resourceColumns} FROM authz_resources r
         WHERE r.type = $1 AND ($3::text IS NULL OR r.id COLLATE "C" > $3 COLLATE "C")
         ORDER BY r.id COLLATE "C" LIMIT $2`,
        [type, limit, afterId ?? null],
      );
      return rows;
    },

    /** Only the ids of one page (for searches, which evaluate each). */
    async idsByType(type: string, limit: number, afterId?: string): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(
        `SELECT id FROM authz_resources
         WHERE type = $1 AND ($3::text IS NULL OR id COLLATE "C" > $3 COLLATE "C")
         ORDER BY id COLLATE "C" LIMIT $2`,
        [type, limit, afterId ?? null],
      );
      return rows.map((row) => row.id);
    },

    /** Grants a relation on a resource to an account or a group. False when it already held it. */
    async share(
      resource: ResourceRef,
      relation: string,
      holder: { accountId: string } | { groupName: string },
    ): Promise<boolean> {
      const { rowCount } = await db.query(
        `INSERT INTO authz_resource_relations (type, id, relation, account_id, group_name)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [
          resource.type,
          resource.id,
          relation,
          'accountId' in holder ? holder.accountId : null,
          'groupName' in holder ? holder.groupName : null,
        ],
      );
      return (rowCount ?? 0) > 0;
    },

    async unshare(
      resource: ResourceRef,
      relation: string,
      holder: { accountId: string } | { groupName: string },
    ): Promise<boolean> {
      const { rowCount } = await db.query(
        `DELETE FROM authz_resource_relations
         WHERE type = $1 AND id = $2 AND relation = $3
           AND (account_id = $4 OR group_name = $5)`,
        [
          resource.type,
          resource.id,
          relation,
          'accountId' in holder ? holder.accountId : null,
          'groupName' in holder ? holder.groupName : null,
        ],
      );
      return (rowCount ?? 0) > 0;
    },
  };
}

export type ResourceQueries = ReturnType<typeof createResourceQueries>;
