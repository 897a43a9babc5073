import type { Queryable } from '../db/pg-pool.ts';
import { findUnknownRoles } from './role-queries.ts';

export interface ClientRow {
  id: string;
  sealed_secret: string | null;
  metadata: Record<string, unknown>;
  first_party: boolean;
  mfa_required: boolean;
  /** APIs the client may get user access tokens for (table client_apis). */
  apis: string[];
  created_at: Date;
  updated_at: Date;
}

export interface ClientRecord {
  id: string;
  sealedSecret: string | null;
  metadata: Record<string, unknown>;
  firstParty: boolean;
}

const columns = `id, sealed_secret, metadata, first_party, mfa_required,
  ARRAY(SELECT api_identifier FROM client_apis a WHERE a.client_id = clients.id ORDER BY 1) AS apis,
  created_at, updated_at`;

export function createClientQueries(db: Queryable) {
  return {
    async insert(
      client: ClientRecord & { mfaRequired?: boolean | undefined },
      tx: Queryable = db,
    ): Promise<ClientRow> {
      const { rows } = await tx.query<ClientRow>(
        `INSERT INTO clients (id, sealed_secret, metadata, first_party, mfa_required) VALUES ($1, $2, $3, $4, $5)
         RETURNING ${columns}`,
        [client.id, client.sealedSecret, client.metadata, client.firstParty, client.mfaRequired ?? false],
      );
      return rows[0]!;
    },

    /** Gives a client roles (service-account roles, for its client_credentials tokens). */
    async addRoles(clientId: string, roleNames: readonly string[], tx: Queryable = db): Promise<void> {
      if (roleNames.length === 0) return;
      await tx.query(
        `INSERT INTO client_roles (client_id, role_name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
        [clientId, roleNames],
      );
    },

    /** Which of these role names are not roles (checked before writing, so the error can name one). */
    unknownRoles: (names: readonly string[]) => findUnknownRoles(db, names),

    /** Creates or replaces a client (Gatehouse's own first-party clients are written at every start). */
    async upsert(client: ClientRecord): Promise<void> {
      await db.query(
        `INSERT INTO clients (id, sealed_secret, metadata, first_party) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET sealed_secret = $2, metadata = $3, first_party = $4, updated_at = now()`,
        [client.id, client.sealedSecret, client.metadata, client.firstParty],
      );
    },

    async update(
      client: { id: string; metadata: Record<string, unknown>; firstParty: boolean },
      tx: Queryable = db,
    ): Promise<ClientRow | undefined> {
      const { rows } = await tx.query<ClientRow>(
        `UPDATE clients SET metadata = $2, first_party = $3, updated_at = now() WHERE id = $1 RETURNING ${columns}`,
        [client.id, client.metadata, client.firstParty],
      );
      return rows[0];
    },

    /** Replaces the APIs a client may get user access tokens for. */
    async setApis(clientId: string, apis: readonly string[], tx: Queryable = db): Promise<void> {
      await tx.query('DELETE FROM client_apis WHERE client_id = $1 AND NOT (api_identifier = ANY($2))', [
        clientId,
        apis,
      ]);
      if (apis.length > 0)
        await tx.query(
          `INSERT INTO client_apis (client_id, api_identifier) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
          [clientId, apis],
        );
    },

    /** Which of these API identifiers are not registered. */
    async unknownApis(identifiers: readonly string[]): Promise<string[]> {
      const { rows } = await db.query<{ identifier: string }>(
        'SELECT identifier FROM api_resources WHERE identifier = ANY($1)',
        [identifiers],
      );
      const known = new Set(rows.map((row) => row.identifier));
      return identifiers.filter((identifier) => !known.has(identifier));
    },

    async findById(id: string): Promise<ClientRow | undefined> {
      const { rows } = await db.query<ClientRow>(`SELECT ${columns} FROM clients WHERE id = $1`, [id]);
      return rows[0];
    },

    async list(): Promise<ClientRow[]> {
      const { rows } = await db.query<ClientRow>(`SELECT ${columns} FROM clients ORDER BY created_at, id`);
      return rows;
    },

    /** Replaces a confidential client's secret (sealed); undefined when there is no such client. */
    async setSealedSecret(id: string, sealedSecret: string): Promise<ClientRow | undefined> {
      const { rows } = await db.query<ClientRow>(
        `UPDATE clients SET sealed_secret = $2, updated_at = now() WHERE id = $1 RETURNING ${columns}`,
        [id, sealedSecret],
      );
      return rows[0];
    },

    async delete(id: string, tx: Queryable = db): Promise<boolean> {
      const { rowCount } = await tx.query('DELETE FROM clients WHERE id = $1', [id]);
      return (rowCount ?? 0) > 0;
    },
  };
}

export type ClientQueries = ReturnType<typeof createClientQueries>;
