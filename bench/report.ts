import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './load-job.ts';
import type { MachineInfo } from './machine.ts';
import type { TargetName } from './targets/target.ts';

/** One scenario on one target: what the load worker measured, or why there is no number. */
export interface Measurement {
  scenario: string;
  target: TargetName;
  /** Set when the scenario ran on its own instances of the targets (e.g. RS256 access tokens). */
  variant?: string;
  note?: string;
  result?: LoadResult;
  /** The same load at half of `result`'s rate (scenarios with a latency target). */
  halfPeak?: LoadResult;
  error?: string;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: MachineInfo;
  cpuPinning: string;
  settings: { durationSeconds: number; warmupSeconds: number; connections: number };
  targets: { name: TargetName; description: string }[];
  scenarios: { name: string; description: string }[];
  measurements: (Measurement & { ratioVsBaseline?: number; ratioVsBaselineRedis?: number })[];
}

/** Throughput of `measurement` relative to `reference` on the same scenario (the Gatehouse / baseline ratio). */
function ratio(
  measurements: Measurement[],
  measurement: Measurement,
  reference: TargetName,
): number | undefined {
  const base = measurements.find((m) => m.scenario === measurement.scenario && m.target === reference);
  if (!measurement.result || !base?.result || base.result.requestsPerSecond === 0) return undefined;
  return measurement.result.requestsPerSecond / base.result.requestsPerSecond;
}

export function withRatios(measurements: Measurement[]): BenchReport['measurements'] {
  return measurements.map((measurement) => {
    const vsBaseline = ratio(measurements, measurement, 'baseline');
    const vsRedis = ratio(measurements, measurement, 'baseline-redis');
    return {
      ...measurement,
      ...(vsBaseline === undefined ? {} : { ratioVsBaseline: vsBaseline }),
      ...(vsRedis === undefined ? {} : { ratioVsBaselineRedis: vsRedis }),
    };
  });
}

export function formatNumber(value: number | null | undefined, digits: number): string {
  return value === undefined || value === null || Number.isNaN(value) ? '-' : value.toFixed(digits);
}

function remarks(measurement: Measurement): string {
  const parts: string[] = [];
  if (measurement.variant) parts.push(measurement.variant);
  if (measurement.note) parts.push(measurement.note);
  const result = measurement.result;
  if (measurement.halfPeak && measurement.halfPeak.failed > 0)
    parts.push(`${measurement.halfPeak.failed} failed at half rate`);
  if (result && result.failed > 0) {
    parts.push(
      `${result.failed} failed${result.firstFailure ? ` (${result.firstFailure.slice(0, 80)})` : ''}`,
    );
  }
  if (measurement.error) parts.push(`error: ${measurement.error.slice(0, 120)}`);
  return parts.join('; ');
}

/** A plain-text table: scenario | target | req/s | p50 ms | p99 ms | p99 at half the rate | ratios | notes. */
export function formatTable(measurements: BenchReport['measurements']): string {
  const header = [
    'scenario',
    'target',
    'req/s',
    'p50 ms',
    'p99 ms',
    'p99 ms @ half',
    'vs baseline',
    'vs baseline-redis',
    'notes',
  ];
  const numeric = new Set([2, 3, 4, 5, 6, 7]);
  const rows = measurements.map((m) => [
    m.scenario,
    m.target,
    formatNumber(m.result?.requestsPerSecond, 0),
    formatNumber(m.result?.p50Ms, 2),
    formatNumber(m.result?.p99Ms, 2),
    formatNumber(m.halfPeak?.p99Ms, 2),
    formatNumber(m.ratioVsBaseline, 2),
    formatNumber(m.ratioVsBaselineRedis, 2),
    remarks(m),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join(' | ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('-|-');
  const body: string[] = [];
  rows.forEach((row, index) => {
    // A rule between scenarios, so each scenario's targets read as one group.
    if (index > 0 && measurements[index - 1]!.scenario !== measurements[index]!.scenario) body.push(rule);
    body.push(line(row));
  });
  return [line(header), rule, ...body].join('\n');
}

/**
 * Writes a report as bench/results/<prefix><timestamp>.json (git-ignored), the timestamp being its `startedAt`, and
 * returns the path.
 */
export function writeJsonReport(report: { startedAt: string }, prefix = ''): string {
  const directory = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(directory, { recursive: true });
  const path = `${directory}${prefix}${report.startedAt.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`;
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}
