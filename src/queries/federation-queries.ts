import type { Queryable } from '../db/pg-pool.ts';

export interface IdentityProviderRow {
  id: string;
  type: 'oidc' | 'github' | 'google';
  name: string;
  issuer: string;
  client_id: string;
  sealed_client_secret: string;
  scope: string;
  enabled: boolean;
  link_policy: 'confirm' | 'auto' | 'never';
  trust_email: boolean;
  role_rules: { claim: string; value: string; role: string }[];
  created_at: Date;
}

export interface LinkedIdentityRow {
  idp_id: string;
  subject: string;
  account_id: string;
  email: string | null;
  created_at: Date;
  last_used_at: Date;
}

const providerColumns =
  'id, type, name, issuer, client_id, sealed_client_secret, scope, enabled, link_policy, trust_email, role_rules, created_at';

/** Upstream identity providers and the identities linked to accounts. */
export function createFederationQueries(db: Queryable) {
  return {
    async insertProvider(row: Omit<IdentityProviderRow, 'created_at' | 'enabled'>): Promise<void> {
      await db.query(
        `INSERT INTO identity_providers (id, type, name, issuer, client_id, sealed_client_secret, scope, link_policy, trust_email, role_rules)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          row.id,
          row.type,
          row.name,
          row.issuer,
          row.client_id,
          row.sealed_client_secret,
          row.scope,
          row.link_policy,
          row.trust_email,
          JSON.stringify(row.role_rules),
        ],
      );
    },

    async findProvider(id: string): Promise<IdentityProviderRow | undefined> {
      const { rows } = await db.query<IdentityProviderRow>(
        `SELECT ${providerColumns} FROM identity_providers WHERE id = $1`,
        [id],
      );
      return rows[0];
    },

    async listProviders(enabledOnly = false): Promise<IdentityProviderRow[]> {
      const { rows } = await db.query<IdentityProviderRow>(
        `SELECT ${providerColumns} FROM identity_providers ${enabledOnly ? 'WHERE enabled' : ''} ORDER BY name, id`,
      );
      return rows;
    },

    /** Changes an upstream's settings; a field left undefined is kept. False when there is no such upstream. */
    async updateProvider(
      id: string,
      patch: Partial<
        Pick<IdentityProviderRow, 'name' | 'issuer' | 'client_id' | 'sealed_client_secret' | 'scope'>
      >,
    ): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE identity_providers SET
           name = COALESCE($2, name), issuer = COALESCE($3, issuer), client_id = COALESCE($4, client_id),
           sealed_client_secret = COALESCE($5, sealed_client_secret), scope = COALESCE($6, scope)
         WHERE id = $1`,
        [
          id,
          patch.name ?? null,
          patch.issuer ?? null,
          patch.client_id ?? null,
          patch.sealed_client_secret ?? null,
          patch.scope ?? null,
        ],
      );
      return (rowCount ?? 0) > 0;
    },

    async deleteProvider(id: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM identity_providers WHERE id = $1', [id]);
      return (rowCount ?? 0) > 0;
    },

    async findLink(idpId: string, subject: string): Promise<LinkedIdentityRow | undefined> {
      const { rows } = await db.query<LinkedIdentityRow>(
        'UPDATE linked_identities SET last_used_at = now() WHERE idp_id = $1 AND subject = $2 RETURNING *',
        [idpId, subject],
      );
      return rows[0];
    },

    async insertLink(
      link: { idpId: string; subject: string; accountId: string; email: string | null },
      tx: Queryable = db,
    ): Promise<void> {
      await tx.query(
        'INSERT INTO linked_identities (idp_id, subject, account_id, email) VALUES ($1, $2, $3, $4)',
        [link.idpId, link.subject, link.accountId, link.email],
      );
    },

    async linksOf(accountId: string): Promise<LinkedIdentityRow[]> {
      const { rows } = await db.query<LinkedIdentityRow>(
        'SELECT * FROM linked_identities WHERE account_id = $1 ORDER BY created_at',
        [accountId],
      );
      return rows;
    },

    async deleteLink(accountId: string, idpId: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'DELETE FROM linked_identities WHERE account_id = $1 AND idp_id = $2',
        [accountId, idpId],
      );
      return (rowCount ?? 0) > 0;
    },
  };
}

export type FederationQueries = ReturnType<typeof createFederationQueries>;
