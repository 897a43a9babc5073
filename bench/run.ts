/**
 * `npm run bench`: starts every target as its own process, then runs each scenario against each target in turn
 * (warm-up, then the measured run) with the load generator in a separate pinned process, and prints and saves a
 * table of throughput, latency and the Gatehouse / baseline ratio. Usage: `npm run bench -- --help`.
 */
import { createCleanupStack, type CleanupStack } from './cleanup-stack.ts';
import { detectCpuPinning } from './cpu-pinning.ts';
import { createFixtures } from './fixtures.ts';
import { readGatehouseDefaults } from './gatehouse-defaults.ts';
import { runLoadJob } from './load-client.ts';
import { describeMachine } from './machine.ts';
import { parseBenchOptions, usage, UsageError, type BenchOptions } from './options.ts';
import { createProcessGroup, type ProcessGroup } from './process-group.ts';
import {
  formatNumber,
  formatTable,
  withRatios,
  writeJsonReport,
  type BenchReport,
  type Measurement,
} from './report.ts';
import { allScenarios } from './scenarios/index.ts';
import type { Scenario } from './scenarios/scenario.ts';
import { generateSigningKeys } from './signing-keys.ts';
import { allTargets } from './targets/index.ts';
import type { RunningTarget, TargetContext, TargetDefinition, TargetOptions } from './targets/target.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Starts the targets side by side; if one fails, the others are still registered for cleanup. */
async function startTargets(
  definitions: readonly TargetDefinition[],
  context: TargetContext,
  options: TargetOptions,
): Promise<RunningTarget[]> {
  const started = await Promise.allSettled(
    definitions.map(async (definition) => {
      const began = Date.now();
      const target = await definition.start(context, options);
      log(`  ${target.name} ready at ${target.origin} (${((Date.now() - began) / 1000).toFixed(1)} s)`);
      return target;
    }),
  );
  const failure = started.find((outcome) => outcome.status === 'rejected');
  if (failure) throw failure.reason;
  return started.map((outcome) => (outcome as PromiseFulfilledResult<RunningTarget>).value);
}

async function measure(
  scenario: Scenario,
  target: RunningTarget,
  deps: { options: BenchOptions; context: TargetContext },
): Promise<Measurement> {
  const { options, context } = deps;
  const note = scenario.note?.(target);
  const measurement: Measurement = {
    scenario: scenario.name,
    target: target.name,
    ...(scenario.variant ? { variant: scenario.variant.label } : {}),
    ...(note ? { note } : {}),
  };
  try {
    const work = await scenario.prepare(target, {
      fixtures: context.fixtures,
      connections: options.connections,
    });
    const job = {
      origin: target.origin,
      connections: options.connections,
      warmupSeconds: options.warmupSeconds,
      durationSeconds: options.durationSeconds,
      ...work,
    };
    measurement.result = await runLoadJob(job, context);
    const halfRate = Math.floor(measurement.result.requestsPerSecond / 2);
    if (scenario.halfPeakLatency && halfRate > 0) {
      // Warm already: a short settle at the new rate, then the measured run.
      measurement.halfPeak = await runLoadJob({ ...job, warmupSeconds: 1, ratePerSecond: halfRate }, context);
    }
  } catch (error) {
    measurement.error = (error as Error).message;
  }
  return measurement;
}

