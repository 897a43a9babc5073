import { withTransaction, type Pool } from '../../db/pg-pool.ts';
import { invalidRequest, notFound } from '../../errors/app-error.ts';
import type { PolicyQueries } from '../../queries/policy-queries.ts';
import type { AuditLog } from '../audit.ts';
import { compilePolicySet, type CompiledPolicySet } from './policy-set.ts';

/** The active policy set as `policy get` shows it (version 0, empty, when none was ever stored). */
export interface PolicySetVersion {
  version: number;
  text: string;
  schema: string | null;
}

export interface PolicyHistoryEntry {
  version: number;
  createdAt: string;
  createdBy: string;
  /** The version this one restored (`policy rollback`), else null. */
  restoredFrom: number | null;
  active: boolean;
}

/** The active set, compiled: what a decision evaluates. */
export interface ActivePolicySet extends CompiledPolicySet {
  version: number;
}

const historyLimit = 1000;

/**
 * The Cedar policy set: versioned in Postgres (every version kept, with who made it and when, and an audit event),
 * validated before it becomes active, replaced atomically (one row added), rolled back by adding a copy of an
 * older version. Every process reads the active version through the config cache (area `policies`), which the
 * trigger of migration 014 invalidates everywhere at once.
 */
export function createPolicyLibrary(deps: { pool: Pool; queries: PolicyQueries; audit: AuditLog }) {
  const { pool, queries, audit } = deps;
  // The compiled form of the last active version read, so a decision parses nothing while the version stays.
  let compiled: ActivePolicySet | undefined;

  async function store(
    entry: { text: string; schema: string | null; restoredFrom: number | null },
    actor: string,
  ): Promise<PolicySetVersion & { policies: string[] }> {
    // Parsed and validated before anything is written: a bad set changes nothing.
    const checked = compilePolicySet(entry.text, entry.schema);
    const version = await withTransaction(pool, (tx) => queries.insert({ ...entry, createdBy: actor }, tx));
    await audit.record('policy.changed', {
      actor,
      details: {
        action: entry.restoredFrom === null ? 'policy.set' : 'policy.rollback',
        version,
        ...(entry.restoredFrom === null ? {} : { restoredFrom: entry.restoredFrom }),
        policies: checked.ids,
        schema: entry.schema !== null,
      },
    });
    return { version, text: entry.text, schema: entry.schema, policies: checked.ids };
  }

  return {
    /** Validates `text` (against `schema` when given) and makes it the active set. */
    set: (text: string, schema: string | null, actor: string) =>
      store({ text, schema, restoredFrom: null }, actor),

    /** Makes an older version's text and schema active again, as a new version (history stays linear). */
    async rollback(version: number, actor: string) {
      if (!Number.isSafeInteger(version) || version < 1)
        throw invalidRequest(`${String(version)} is not a policy set version (1, 2, ...)`, 'version');
      const old = await queries.find(version);
      if (!old) throw notFound(`no policy set version ${String(version)}`);
      return store({ text: old.text, schema: old.schema, restoredFrom: version }, actor);
    },

    async get(): Promise<PolicySetVersion> {
      const row = await queries.active();
      return row
        ? { version: row.version, text: row.text, schema: row.schema }
        : { version: 0, text: '', schema: null };
    },

    async getVersion(version: number): Promise<PolicySetVersion> {
      const row = await queries.find(version);
      if (!row) throw notFound(`no policy set version ${String(version)}`);
      return { version: row.version, text: row.text, schema: row.schema };
    },

    async history(): Promise<PolicyHistoryEntry[]> {
      const rows = await queries.history(historyLimit);
      return rows.map((row, index) => ({
        version: row.version,
        createdAt: row.created_at.toISOString(),
        createdBy: row.created_by,
        restoredFrom: row.restored_from,
        active: index === 0,
      }));
    },

    /** The active set, compiled once per version (version 0 and no policy when none was stored). */
    async active(): Promise<ActivePolicySet> {
      const row = await queries.active();
      const version = row?.version ?? 0;
      if (compiled?.version === version) return compiled;
      // A stored set was valid when written; it is compiled again without its schema (validation is done).
      const next = row
        ? { version, ...compilePolicySet(row.text, null) }
        : { version, policies: {}, ids: [] };
      if (!compiled || version > compiled.version || row === undefined) compiled = next;
      return next;
    },
  };
}

export type PolicyLibrary = ReturnType<typeof createPolicyLibrary>;
