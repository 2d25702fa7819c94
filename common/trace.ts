// Timestamps along one change's path, for the benchmark (bench/run.ts sets SLUICE_TRACE=1 in the
// environment of the control plane and the agent it starts): CLOCK_MONOTONIC in ms
// (process.hrtime), comparable between processes of one machine and with bench/crr.c's
// clock_gettime(CLOCK_MONOTONIC). They go into the log lines the benchmark already reads ("update
// sent", "applied"); off, nothing is recorded and the log lines are as before.
import { PerformanceObserver, performance } from 'node:perf_hooks';

export const TRACE = process.env.SLUICE_TRACE === '1';

export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The latest time each named point was passed (the benchmark makes one change at a time). */
const marks: Record<string, number> = {};

export function mark(name: string): void {
  if (TRACE) marks[name] = +monoMs().toFixed(3);
}

/** Runs `fn`, marking `<name>Start` and `<name>End` around it (what else a process was busy with). */
export function span<T>(name: string, fn: () => T): T {
  if (!TRACE) return fn();
  mark(`${name}Start`);
  try {
    return fn();
  } finally {
    mark(`${name}End`);
  }
}

// V8's own collections, as v8gcStart/v8gcEnd of the latest (performance entries are in ms since
// performance.timeOrigin, itself taken from the same monotonic clock).
if (TRACE) {
  const offset = monoMs() - performance.now();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      marks.v8gcStart = +(offset + e.startTime).toFixed(3);
      marks.v8gcEnd = +(offset + e.startTime + e.duration).toFixed(3);
    }
  }).observe({ entryTypes: ['gc'] });
}

/** The marks so far plus `now` as `name`, for a log line; undefined when tracing is off. */
export function traceFields(name: string): Record<string, number> | undefined {
  if (!TRACE) return undefined;
  mark(name);
  return { ...marks };
}
