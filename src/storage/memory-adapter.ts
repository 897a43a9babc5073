import type { Adapter, AdapterPayload } from 'oidc-provider';
import { grantableModels, retentionAfterExpirySeconds } from './model-names.ts';

interface Entry {
  payload: AdapterPayload;
  consumed?: number;
  expiresAt: number;
}

/**
 * Shared state of the in-memory store: what Redis holds in production, for a first run with nothing installed.
 * One store serves every model, like one Redis does.
 */
export interface MemoryStore {
  entries: Map<string, Entry>;
  grants: Map<string, Set<string>>;
  pointers: Map<string, { id: string; expiresAt: number }>;
  /** Drops expired entries; called on a timer so memory stays bounded. */
  sweep(now?: number): void;
}

export function createMemoryStore(): MemoryStore {
  const entries = new Map<string, Entry>();
  const grants = new Map<string, Set<string>>();
  const pointers = new Map<string, { id: string; expiresAt: number }>();
  return {
    entries,
    grants,
    pointers,
    sweep(now = Date.now()) {
      for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
      for (const [key, pointer] of pointers) if (pointer.expiresAt <= now) pointers.delete(key);
      for (const [key, members] of grants) {
        for (const member of members) if (!entries.has(member)) members.delete(member);
        if (members.size === 0) grants.delete(key);
      }
    },
  };
}

/** oidc-provider adapter on the in-memory store, with the same semantics as the Redis adapter. */
export function createMemoryAdapter(
  model: string,
  store: MemoryStore,
  {
    fallbackTtlSeconds,
    retention = retentionAfterExpirySeconds,
  }: { fallbackTtlSeconds: number; retention?: (model: string) => number },
): Adapter {
  const key = (id: string) => `${model}:${id}`;
  const grantKey = (grantId: string) => `${model}:grant:${grantId}`;

  function live(entryKey: string): Entry | undefined {
    const entry = store.entries.get(entryKey);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.entries.delete(entryKey);
      return undefined;
    }
    return entry;
  }

  function find(id: string): AdapterPayload | undefined {
    const entry = live(key(id));
    if (!entry) return undefined;
    // A copy, as Redis would hand back: callers must not mutate what is stored.
    const payload = structuredClone(entry.payload);
    if (entry.consumed !== undefined) payload.consumed = entry.consumed;
    return payload;
  }

  function findByPointer(pointerKey: string): AdapterPayload | undefined {
    const pointer = store.pointers.get(pointerKey);
    if (!pointer || pointer.expiresAt <= Date.now()) return undefined;
    return find(pointer.id);
  }

  return {
    async upsert(id, payload, expiresIn) {
      const ttl = Math.max(1, Math.ceil(expiresIn ?? fallbackTtlSeconds)) + retention(model);
      const expiresAt = Date.now() + ttl * 1000;
      store.entries.set(key(id), { payload: structuredClone(payload), expiresAt });
      if (grantableModels.has(model) && payload.grantId) {
        const members = store.grants.get(grantKey(payload.grantId)) ?? new Set();
        members.add(key(id));
        store.grants.set(grantKey(payload.grantId), members);
      }
      if (payload.uid) store.pointers.set(`uid:${payload.uid}`, { id, expiresAt });
      if (payload.userCode) store.pointers.set(`userCode:${payload.userCode}`, { id, expiresAt });
    },
    async find(id) {
      return find(id);
    },
    async findByUid(uid) {
      return findByPointer(`uid:${uid}`);
    },
    async findByUserCode(userCode) {
      return findByPointer(`userCode:${userCode}`);
    },
    async consume(id) {
      const entry = live(key(id));
      if (entry && entry.consumed === undefined) entry.consumed = Math.floor(Date.now() / 1000);
    },
    async destroy(id) {
      store.entries.delete(key(id));
    },
    async revokeByGrantId(grantId) {
      for (const member of store.grants.get(grantKey(grantId)) ?? []) store.entries.delete(member);
      store.grants.delete(grantKey(grantId));
    },
  };
}
