import type { Queryable } from '../db/pg-pool.ts';

export interface ClientRow {
  id: string;
  sealed_secret: string | null;
  metadata: Record<string, unknown>;
  first_party: boolean;
  mfa_required: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface ClientRecord {
  id: string;
  sealedSecret: string | null;
  metadata: Record<string, unknown>;
  firstParty: boolean;
}

const columns = 'id, sealed_secret, metadata, first_party, mfa_required, created_at, updated_at';

export function createClientQueries(db: Queryable) {
  return {
    async insert(client: ClientRecord, tx: Queryable = db): Promise<ClientRow> {
      const { rows } = await tx.query<ClientRow>(
        `INSERT INTO clients (id, sealed_secret, metadata, first_party) VALUES ($1, $2, $3, $4) RETURNING ${columns}`,
        [client.id, client.sealedSecret, client.metadata, client.firstParty],
      );
      return rows[0]!;
    },

    /** Creates or replaces a client (Gatehouse's own first-party clients are written at every start). */
    async upsert(client: ClientRecord): Promise<void> {
      await db.query(
        `INSERT INTO clients (id, sealed_secret, metadata, first_party) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET sealed_secret = $2, metadata = $3, first_party = $4, updated_at = now()`,
        [client.id, client.sealedSecret, client.metadata, client.firstParty],
      );
    },

    async update(client: {
      id: string;
      metadata: Record<string, unknown>;
      firstParty: boolean;
    }): Promise<ClientRow | undefined> {
      const { rows } = await db.query<ClientRow>(
        `UPDATE clients SET metadata = $2, first_party = $3, updated_at = now() WHERE id = $1 RETURNING ${columns}`,
        [client.id, client.metadata, client.firstParty],
      );
      return rows[0];
    },

    async findById(id: string): Promise<ClientRow | undefined> {
      const { rows } = await db.query<ClientRow>(`SELECT ${columns} FROM clients WHERE id = $1`, [id]);
      return rows[0];
    },

    async list(): Promise<ClientRow[]> {
      const { rows } = await db.query<ClientRow>(`SELECT ${columns} FROM clients ORDER BY created_at, id`);
      return rows;
    },

    async delete(id: string, tx: Queryable = db): Promise<boolean> {
      const { rowCount } = await tx.query('DELETE FROM clients WHERE id = $1', [id]);
      return (rowCount ?? 0) > 0;
    },
  };
}

export type ClientQueries = ReturnType<typeof createClientQueries>;
