import { authzBatch, authzEvaluation, authzSearch } from './authz-scenarios.ts';
import {
  clientCredentialsEs256,
  clientCredentialsOpaque,
  clientCredentialsRs256,
  introspection,
} from './client-credentials-scenarios.ts';
import { discovery, jwks } from './metadata-scenarios.ts';
import type { Scenario } from './scenario.ts';
import { passwordSignIn, refresh, userinfo } from './user-token-scenarios.ts';

/** Every scenario, in the order the bench runs them. */
export const allScenarios: readonly Scenario[] = [
  discovery,
  jwks,
  clientCredentialsOpaque,
  clientCredentialsEs256,
  clientCredentialsRs256,
  introspection,
  refresh,
  userinfo,
  passwordSignIn,
  authzEvaluation,
  authzBatch,
  authzSearch,
];