async function runBench(
  options: BenchOptions,
  deps: { processes: ProcessGroup; cleanup: CleanupStack; interrupted: () => boolean },
): Promise<{ report: BenchReport; failed: boolean }> {
  const startedAt = new Date().toISOString();
  const scenarios = allScenarios.filter((s) => !options.scenarios || options.scenarios.includes(s.name));
  const targets = allTargets.filter((t) => !options.targets || options.targets.includes(t.name));
  const pinning = detectCpuPinning();
  const defaults = readGatehouseDefaults();
  const context: TargetContext = {
    processes: deps.processes,
    cleanup: deps.cleanup,
    pinning,
    fixtures: createFixtures(),
    defaults,
    baselineKeys: await generateSigningKeys(defaults.keys.algorithms),
    log,
  };
  // The shared targets sign JWT access tokens with ES256, Gatehouse's default; a scenario may ask for others.
  const baseOptions: TargetOptions = { accessTokenAlg: 'ES256' };

  log(`cpu pinning: ${pinning.description}`);
  log(`starting ${targets.map((t) => t.name).join(', ')}`);
  const shared = await startTargets(targets, context, baseOptions);

  const measurements: Measurement[] = [];
  const runsOn = (scenario: Scenario, target: { name: string }) =>
    !scenario.targets || scenario.targets.includes(target.name);
  const total = scenarios.reduce(
    (sum, scenario) => sum + targets.filter((t) => runsOn(scenario, t)).length,
    0,
  );
  for (const scenario of scenarios) {
    let running = shared;
    if (scenario.variant) {
      log(`starting ${scenario.variant.label} instances for ${scenario.name}`);
      running = await startTargets(targets, context, { ...baseOptions, ...scenario.variant.options });
    }
    try {
      for (const target of running) {
        if (!runsOn(scenario, target)) continue;
        if (deps.interrupted()) throw new Error('interrupted');
        const measurement = await measure(scenario, target, { options, context });
        measurements.push(measurement);
        const { result, error } = measurement;
        log(
          `[${measurements.length}/${total}] ${scenario.name} on ${target.name}: ` +
            (result
              ? `${formatNumber(result.requestsPerSecond, 0)} /s, p99 ${formatNumber(result.p99Ms, 2)} ms` +
                (result.failed > 0 ? `, ${result.failed} failed` : '')
              : `error: ${error}`),
        );
      }
    } finally {
      if (scenario.variant) await Promise.all(running.map((target) => target.stop()));
    }
  }
  // A signal during the last measurement must not produce a report of numbers it cut short.
  if (deps.interrupted()) throw new Error('interrupted');

  const args = process.argv.slice(2).join(' ');
  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    command:
      process.env.npm_lifecycle_event === 'bench' ? `npm run bench -- ${args}` : `node bench/run.ts ${args}`,
    machine: describeMachine(),
    cpuPinning: pinning.description,
    settings: {
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.warmupSeconds,
      connections: options.connections,
    },
    targets: targets.map(({ name, description }) => ({ name, description })),
    scenarios: scenarios.map(({ name, description }) => ({ name, description })),
    measurements: withRatios(measurements),
  };
  const failed = measurements.some((m) => m.error !== undefined || (m.result?.failed ?? 0) > 0);
  return { report, failed };
}

function printReport(report: BenchReport, path: string): void {
  const { machine, settings } = report;
  const lines = [
    '',
    formatTable(report.measurements),
    '',
    `machine:  ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.kernel}`,
    `runtime:  node ${machine.node}, oidc-provider ${machine.oidcProvider}, gatehouse ${machine.gatehouseCommit}`,
    `pinning:  ${report.cpuPinning}`,
    `load:     ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured per scenario and target`,
    `targets:  ${report.targets.map((t) => `${t.name} (${t.description})`).join('; ')}`,
    `command:  ${report.command.trim()}`,
    `results:  ${path}`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

async function main(): Promise<number> {
  let options: BenchOptions | undefined;
  try {
    options = parseBenchOptions(process.argv.slice(2), {
      scenarios: allScenarios.map((s) => s.name),
      targets: allTargets.map((t) => t.name),
    });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n\n${usage}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }

  const processes = createProcessGroup();
  const cleanup = createCleanupStack(log);
  const tearDown = async () => {
    await processes.stopAll();
    const failed = await cleanup.run();
    if (failed.length > 0) log(`cleanup left behind: ${failed.join(', ')}`);
  };
  // Ctrl-C (or a CI timeout) must not leave servers, databases or Redis keys behind. Stopping the processes makes
  // whatever the run is waiting for fail at once, so the run unwinds through its own `finally` below; the timer is
  // the fallback for a run stuck elsewhere.
  let interrupted: NodeJS.Signals | undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = signal;
      log(`${signal}: stopping every process and removing what the bench created`);
      void processes.stopAll();
      setTimeout(() => void tearDown().finally(() => process.exit(exitCodeFor(signal))), 30_000);
    });
  }

  try {
    const { report, failed } = await runBench(options, {
      processes,
      cleanup,
      interrupted: () => !!interrupted,
    });
    printReport(report, writeJsonReport(report));
    if (failed) log('some measurements failed: see the notes column');
    return failed ? 1 : 0;
  } catch (error) {
    if (!interrupted) throw error;
    return exitCodeFor(interrupted);
  } finally {
    await tearDown();
  }
}

/** The shell's convention for a process ended by a signal. */
function exitCodeFor(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
