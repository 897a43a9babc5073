import type { Adapter, AdapterPayload } from 'oidc-provider';
import { isStorableText } from '../db/text-safety.ts';
import type { OidcModelQueries } from '../queries/oidc-model-queries.ts';

export interface PostgresAdapterOptions {
  queries: OidcModelQueries;
  /**
   * RefreshToken only: a token consumed less than this many seconds ago is returned as not yet consumed, so a
   * client's concurrent refreshes both get an answer instead of the second one revoking the whole grant as a
   * replay (the approach of Logto's `queries/oidc-model-instance.ts`, 3 s there).
   */
  reuseGraceSeconds: number;
  /** Every id of the model has this length (see `refreshTokenIdLength`): others are not looked up at all. */
  idLength?: number;
}

class NotApplicable extends Error {
  override name = 'NotApplicable';
}

/** oidc-provider adapter for the durable models (Grant, RefreshToken) in Postgres. */
export function createPostgresAdapter(
  model: string,
  { queries, reuseGraceSeconds, idLength }: PostgresAdapterOptions,
): Adapter {
  const graceMs = model === 'RefreshToken' ? reuseGraceSeconds * 1000 : 0;
  const couldBeStored = (id: string) =>
    isStorableText(id) && (idLength === undefined || id.length === idLength);

  return {
    async upsert(id, payload, expiresIn) {
      await queries.upsert({
        model,
        id,
        payload: payload as Record<string, unknown>,
        grantId: payload.grantId ?? null,
        accountId: payload.accountId ?? null,
        // No lifetime is "keep until revoked" (grants); a zero or sub-second one is one second, as in the other
        // stores, never "forever" (which a falsy check once made it).
        expiresAt:
          expiresIn === undefined || expiresIn === null
            ? null
            : new Date(Date.now() + Math.max(1, Math.ceil(expiresIn)) * 1000),
      });
    },

    async find(id) {
      if (!couldBeStored(id)) return undefined;
      const row = await queries.find(model, id);
      if (!row) return undefined;
      const payload = row.payload as AdapterPayload;
      if (row.consumed_at && Date.now() - row.consumed_at.getTime() >= graceMs) {
        payload.consumed = Math.floor(row.consumed_at.getTime() / 1000);
      }
      return payload;
    },

    // Sessions and device codes are hot state and never stored here.
    async findByUid() {
      throw new NotApplicable(`${model} is not looked up by uid`);
    },
    async findByUserCode() {
      throw new NotApplicable(`${model} is not looked up by user code`);
    },

    async consume(id) {
      if (couldBeStored(id)) await queries.consume(model, id);
    },
    async destroy(id) {
      if (couldBeStored(id)) await queries.destroy(model, id);
    },
    async revokeByGrantId(grantId) {
      if (isStorableText(grantId)) await queries.revokeByGrantId(model, grantId);
    },
  };
}
