// Per-program cost from the kernel: run count and run time of every BPF program attached in a
// simulated node (tc and XDP on its interfaces, cgroup programs at its cgroup), read before and
// after a measurement. The kernel counts only while run-time statistics are on: enableBpfStats()
// holds them on through a BPF_ENABLE_STATS fd (same switch as kernel.bpf_stats_enabled, nothing
// global left changed when the process ends), only for the runs that measure cost (costRounds()):
// the counted rounds run without them.
import fs from 'node:fs';
import { closeFd, enableRunTimeStats } from '../../agent/bpf/libbpf.ts';
import { nsRun, run } from '../../sim/netns.ts';
import type { SimNode } from '../../sim/cluster.ts';
import { summarize, type Summary } from './stats.ts';

/** Keep run-time statistics on until the returned function is called. */
export function enableBpfStats(): () => void {
  const fd = enableRunTimeStats();
  let open = true;
  return () => { if (open) { open = false; closeFd(fd); } };
}

/** Each attached program of a node, by id: its name (the entry point, e.g. sl_from_pod). */
export async function nodePrograms(node: SimNode): Promise<Map<number, string>> {
  const progs = new Map<number, string>();
  const json = (text: string) => (text.trim() ? JSON.parse(text) : []) as unknown;
  const net = json(await nsRun(node.ns, 'bpftool', ['-j', 'net', 'show'])) as Array<Record<string, Array<{ id?: number; name?: string }>>>;
  for (const section of net) {
    for (const list of Object.values(section)) for (const p of list ?? []) if (p.id) progs.set(p.id, p.name ?? '');
  }
  const cg = json(await run('bpftool', ['-j', 'cgroup', 'show', node.cgroup]).catch(() => '')) as Array<{ id: number; name?: string }>;
  for (const p of cg) progs.set(p.id, p.name ?? '');
  return progs;
}

/** Run count and total run time per program id (bpftool prog show). */
export type ProgCounters = Map<number, { name: string; cnt: number; ns: number }>;

export async function readCounters(progs: Map<number, string>): Promise<ProgCounters> {
  const all = JSON.parse(await run('bpftool', ['-j', 'prog', 'show'])) as Array<{ id: number; name?: string; run_cnt?: number; run_time_ns?: number }>;
  const out: ProgCounters = new Map();
  for (const p of all) {
    if (progs.has(p.id)) out.set(p.id, { name: p.name ?? progs.get(p.id)!, cnt: p.run_cnt ?? 0, ns: p.run_time_ns ?? 0 });
  }
  return out;
}

/** One measurement's cost per entry point (programs of the same name summed: one per interface). */
export interface EntryCost { runs: number; ns_per_run: number; runs_per_conn?: number; ns_per_conn?: number }

export function costs(before: ProgCounters, after: ProgCounters, conns?: number): Record<string, EntryCost> {
  const sum = new Map<string, { cnt: number; ns: number }>();
  for (const [id, a] of after) {
    const b = before.get(id) ?? { cnt: 0, ns: 0 };
    const s = sum.get(a.name) ?? sum.set(a.name, { cnt: 0, ns: 0 }).get(a.name)!;
    s.cnt += a.cnt - b.cnt;
    s.ns += a.ns - b.ns;
  }
  const out: Record<string, EntryCost> = {};
  for (const [name, s] of [...sum].sort(([a], [b]) => a.localeCompare(b))) {
    if (!s.cnt) continue;
    out[name] = {
      runs: s.cnt, ns_per_run: +(s.ns / s.cnt).toFixed(1),
      ...(conns ? { runs_per_conn: +(s.cnt / conns).toFixed(2), ns_per_conn: +(s.ns / conns).toFixed(0) } : {}),
    };
  }
  return out;
}

/** Uncounted runs per contender with run-time statistics on, after a bench's counted rounds. */
export const COST_ROUNDS = 2;

/**
 * Per-program cost, measured apart from the rates a bench reports. With run-time statistics on,
 * the kernel reads the clock twice around every BPF run and updates per-CPU counters (tens of ns a
 * run, ~20 runs a connection): a cost only the contenders with BPF programs would pay, so the
 * counted rounds run with statistics off, and afterwards each item with programs gets `rounds`
 * uncounted runs of `once` with them on. Returns each item's costs, one record per run.
 */
export async function costRounds<T>(items: readonly T[], rounds: number, progsOf: (t: T) => Map<number, string>,
  once: (t: T) => Promise<{ conns: number }>): Promise<Map<T, Array<Record<string, EntryCost>>>> {
  const out = new Map<T, Array<Record<string, EntryCost>>>();
  const stop = enableBpfStats();
  try {
    for (let r = 0; r < rounds; r++) {
      for (const t of items) {
        const progs = progsOf(t);
        if (!progs.size) continue;
        const before = await readCounters(progs);
        const m = await once(t);
        (out.get(t) ?? out.set(t, []).get(t)!).push(costs(before, await readCounters(progs), m.conns));
      }
    }
  } finally {
    stop();
  }
  return out;
}

/** Several measurements' costs, per entry point: ns/run and ns per connection over the rounds. */
export interface EntrySummary { ns_per_run: Summary; runs_per_conn?: Summary; ns_per_conn?: Summary }

export function summarizeCosts(rounds: Array<Record<string, EntryCost>>): Record<string, EntrySummary> {
  const names = [...new Set(rounds.flatMap((r) => Object.keys(r)))].sort();
  const out: Record<string, EntrySummary> = {};
  for (const n of names) {
    const rs = rounds.map((r) => r[n]).filter((x): x is EntryCost => !!x);
    const pick = (k: keyof EntryCost) => rs.map((r) => r[k]).filter((v): v is number => typeof v === 'number');
    out[n] = {
      ns_per_run: summarize(pick('ns_per_run'), 1),
      ...(pick('runs_per_conn').length ? { runs_per_conn: summarize(pick('runs_per_conn'), 2), ns_per_conn: summarize(pick('ns_per_conn'), 0) } : {}),
    };
  }
  return out;
}

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) in clock ticks (USER_HZ, 100 on Linux); rest[0] is field 3.
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
}
