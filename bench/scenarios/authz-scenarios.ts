import {
  aliceMayView,
  authzFileCount,
  authzPolicies,
  authzToken,
  cedarCall,
  evaluationBody,
  evaluationsBody,
  postAuthzen,
  provisionAuthz,
  searchBody,
} from '../authz-fixture.ts';
import { decideInProcess, type AuthzWork } from '../authz-load.ts';
import type { Fixtures } from '../fixtures.ts';
import type { RunningTarget } from '../targets/target.ts';
import type { Scenario } from './scenario.ts';

/**
 * The policy decision point (issue 14), with the fixture of bench/authz-fixture.ts. On the Gatehouse targets each
 * operation is one AuthZEN request over HTTP; on the baseline targets it is cedar-wasm deciding the same requests in
 * the load process, with the same policies: on `baseline` with the entities Gatehouse builds (every attribute, as
 * an application embedding Cedar would pass them), on `baseline-redis` with the entities Gatehouse actually gives
 * Cedar (only the attributes the policies name). `vs baseline` is then Gatehouse's rate over in-process Cedar's, per
 * core (the server and the load each have one); `vs baseline-redis` Gatehouse's overhead around the same Cedar work.
 */
/** The fixture is provisioned through the CLI on the real target's database; the baselines are in-process Cedar. */
const authzTargets = ['gatehouse-real', 'baseline', 'baseline-redis'] as const;
const isBaseline = (target: RunningTarget) => target.name === 'baseline' || target.name === 'baseline-redis';

const baselineNote = (decisions: number) => (target: RunningTarget) =>
  isBaseline(target)
    ? `cedar-wasm in the load process, ${decisions === 1 ? 'one decision' : `${String(decisions)} decisions`} per operation, no HTTP` +
      (target.name === 'baseline-redis'
        ? ', given only the attributes the policies name (as Gatehouse does)'
        : '')
    : undefined;

/** The candidates the first page of the search decides: up to the scan budget, the files in id order. */
const searchScanned = 2000;

async function httpWork(
  target: RunningTarget,
  fixtures: Fixtures,
  path: string,
  body: unknown,
  check: (answer: unknown) => string | undefined,
): Promise<AuthzWork> {
  await provisionAuthz(target, fixtures);
  const token = await authzToken(target, fixtures);
  // Once before the load: a scenario whose answer is wrong measures nothing.
  const problem = check(await postAuthzen(target, token, path, body));
  if (problem) throw new Error(`${path}: ${problem}`);
  return {
    kind: 'authz-http',
    request: { path, authorization: `Bearer ${token}`, body: JSON.stringify(body) },
  };
}

function cedarWork(target: RunningTarget, fixtures: Fixtures, indexes: number[]): AuthzWork {
  const calls = indexes.map((index) => cedarCall(fixtures, index));
  // The baseline must decide what Gatehouse decides: checked once against the fixture, like the HTTP answers.
  const decisions = decideInProcess(authzPolicies, calls);
  if (decisions.some((decision, position) => decision !== aliceMayView(indexes[position]!)))
    throw new Error('in-process Cedar decides differently from the fixture');
  return {
    kind: 'authz-cedar',
    policies: authzPolicies,
    calls,
    callsPerOperation: indexes.length,
    lean: target.name === 'baseline-redis',
  };
}

const range = (size: number) => Array.from({ length: size }, (_, index) => index);

/** One decision: alice may view a file she is a viewer of. */
export const authzEvaluation: Scenario = {
  name: 'authz-evaluation',
  targets: authzTargets,
  halfPeakLatency: true,
  description: `POST /access/v1/evaluation (Drive policies, ${String(authzFileCount)} files; baseline: cedar-wasm in process)`,
  note: baselineNote(1),
  prepare: async (target, { fixtures }) =>
    isBaseline(target)
      ? cedarWork(target, fixtures, [13])
      : httpWork(target, fixtures, '/access/v1/evaluation', evaluationBody(13), (answer) =>
          (answer as { decision?: unknown }).decision === true
            ? undefined
            : `expected a permit, got ${JSON.stringify(answer)}`,
        ),
};

const batchSize = 100;

/** A batch of 100 evaluations (alice, view, 100 files: 3 permits). */
export const authzBatch: Scenario = {
  name: 'authz-batch',
  targets: authzTargets,
  description: `POST /access/v1/evaluations, ${String(batchSize)} evaluations per request (baseline: ${String(batchSize)} cedar-wasm decisions in process)`,
  note: baselineNote(batchSize),
  prepare: async (target, { fixtures }) =>
    isBaseline(target)
      ? cedarWork(target, fixtures, range(batchSize))
      : httpWork(target, fixtures, '/access/v1/evaluations', evaluationsBody(batchSize), (answer) => {
          const decisions = (answer as { evaluations?: { decision: boolean }[] }).evaluations?.map(
            (e) => e.decision,
          );
          const expected = range(batchSize).map(aliceMayView);
          return JSON.stringify(decisions) === JSON.stringify(expected)
            ? undefined
            : `decisions differ from the fixture's: ${JSON.stringify(answer).slice(0, 200)}`;
        }),
};

/**
 * The files alice may view, first page (default size 100): 3% of 10,000 files match, so the page decides the whole
 * scan budget (2,000 candidates) and answers the 60 it found with a next token.
 */
export const authzSearch: Scenario = {
  name: 'authz-search',
  targets: authzTargets,
  halfPeakLatency: true,
  description: `POST /access/v1/search/resource over ${String(authzFileCount)} files, first page (baseline: its ${String(searchScanned)} decisions in process)`,
  note: baselineNote(searchScanned),
  prepare: async (target, { fixtures }) =>
    isBaseline(target)
      ? cedarWork(target, fixtures, range(searchScanned))
      : httpWork(target, fixtures, '/access/v1/search/resource', searchBody(), (answer) => {
          const results = (answer as { results?: { id: string }[] }).results?.map((r) => r.id) ?? [];
          const expected = range(searchScanned)
            .filter(aliceMayView)
            .map((index) => `f${String(index).padStart(5, '0')}`);
          return JSON.stringify(results) === JSON.stringify(expected)
            ? undefined
            : `results differ from the fixture's: ${JSON.stringify(answer).slice(0, 200)}`;
        }),
};
