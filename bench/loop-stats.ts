/**
 * Preloaded into a bench server (`--import`) when `BENCH_LOOP_STATS_DIR` is set: once a second it appends to
 * `<dir>/loop-<pid>.jsonl` what the event loop went through in that second, so a tail latency can be traced to its
 * cause: event-loop delay percentiles (ms, 1 ms resolution), event-loop utilisation, and the garbage collections
 * (count, total and longest pause in ms, by kind: minor = scavenge, major = mark-compact, incremental, weakcb),
 * and requests served with the CPU time they took (per request: comparable even when other processes share the core).
 */
import { subscribe } from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

const dir = process.env.BENCH_LOOP_STATS_DIR;
if (dir) {
  const file = join(dir, `loop-${process.pid}.jsonl`);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const kinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  let gc: Record<string, { count: number; totalMs: number; maxMs: number }> = {};
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as unknown as { detail?: { kind?: number } };
      const kind = kinds[detail?.kind ?? -1] ?? 'other';
      const sum = (gc[kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
      sum.count += 1;
      sum.totalMs += entry.duration;
      sum.maxMs = Math.max(sum.maxMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  // CPU time per request: unlike throughput, it holds when other processes share the core.
  let requests = 0;
  subscribe('http.server.request.start', () => {
    requests += 1;
  });
  let cpu = process.cpuUsage();
  let utilisation = performance.eventLoopUtilization();
  const round = (ms: number) => Math.round(ms * 100) / 100;
  setInterval(() => {
    const now = performance.eventLoopUtilization();
    const elu = performance.eventLoopUtilization(now, utilisation).utilization;
    utilisation = now;
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const cpuMs = (used.user + used.system) / 1000;
    const line = {
      at: new Date().toISOString(),
      elu: round(elu),
      requests,
      cpuMs: round(cpuMs),
      cpuUsPerRequest: requests > 0 ? round((cpuMs * 1000) / requests) : null,
      delayMs: {
        p50: round(delay.percentile(50) / 1e6),
        p99: round(delay.percentile(99) / 1e6),
        max: round(delay.max / 1e6),
      },
      gc: Object.fromEntries(
        Object.entries(gc).map(([kind, sum]) => [
          kind,
          { count: sum.count, totalMs: round(sum.totalMs), maxMs: round(sum.maxMs) },
        ]),
      ),
      heapUsedMb: round(process.memoryUsage().heapUsed / 2 ** 20),
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
    delay.reset();
    gc = {};
    requests = 0;
  }, 1000).unref();
}
