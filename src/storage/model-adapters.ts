import type { Adapter } from 'oidc-provider';
import type { RequestInfoScope } from './request-info.ts';
import { isStorableText } from '../db/text-safety.ts';
import { guardAdapter } from './guarded-adapter.ts';
import type { OidcModelQueries } from '../queries/oidc-model-queries.ts';
import type { SessionQueries } from '../queries/session-queries.ts';
import type { HotState } from './hot-state.ts';
import { durableModels, refreshTokenIdLength } from './model-names.ts';
import { createPostgresAdapter } from './postgres-adapter.ts';
import { withSessionLedger } from './session-ledger.ts';

export interface ModelAdapterDeps {
  hotState: HotState;
  oidcModels: OidcModelQueries;
  sessions: SessionQueries;
  requestInfo: RequestInfoScope;
  reuseGraceSeconds: number;
  /** The refresh token the current request rotates (the family of the one being saved; see postgres-adapter). */
  rotatedRefreshToken: () => string | undefined;
  /** Client metadata as oidc-provider reads it (Gatehouse's clients table). */
  findClient: (id: string) => Promise<Record<string, unknown> | undefined>;
}

/**
 * Where each oidc-provider model is stored: Client from Gatehouse's clients table (read only), Grant and
 * RefreshToken in Postgres, Session in the hot store plus the session ledger, everything else in the hot store.
 * Every adapter turns storage outages into 503s.
 */
export function createModelAdapters(deps: ModelAdapterDeps): (model: string) => Adapter {
  const adapters = new Map<string, Adapter>();

  const clientAdapter: Adapter = {
    find: async (id) =>
      (isStorableText(id) && id.length <= 128 ? await deps.findClient(id) : undefined) as Awaited<
        ReturnType<Adapter['find']>
      >,
    upsert: async () => {
      throw new Error('clients are registered through gatehouse, not oidc-provider');
    },
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    consume: async () => undefined,
    destroy: async () => undefined,
    revokeByGrantId: async () => undefined,
  };

  function build(model: string): Adapter {
    if (model === 'Client') return clientAdapter;
    if (durableModels.has(model)) {
      return createPostgresAdapter(model, {
        queries: deps.oidcModels,
        reuseGraceSeconds: deps.reuseGraceSeconds,
        ...(model === 'RefreshToken'
          ? { idLength: refreshTokenIdLength, rotatedFrom: deps.rotatedRefreshToken }
          : {}),
      });
    }
    const hot = deps.hotState.adapterFor(model);
    return model === 'Session'
      ? withSessionLedger(hot, { queries: deps.sessions, requestInfo: deps.requestInfo })
      : hot;
  }

  return (model) => {
    let adapter = adapters.get(model);
    if (!adapter) {
      adapter = guardAdapter(build(model));
      adapters.set(model, adapter);
    }
    return adapter;
  };
}
