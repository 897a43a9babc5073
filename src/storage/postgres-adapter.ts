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
  /**
   * RefreshToken only: the id of the token the one being saved was rotated from (the server passes
   * `rotatedRefreshTokenOfRequest` of `src/oidc/provider-internals.ts`); none by default.
   */
  rotatedFrom?: () => string | undefined;
}

class NotApplicable extends Error {
  override name = 'NotApplicable';
}

/**
 * oidc-provider adapter for the durable models (Grant, RefreshToken) in Postgres.
 *
 * Refresh tokens rotate (`rotateRefreshToken`), and a token presented again after its rotation is reuse: oidc-provider's
 * refresh_token grant sees `consumed` and revokes the whole grant (RFC 9700 section 4.14.2, refresh token rotation:
 * the authorization server detects the reuse of an invalidated token and revokes the active one). The reuse grace
 * hides `consumed` for a few seconds so that a client whose response was lost, or that refreshed twice at once, still
 * gets an answer; but each such answer mints another successor. Left alone, two successors of one token would be two
 * independent chains, and an attacker racing the client with a stolen token within the grace would keep one.
 *
 * So the successors of one token are one family, and only one member of it may ever be used: each RefreshToken row
 * records the token it was rotated from (`rotated_from`), and the first successor consumed is recorded on the parent
 * (`successor_id`, set once). From then on:
 * - any other successor is answered as consumed, whatever the grace: presenting it is reuse, and oidc-provider
 *   revokes the grant, which ends the winning chain too (both chains die, as RFC 9700 section 4.14.2 wants when the
 *   attacker and the client both use one stolen token);
 * - a token rotated from such a dead successor is stored dead (`superseded_at`), so two concurrent refreshes of
 *   siblings cannot both extend a chain;
 * - the parent itself is answered as consumed even within its grace: the grace is for a successor nobody has used
 *   yet (a lost response), and a successor that has been used proves the parent's holder is not that client.
 * Answering the same successor twice (idempotent rotation) is not possible: oidc-provider stores no successor value
 * in clear, and a fresh one is minted on every answer.
 */
export function createPostgresAdapter(
  model: string,
  { queries, reuseGraceSeconds, idLength, rotatedFrom = () => undefined }: PostgresAdapterOptions,
): Adapter {
  const refreshTokens = model === 'RefreshToken';
  const graceMs = refreshTokens ? reuseGraceSeconds * 1000 : 0;
  const couldBeStored = (id: string) =>
    isStorableText(id) && (idLength === undefined || id.length === idLength);
  const parentOf = (id: string): string | null => {
    const parent = rotatedFrom();
    return parent !== undefined && parent !== id && couldBeStored(parent) ? parent : null;
  };

  return {
    async upsert(id, payload, expiresIn) {
      await queries.upsert({
        model,
        id,
        payload: payload as Record<string, unknown>,
        grantId: payload.grantId ?? null,
        accountId: payload.accountId ?? null,
        rotatedFrom: refreshTokens ? parentOf(id) : null,
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
      if (row.superseded) {
        payload.consumed = Math.floor((row.consumed_at ?? new Date()).getTime() / 1000);
      } else if (
        row.consumed_at &&
        (Boolean(row.successor_id) || Date.now() - row.consumed_at.getTime() >= graceMs)
      ) {
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
