import type { Pool } from '../../db/pg-pool.ts';
import type { Queries } from '../../queries/create-queries.ts';
import type { AuditLog } from '../audit.ts';
import { createDecisionLibrary } from './decisions.ts';
import { createPolicyLibrary } from './policies.ts';
import { createResourceLibrary } from './resources.ts';
import { createSearchLibrary } from './search.ts';

/**
 * The policy decision point (issue 14): the Cedar policy set (`policies`), the resources it knows (`resources`),
 * and decisions over both and the directory (`decisions`), and searches over decisions (`search`). Built by createLibraries for the server and the CLI.
 */
export function createAuthzLibraries(deps: { pool: Pool; queries: Queries; audit: AuditLog }) {
  const { pool, queries, audit } = deps;
  const policies = createPolicyLibrary({ pool, queries: queries.policies, audit });
  const resources = createResourceLibrary({
    pool,
    queries: queries.resources,
    accounts: queries.accounts,
    groups: queries.groups,
    audit,
  });
  const decisions = createDecisionLibrary({
    policies,
    accounts: queries.accounts,
    roles: queries.roles,
    directory: queries.authzDirectory,
    resources: queries.resources,
  });
  // AuthZEN's subject, resource and action searches, over the decisions above.
  const search = createSearchLibrary({
    decisions,
    resourceRows: queries.resources,
    policies,
    accounts: queries.accounts,
    roles: queries.roles,
  });
  return { policies, resources, decisions, search };
}

export type AuthzLibraries = ReturnType<typeof createAuthzLibraries>;
