// `make bench`: Sluice against the direct pod path and kube-proxy's iptables- and nftables-mode
// rule shapes, in one run and one topology (see docs/benchmarks.md).
//
//   node bench/run.ts              full run (~10-15 min)
//   BENCH_QUICK=1 node bench/run.ts  smoke run (< 2 min): 1 and 1,000 services, short rounds
//   BENCH_OUT=DIR                  where latest.json, latest.md and crr.png go (default bench/results)
//   BENCH_ONLY=programming         Sluice's programming and change figures alone (no traffic, no
//                                  other contender; ~3 min): for profiling the agent and control plane
//   BENCH_CPU_PROF=DIR             run the agents and the control plane with node --cpu-prof, profiles
//                                  under DIR/agent and DIR/controlplane (written when each process exits)
//   BENCH_ONLY=crr_v6              the IPv6 connection-rate and iperf3 rows alone (crr_v6,
//                                  throughput_gbps_v6; ~3 min at 1 and 1,000 services); BENCH_V6_COUNTS
//                                  sets their service counts (default 1,10000; quick 1,100),
//                                  BENCH_SKIP=crr_v6 leaves them out of a full run
//
// Topology: one simulated node (network namespace) per contender, each with the same three pods
// (client, be1, be2), so no contender's rules or programs ever see another's traffic:
//   direct   no service at all: the client talks to be1's pod IP (no NAT, the physical limit)
//   sluice   the Sluice agent with its tc programs on the pods' veths: state-file mode for traffic
//            and programming; then, for the production-path sync figures, following the control
//            plane (root namespace, Unix socket), which watches the fake Kubernetes API server
//            (test/fixtures/fake-apiserver.ts, in this process on 127.0.0.1; bench/lib/kube.ts)
//   sluice_socket  a second agent with --socket-lb on at its node's cgroup: the client's connect()
//            goes straight to a backend (connection rate and throughput only)
//   iptables kube-proxy's iptables-mode nat table (iptables-restore)
//   nftables kube-proxy's nftables-mode table (nft -f)
// The IPv6 rows (crr_v6, throughput_gbps_v6) use the same nodes and pods over their IPv6 addresses
// (sim/cluster.ts: every pod has both families): direct to be1's IPv6 address, Sluice with an IPv6
// service set in its state file, and kube-proxy's shapes as its IPv6 proxier writes them
// (ip6tables-restore into the ip6 nat table, nft's `ip6 kube-proxy` table). A Sluice row whose
// IPv6 path does not answer is recorded as { not_measured: <why> }, never as a figure.
// Connection rate is also measured from each node's own namespace (a hostNetwork process, the
// kubelet) to the service (crr_node): direct to be1's pod IP; sluice_socket through the socket-level
// programs; sluice (socket-level off) has no path for it (the per-packet programs sit on the pods'
// interfaces); iptables and nftables through kube-proxy's nat OUTPUT rules.
// Everything lives in sluice-<run>-* namespaces and is removed at the end, also after failures.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { datapathObjects } from '../agent/bpf/objects.ts';
import { PinnedMaps } from '../agent/inspect.ts';
import { maglevRunWords, maglevSize } from '../agent/maglev.ts';
import { DEFAULT_SIZES } from '../agent/datapath.ts';
import { SimAgent, type LogLine } from '../sim/agent.ts';
import { REPO, SimCluster, type SimNode, type SimPod } from '../sim/cluster.ts';
import { nsRun, run, sleep, waitFor } from '../sim/netns.ts';
import type { Family } from '../common/ip.ts';
import {
  benchServices, CRR_PORT, FAMILIES, iptablesChange, iptablesRestore, IPERF_PORT, nftChange, nftRuleset, nftTable, PROBE_VIP,
  probeService, stateFile, TARGET_VIP, type BenchService,
} from './lib/model.ts';
import { ProductionPath } from './lib/kube.ts';
import { compiledAgent, compileToJs, controlPlaneNodeEnv } from './lib/deployed.ts';
import { setConntrack } from './lib/conntrack.ts';
import { buildCTools, drain, hrMs, iperf3Gbps, Lines, nftVersion, realPid, rss, toolVersions } from './lib/proc.ts';
import { percentile, summarize, type Summary } from './lib/stats.ts';
import { COST_ROUNDS, costRounds, cpuMs, nodePrograms, summarizeCosts } from './lib/bpfstats.ts';
import { writeReport } from './report.ts';
import { isNotMeasured, type ByCount, type Results } from './lib/results.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const ONLY_PROGRAMMING = process.env.BENCH_ONLY === 'programming';
const ONLY_V6 = process.env.BENCH_ONLY === 'crr_v6';
const SKIP = (process.env.BENCH_SKIP ?? '').split(',');
const CPU_PROF = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;
const OUT = path.resolve(process.env.BENCH_OUT ?? path.join(REPO, 'bench/results'));
const CFG = QUICK
  ? { counts: [1, 1000], countsV6: [1, 100], rounds: 2, crrSecs: 1, iperfSecs: 1, syncCount: 1000, syncRounds: 2, changes: 5, big: 0, cpChanges: 20, changesCp: 20 }
  : { counts: [1, 1000, 10000], countsV6: [1, 10000], rounds: 4, crrSecs: 3, iperfSecs: 2, syncCount: 10000, syncRounds: 3, changes: 20, big: 100000, cpChanges: 200, changesCp: 200 };
if (ONLY_PROGRAMMING) Object.assign(CFG, { counts: [CFG.syncCount], big: 0 });
// Datapath work (connection rate, throughput and per-program cost only, side by side):
//   BENCH_TRAFFIC_ONLY=1 BENCH_COUNTS=10000 BENCH_SKIP=iptables,nftables BENCH_ROUNDS=6
const TRAFFIC_PHASE_ONLY = process.env.BENCH_TRAFFIC_ONLY === '1';
if (process.env.BENCH_COUNTS) CFG.counts = process.env.BENCH_COUNTS.split(',').map(Number);
if (process.env.BENCH_V6_COUNTS !== undefined) CFG.countsV6 = process.env.BENCH_V6_COUNTS.split(',').filter(Boolean).map(Number);
if (SKIP.includes('crr_v6')) CFG.countsV6 = [];
if (CFG.countsV6.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`BENCH_V6_COUNTS: service counts are whole numbers from 1 (${CFG.countsV6.join(',')})`);
if (process.env.BENCH_ROUNDS) CFG.rounds = Number(process.env.BENCH_ROUNDS);
if (process.env.BENCH_CRR_SECS) CFG.crrSecs = Number(process.env.BENCH_CRR_SECS);
// BENCH_BIG: the large point's service count (100,000 on a full run, none on a quick one).
if (process.env.BENCH_BIG) CFG.big = Number(process.env.BENCH_BIG);
if (TRAFFIC_PHASE_ONLY) CFG.big = 0;
/** Endpoints per filler service (the measured service has two); 1 at the 100,000-service point. */
const FILLER_ENDPOINTS = 10;
const BIG_ENDPOINTS = 1;
/** Unmeasured endpoint changes before the measured ones, for every contender alike. */
const WARMUP_CHANGES = 2;
/** A programming load slower than this is not repeated; changes slower than this in total stop early. */
const SLOW_LOAD_MS = 60_000;

const BUILD = path.join(REPO, 'build/bench');
const CRR = path.join(BUILD, 'crr');
const SRV = path.join(BUILD, 'srv');

type Name = 'direct' | 'sluice' | 'sluice_socket' | 'iptables' | 'nftables';
const ALL: Name[] = ONLY_PROGRAMMING ? ['sluice'] : (['direct', 'sluice', 'sluice_socket', 'iptables', 'nftables'] as Name[])
  .filter((n) => !['iptables', 'nftables'].includes(n) || !SKIP.includes(n));
const NODE_OF: Record<Name, string> = { direct: 'direct', sluice: 'sluice', sluice_socket: 'sock', iptables: 'ipt', nftables: 'nft' };
/** Measured for traffic only: programming and change figures are the per-packet agent's (the same code). */
const TRAFFIC_ONLY: Name[] = ['direct', 'sluice_socket'];

interface Contender { name: Name; node: SimNode; client: SimPod; be1: SimPod; be2: SimPod }

const log = (msg: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

const compile = () => buildCTools(REPO, [['bench/crr.c', CRR], ['bench/srv.c', SRV]]);

// ---- the Sluice agent -------------------------------------------------------------------

interface Applied { version: number; services: number; ms: number; at: number; snapshot: boolean; trace?: Record<string, number> }

/**
 * The agent's compiled entry point (bench/lib/deployed.ts compiledAgent: JavaScript, as the image runs
 * it), set in main(); undefined: agent/main.ts through Node's type stripper (a quick run, or when the
 * compile fails), which costs ~18-29 MiB more RSS than the image's agent.
 */
let agentMain: string | undefined;

/** The agent on the sluice node, launched by the simulated cluster's launcher (sim/agent.ts). */
class Agent {
  readonly stateFile: string;
  readonly node: SimNode;
  sim!: SimAgent;
  pid = 0;
  applied: Applied[] = [];
  #cluster: SimCluster;
  readonly #extraArgs: string[];

  constructor(cluster: SimCluster, node: SimNode, dir: string, extraArgs: string[] = []) {
    this.#cluster = cluster;
    this.node = node;
    this.stateFile = path.join(dir, `state-${node.name}.json`);
    this.#extraArgs = extraArgs;
  }

  /** Start with the state file (empty), or following the control plane at `controlPlane`. */
  async start(maxServices: number, maxBackends: number, maglevSlots: number, controlPlane?: string): Promise<void> {
    if (!controlPlane) this.write(stateFile([]));
    this.applied = [];
    this.sim = await withEnv(cpuProfEnv('agent'), () => SimAgent.start(this.#cluster, this.node.name, {
      ...(controlPlane ? { controlPlane } : { stateFile: this.stateFile }),
      readyTimeoutMs: 60000, main: agentMain,
      args: ['--log-level', 'info', '--max-services', String(maxServices),
        '--max-backends', String(maxBackends), '--maglev-slots', String(maglevSlots), ...this.#extraArgs],
    }));
    // Timed as each line arrives, not when the benchmark gets round to looking.
    const seen = (l: LogLine) => {
      if (process.env.BENCH_DEBUG) process.stderr.write(`[agent] ${JSON.stringify(l).slice(0, 400)}\n`);
      if (l.msg === 'applied') this.applied.push({ version: Number(l.version), services: Number(l.services), ms: Number(l.ms), at: hrMs(), snapshot: !!l.snapshot, trace: l.trace as Record<string, number> | undefined });
    };
    this.sim.logs.forEach(seen);
    this.sim.onLog(seen);
    this.pid = realPid(this.sim.proc.pid!, 'node');
  }

  async stop(): Promise<void> {
    await Promise.race([this.sim.kill('SIGTERM'), sleep(10000)]);
    await this.sim.kill('SIGKILL');
  }

  /** Replace the state file atomically (the agent sees it through inotify; its 100 ms poll is the fallback). */
  write(text: string): void {
    const tmp = `${this.stateFile}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, this.stateFile);
  }

  /** Write `text` at `t0` (hrMs) and wait for the agent's "applied" of `services` services. */
  async apply(text: string, services: number, timeoutMs: number): Promise<{ e2eMs: number; agentMs: number }> {
    const tmp = `${this.stateFile}.tmp`;
    fs.writeFileSync(tmp, text);
    const seen = this.applied.length;
    const t0 = hrMs();
    fs.renameSync(tmp, this.stateFile);
    const a = await waitFor(`sluice agent to apply ${services} services`,
      () => this.applied.slice(seen).find((x) => x.services === services), timeoutMs, 2);
    return { e2eMs: a.at - t0, agentMs: a.ms };
  }
}

/**
 * With BENCH_CPU_PROF, the environment that profiles a process, its profile going to
 * BENCH_CPU_PROF/<what>: the control plane with node --cpu-prof, the agent with
 * SLUICE_CPU_PROFILE_DIR (agent/cpu-profile.ts: --cpu-prof's SIGPROF makes the BPF verifier fail
 * with EAGAIN).
 */
function cpuProfEnv(what: 'agent' | 'controlplane'): NodeJS.ProcessEnv {
  if (!CPU_PROF) return {};
  const dir = path.join(CPU_PROF, what);
  fs.mkdirSync(dir, { recursive: true });
  return what === 'agent' ? { SLUICE_CPU_PROFILE_DIR: dir } : { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${dir}`.trim() };
}

/** `start` (which spawns a Node process synchronously, before its first await) with `env` set. */
function withEnv<T>(env: NodeJS.ProcessEnv, start: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return start();
  } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
}

// ---- programming each contender ------------------------------------------------------------

async function iptablesLoad(c: Contender, text: string, noflush = false): Promise<number> {
  const t0 = hrMs();
  await nsRun(c.node.ns, 'iptables-restore', noflush ? ['-w', '--noflush'] : ['-w'], { input: text });
  return hrMs() - t0;
}

async function nftLoad(c: Contender, text: string): Promise<number> {
  const t0 = hrMs();
  await nsRun(c.node.ns, 'nft', ['-f', '-'], { input: text });
  return hrMs() - t0;
}

async function clearRules(c: Contender): Promise<void> {
  if (c.name === 'iptables') await nsRun(c.node.ns, 'iptables-restore', ['-w'], { input: '*nat\nCOMMIT\n' });
  if (c.name === 'nftables') await nsRun(c.node.ns, 'nft', ['delete', 'table', 'ip', 'kube-proxy'], { allowFail: true });
}

/** Program `services` into contender `c` from nothing; returns the load's wall time in ms. */
async function program(c: Contender, services: BenchService[], agent: Agent, text?: { state?: string }): Promise<{ ms: number; agentMs?: number }> {
  switch (c.name) {
    case 'direct': return { ms: 0 };
    case 'sluice':
    case 'sluice_socket': {
      if (agent.applied.at(-1)?.services !== 0) {
        await agent.apply(stateFile([]), 0, 120000);
        // The agent holds freed Maglev slots back for 1 s (packets may still read an old table).
        await sleep(1200);
      }
      const r = await agent.apply(text?.state ?? stateFile(services), services.length, 600000);
      return { ms: r.e2eMs, agentMs: r.agentMs };
    }
    case 'iptables': await clearRules(c); return { ms: await iptablesLoad(c, iptablesRestore(services)) };
    case 'nftables': await clearRules(c); return { ms: await nftLoad(c, nftRuleset(services)) };
  }
}

// ---- traffic ------------------------------------------------------------------------------

/** Where the client connects: be1's pod IP on the direct path, the service address otherwise (of `fam`). */
function targetOf(c: Contender, fam: Family = 4): string {
  if (c.name === 'direct') return fam === 6 ? c.be1.ip6 : c.be1.ip;
  return FAMILIES[fam].targetVip;
}

async function crr(c: Contender, secs: number, fam: Family = 4): Promise<{ conns: number; errors: number; rate: number }> {
  // In the client pod's cgroup, where the socket-level programs of sluice_socket's node see it.
  const out = await nsRun(c.client.ns, 'timeout', [String(secs + 20), CRR, 'crr', targetOf(c, fam), String(CRR_PORT), String(secs)], { cgroup: c.client.cgroup });
  return JSON.parse(out.trim()) as { conns: number; errors: number; rate: number };
}

function iperf(c: Contender, secs: number, fam: Family = 4): Promise<number> {
  return iperf3Gbps(c.client.ns, targetOf(c, fam), IPERF_PORT, secs, `${c.name}${fam === 6 ? ' (IPv6)' : ''}`, c.client.cgroup);
}

/** A short check that a contender's service answers from both backends before it is measured. */
async function verify(c: Contender): Promise<void> {
  const r = await crr(c, 0.3);
  if (r.conns === 0 || r.errors > 0) throw new Error(`${c.name}: the service does not answer (${JSON.stringify(r)})`);
}

// ---- results ------------------------------------------------------------------------------

/** connect() calls translated by the socket-level programs for the measured service (of `fam`), so far. */
function socketTranslations(c: Contender, fam: Family = 4): number {
  const maps = new PinnedMaps(c.node.nodeName);
  try {
    return maps.services().filter((s) => s.vip === FAMILIES[fam].targetVip).reduce((n, s) => n + s.stats.socketTranslations, 0);
  } finally {
    maps.close();
  }
}

function put<T>(o: Record<string, ByCount<T>>, name: string, count: number, v: T): void {
  (o[name] ??= {})[String(count)] = v;
}

/** A traffic measurement: a contender, under `label`, with or without netfilter conntrack on its node. */
interface TrafficRun { label: string; c: Contender; conntrack: boolean }

/** Every contender with conntrack loaded on its node (the headline), and Sluice also without. */
function trafficRuns(cs: Contender[]): TrafficRun[] {
  const runs: TrafficRun[] = cs.map((c) => ({ label: c.name, c, conntrack: true }));
  const sl = cs.find((c) => c.name === 'sluice');
  if (sl) runs.splice(runs.findIndex((r) => r.c === sl) + 1, 0, { label: 'sluice_no_conntrack', c: sl, conntrack: false });
  return runs;
}

/** Where one family's traffic figures go: crr, throughput_gbps, bpf_ns_per_run, or their _v6 twins. */
function trafficOut(res: Results, fam: Family): { crr: Results['crr']; gbps: Results['throughput_gbps']; bpf: Results['bpf_ns_per_run'] } {
  if (fam === 4) return { crr: res.crr, gbps: res.throughput_gbps, bpf: res.bpf_ns_per_run };
  // The _v6 records also hold { not_measured } rows, which measureTraffic never writes.
  return { crr: (res.crr_v6 ??= {}) as Results['crr'], gbps: (res.throughput_gbps_v6 ??= {}) as Results['throughput_gbps'], bpf: (res.bpf_ns_per_run_v6 ??= {}) };
}

async function measureTraffic(cs: Contender[], count: number, res: Results, agentPid: (c: Contender) => number | undefined, fam: Family = 4): Promise<void> {
  const runs = trafficRuns(cs);
  const out = trafficOut(res, fam);
  const rates = new Map<string, number[]>(), errs = new Map<string, number>(), gbps = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, k: string, v: number) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  // The agent's CPU for every connection-rate run; per-program cost in uncounted runs after them.
  const progsOf = new Map<Contender, Map<number, string>>();
  for (const c of cs) progsOf.set(c, await nodePrograms(c.node));
  const cpu = new Map<string, number[]>();
  for (let r = 0; r < CFG.rounds; r++) {
    // Round-robin, starting one contender later each round, so drift and noise spread evenly.
    const order = runs.map((_, i) => runs[(i + r) % runs.length]!);
    for (const x of order) {
      await setConntrack(x.c.node.ns, x.conntrack);
      const pid = agentPid(x.c);
      const cpu0 = pid ? cpuMs(pid) : 0, t0 = hrMs();
      const m = await crr(x.c, CFG.crrSecs, fam);
      const cpu1 = pid ? cpuMs(pid) : 0, t1 = hrMs();
      if (pid) add(cpu, x.label, (100 * (cpu1 - cpu0)) / (t1 - t0));
      add(rates, x.label, m.rate);
      errs.set(x.label, (errs.get(x.label) ?? 0) + m.errors);
    }
    for (const x of order) {
      await setConntrack(x.c.node.ns, x.conntrack);
      add(gbps, x.label, await iperf(x.c, CFG.iperfSecs, fam));
    }
    log(`  ${fam === 6 ? 'IPv6, ' : ''}${count} services, round ${r + 1}/${CFG.rounds}: ${runs.map((x) => `${x.label} ${Math.round(rates.get(x.label)!.at(-1)!)}/s ${gbps.get(x.label)!.at(-1)!.toFixed(1)} Gbit/s`).join(', ')}`);
  }
  // Per-program cost with the kernel's run-time statistics on, in runs that count for nothing else.
  const bpf = await costRounds(runs, COST_ROUNDS, (x) => progsOf.get(x.c)!, async (x) => {
    await setConntrack(x.c.node.ns, x.conntrack);
    return crr(x.c, CFG.crrSecs, fam);
  });
  for (const x of runs) {
    await setConntrack(x.c.node.ns, true);
    put(out.crr, x.label, count, {
      ...summarize(rates.get(x.label)!, 0), errors: errs.get(x.label) ?? 0,
      ...(cpu.has(x.label) ? { agent_cpu_pct: summarize(cpu.get(x.label)!, 1) } : {}),
    });
    put(out.gbps, x.label, count, summarize(gbps.get(x.label)!, 2));
    if (bpf.has(x)) put(out.bpf, x.label, count, summarizeCosts(bpf.get(x)!));
  }
  const line = (l: string) => Object.entries(out.bpf[l]?.[String(count)] ?? {})
    .map(([p, v]) => `${p} ${v.ns_per_run.median} ns x ${v.runs_per_conn?.median ?? '?'}/conn`).join(', ');
  for (const x of runs) if (bpf.has(x)) log(`  ${fam === 6 ? 'IPv6, ' : ''}${count} services, ${x.label} per program: ${line(x.label)}; agent CPU ${cpu.get(x.label) ? summarize(cpu.get(x.label)!, 1).median : 'n/a'}%`);
}

// ---- IPv6: crr_v6 and throughput_gbps_v6 (issue 15) ------------------------------------------

/** What carries a Sluice contender's IPv6 connections (for its "not measured" reason). */
const SLUICE_V6_PATH: Partial<Record<Name, string>> = {
  sluice: 'the per-packet programs (sl_from_pod / sl_to_pod)',
  sluice_socket: 'the socket-level programs (connect6)',
};

/** Program contender `c` with an IPv6 service set, kube-proxy's shapes from nothing; the load's wall time in ms. */
async function programV6(c: Contender, services: BenchService[], agent: Agent): Promise<number> {
  switch (c.name) {
    case 'direct': return 0;
    case 'sluice':
    case 'sluice_socket': return (await agent.apply(stateFile(services), services.length, 600000)).e2eMs;
    case 'iptables': {
      // kube-proxy's IPv6 proxier: the same nat table shape, written by ip6tables-restore.
      const t0 = hrMs();
      await nsRun(c.node.ns, 'ip6tables-restore', ['-w'], { input: iptablesRestore(services) });
      return hrMs() - t0;
    }
    case 'nftables':
      await nsRun(c.node.ns, 'nft', ['delete', 'table', ...nftTable(6).split(' ')], { allowFail: true });
      return nftLoad(c, nftRuleset(services));
  }
}

/** Remove kube-proxy's IPv6 shapes from a node (the IPv4 phases never look at them, but they hold memory). */
async function clearRulesV6(c: Contender): Promise<void> {
  if (c.name === 'iptables') await nsRun(c.node.ns, 'ip6tables-restore', ['-w'], { input: '*nat\nCOMMIT\n' });
  if (c.name === 'nftables') await nsRun(c.node.ns, 'nft', ['delete', 'table', ...nftTable(6).split(' ')], { allowFail: true });
}

/**
 * Why contender `c`'s IPv6 service cannot be measured, or undefined when it answers. direct and
 * kube-proxy's shapes must answer (anything else is a broken benchmark: thrown). A Sluice contender
 * may not serve IPv6 yet: its frontend absent from the node's maps while the agent reports it left
 * out, no connection answered, or (socket-level) answered without connect6 translating any.
 */
async function v6Problem(c: Contender, agent: Agent): Promise<string | undefined> {
  const fe = `[${FAMILIES[6].targetVip}]:${CRR_PORT}/TCP`;
  if (!SLUICE_V6_PATH[c.name]) {
    const r = await crr(c, 0.3, 6);
    if (r.conns === 0 || r.errors > 0) throw new Error(`${c.name}: the IPv6 service ${fe} does not answer (${JSON.stringify(r)})`);
    return undefined;
  }
  const maps = new PinnedMaps(c.node.nodeName);
  let inMaps: boolean;
  try { inMaps = maps.services().some((s) => s.vip === FAMILIES[6].targetVip && s.port === CRR_PORT); } finally { maps.close(); }
  const report = agent.sim.logs.filter((l) => l.msg === 'IPv6 frontends not programmed' || l.msg === 'no IPv6 frontend left out any more').at(-1);
  if (!inMaps && report?.msg === 'IPv6 frontends not programmed') {
    return `the agent did not program the IPv6 frontends (${String(report.frontends)} frontends of ${String(report.services)} services left out, its log says: "${String(report.reason)}")`;
  }
  const before = c.name === 'sluice_socket' ? socketTranslations(c, 6) : 0;
  const r = await crr(c, 0.3, 6);
  const path = SLUICE_V6_PATH[c.name]!;
  if (r.conns === 0) return `${fe} is ${inMaps ? '' : 'not listed in the node\'s maps, yet not reported left out; it is '}programmed, but no connection through ${path} answered in a 0.3 s probe (${r.errors} failed)`;
  if (r.errors > 0) return `${r.errors} of ${r.conns + r.errors} connections to ${fe} through ${path} failed in a 0.3 s probe`;
  if (c.name === 'sluice_socket' && socketTranslations(c, 6) - before === 0) {
    return `${r.conns} connections to ${fe} answered, but connect6 translated none of them (the per-packet programs did): not the socket-level path`;
  }
  return undefined;
}

/**
 * crr_v6 and throughput_gbps_v6: at each of CFG.countsV6, every contender programmed with an IPv6
 * service set (filler services then the measured one, as for IPv4), then the same interleaved rounds
 * as measureTraffic over IPv6. Rows that cannot be measured say why. Leaves no IPv6 rules behind.
 */
async function measureV6(cs: Contender[], agentOf: (c: Contender) => Agent, agentPid: (c: Contender) => number | undefined, res: Results): Promise<void> {
  const notMeasured = (label: string, count: number, why: string) => {
    put((res.crr_v6 ??= {}), label, count, { not_measured: why });
    put((res.throughput_gbps_v6 ??= {}), label, count, { not_measured: why });
  };
  for (const count of CFG.countsV6) {
    log(`IPv6: programming ${count} services (${FILLER_ENDPOINTS} endpoints each) into every contender`);
    const measured: Contender[] = [];
    for (const c of cs) {
      const services = benchServices(count, FILLER_ENDPOINTS, { be1: c.be1.ip6, be2: c.be2.ip6 }, undefined, 6);
      const ms = await programV6(c, services, agentOf(c));
      ((res.load_ms_v6 ??= {})[c.name] ??= {})[String(count)] = [+ms.toFixed(1)];
      const why = await v6Problem(c, agentOf(c));
      if (!why) { measured.push(c); continue; }
      notMeasured(c.name, count, why);
      if (c.name === 'sluice') notMeasured('sluice_no_conntrack', count, why);
      log(`  IPv6, ${count} services: ${c.name} not measured: ${why}`);
    }
    const sock = measured.find((c) => c.name === 'sluice_socket');
    const before = sock ? socketTranslations(sock, 6) : 0;
    await measureTraffic(measured, count, res, agentPid, 6);
    if (sock) {
      const row = res.crr_v6!.sluice_socket![String(count)]!;
      if (!isNotMeasured(row)) row.socket_translations = socketTranslations(sock, 6) - before;
    }
    // Ratios to the direct path measured in the same rounds.
    for (const [by, of] of [[res.crr_v6!, res.crr_v6!.direct], [res.throughput_gbps_v6!, res.throughput_gbps_v6!.direct]] as const) {
      const base = of?.[String(count)];
      if (!base || isNotMeasured(base)) continue;
      for (const rows of Object.values(by)) {
        const row = rows[String(count)];
        if (row && !isNotMeasured(row)) row.vs_direct = +(row.median / base.median).toFixed(3);
      }
    }
  }
  for (const c of cs) await clearRulesV6(c);
}

// ---- node -> ClusterIP: a process in the node's own network namespace ------------------------

/** One crr run from contender `c`'s node namespace, in its node's cgroup (where socket-level programs attach). */
async function nodeCrr(c: Contender, secs: number): Promise<{ conns: number; errors: number; rate: number }> {
  const out = await nsRun(c.node.ns, 'timeout', [String(secs + 20), CRR, 'crr', targetOf(c), String(CRR_PORT), String(secs)], { cgroup: c.node.cgroup });
  return JSON.parse(out.trim()) as { conns: number; errors: number; rate: number };
}

const nodesPrepared = new Set<Name>();
/** Once per node: the client pods' socket settings (see main), and for kube-proxy's shapes a route. */
async function prepareNodeClient(c: Contender): Promise<void> {
  if (nodesPrepared.has(c.name)) return;
  nodesPrepared.add(c.name);
  await nsRun(c.node.ns, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.tcp_timestamps=2']);
  // kube-proxy's nat OUTPUT rules rewrite the destination after connect() has found a route for the
  // service address (a real node has a default route; a simulated node routes only its pods and the
  // fabric): one for the measured address, to the fabric inside the simulation. Sluice's nodes get
  // none: its socket-level programs translate before routing, and without them there is no path.
  if (c.name === 'iptables' || c.name === 'nftables') await nsRun(c.node.ns, 'ip', ['route', 'replace', `${TARGET_VIP}/32`, 'dev', 'eth0']);
}

const NODE_UNREACHABLE_NOTE = 'socket-level balancing off: the per-packet programs sit on the pods\' interfaces and never see the node\'s own connections; without a route for the service address connect() fails at once (ENETUNREACH). Use --socket-lb on or host-only for hostNetwork clients';

/** crr_node: connection rate from each node's own namespace to the service, rounds interleaved. */
async function measureNodeTraffic(cs: Contender[], count: number, res: Results): Promise<void> {
  const byNode = (res.crr_node ??= {});
  const runs: Contender[] = [];
  for (const c of cs) {
    await prepareNodeClient(c);
    const probe = await nodeCrr(c, 0.3);
    if (probe.conns === 0) {
      put(byNode, c.name, count, { unreachable: true, errors: probe.errors, note: c.name === 'sluice' ? NODE_UNREACHABLE_NOTE : 'no connection succeeded in a 0.3 s probe' });
      log(`  node -> service, ${count} services: ${c.name} unreachable (${probe.errors} errors in 0.3 s)`);
      continue;
    }
    runs.push(c);
  }
  const sock = runs.find((c) => c.name === 'sluice_socket');
  const before = sock ? socketTranslations(sock) : 0;
  const rates = new Map<Name, number[]>(), errs = new Map<Name, number>();
  for (let r = 0; r < CFG.rounds; r++) {
    for (const c of runs.map((_, i) => runs[(i + r) % runs.length]!)) {
      const m = await nodeCrr(c, CFG.crrSecs);
      (rates.get(c.name) ?? rates.set(c.name, []).get(c.name)!).push(m.rate);
      errs.set(c.name, (errs.get(c.name) ?? 0) + m.errors);
    }
    log(`  node -> service, ${count} services, round ${r + 1}/${CFG.rounds}: ${runs.map((c) => `${c.name} ${Math.round(rates.get(c.name)!.at(-1)!)}/s`).join(', ')}`);
  }
  const translated = sock ? socketTranslations(sock) - before : 0;
  for (const c of runs) {
    put(byNode, c.name, count, { ...summarize(rates.get(c.name)!, 0), errors: errs.get(c.name) ?? 0, ...(c === sock && { socket_translations: translated }) });
  }
}

async function bpfMapBytes(node: SimNode): Promise<{ total: number; maps: Record<string, { bytes_memlock: number; max_entries: number; type: string }> }> {
  const dir = `/sys/fs/bpf/sluice/${node.nodeName}`;
  const maps: Record<string, { bytes_memlock: number; max_entries: number; type: string }> = {};
  let total = 0;
  for (const f of fs.readdirSync(dir)) {
    const j = JSON.parse(await run('bpftool', ['-j', 'map', 'show', 'pinned', path.join(dir, f)])) as { bytes_memlock: number; max_entries: number; type: string };
    maps[f] = { bytes_memlock: j.bytes_memlock, max_entries: j.max_entries, type: j.type };
    total += j.bytes_memlock;
  }
  return { total, maps };
}

async function measureMemory(agent: Agent, count: number, endpoints: number, sizes: Record<string, number>, res: Results): Promise<void> {
  const m = rss(agent.pid);
  const b = await bpfMapBytes(agent.node);
  put(res.memory, 'sluice', count, {
    agent_rss_bytes: m.rss, agent_peak_rss_bytes: m.hwm, bpf_map_bytes: b.total, bpf_maps: b.maps,
    endpoints_per_service: endpoints, map_sizes: sizes,
    agent_program: agentMain ? 'compiled to JavaScript, as the image runs it' : 'agent/main.ts, type-stripped by Node (not as deployed)',
    note: 'agent RSS from /proc/<agent pid>/status (VmRSS, VmHWM); BPF map bytes = sum of bytes_memlock of every pinned map (bpftool), as sized with the flags in map_sizes',
  });
  log(`  memory at ${count} services: agent RSS ${(m.rss / 2 ** 20).toFixed(1)} MiB (peak ${(m.hwm / 2 ** 20).toFixed(1)}), BPF maps ${(b.total / 2 ** 20).toFixed(1)} MiB`);
  // Issue 14's headline keys, "<services>x<endpoints>" as measured.
  const key = `${count}x${endpoints}`, mib = (bytes: number) => +(bytes / 2 ** 20).toFixed(1);
  (res.memory.agent_rss_mib ??= {})[key] = mib(m.rss);
  (res.memory.bpf_maps_mib ??= {})[key] = mib(b.total);
}

// ---- one endpoint change ------------------------------------------------------------------

const POD_ID: Record<string, string> = { be1: 'A', be2: 'B' };

interface ProbeResult { opened_ns?: number; seen_ns?: number; probes?: number; timeout?: boolean }

/**
 * When (hrMs) the datapath used the new endpoint: the first probe connection it sent there was
 * opened then (bench/crr.c watch's opened_ns; the probe before, not sent there, was opened one
 * exchange and a 200 us pause earlier). Until 2026-11-29 the figure ran to that probe's answer
 * (seen_ns, kept as answered_ms): one more connection's round trip, the probe's and not the change's.
 */
function usedAt(seen: ProbeResult, who: string): number {
  if (!seen.seen_ns || !seen.opened_ns) throw new Error(`${who}: the probe never saw the new endpoint`);
  return seen.opened_ns / 1e6;
}

/** Start a prober in the client pod that reports when the probe service first answers from `want`. */
async function startWatch(cluster: SimCluster, c: Contender, want: string): Promise<Lines> {
  const w = new Lines(cluster.spawn(c.client.ns, CRR, ['watch', PROBE_VIP, String(CRR_PORT), want, '20000']));
  await w.next((l) => l === 'ready', 10000, `${c.name} probe`);
  return w;
}

async function oneChange(cluster: SimCluster, cs: Contender[], agent: Agent, servicesOf: Map<Name, BenchService[]>, count: number, res: Results): Promise<void> {
  const base = servicesOf.get('sluice')!;
  const pods = (c: Contender) => ({ be1: c.be1.ip, be2: c.be2.ip });
  const e2e = new Map<Name, number[]>(), cmd = new Map<Name, number[]>(), agentMs = new Map<Name, number[]>();
  const push = (m: Map<Name, number[]>, n: Name, v: number) => (m.get(n) ?? m.set(n, []).get(n)!).push(v);
  const cur = new Map<Name, 'be1' | 'be2'>(cs.map((c) => [c.name, 'be1']));
  const sluice = cs.find((c) => c.name === 'sluice')!;
  // The two states the probe service flips between, serialized before any timing.
  const withProbe = (ip: string) => base.map((s) => (s.namespace === 'bench' && s.name === 'probe' ? probeService(ip) : s));
  const states = { be1: stateFile(withProbe(sluice.be1.ip)), be2: stateFile(withProbe(sluice.be2.ip)) };
  const spent = new Map<Name, number>();
  // nftables: the old endpoint chain a change flushed, deleted by that contender's next change in a
  // transaction of its own first (kube-proxy deletes stale chains at the start of a sync, once they
  // are a second old); with the time it became stale.
  let nftStale: { text: string; at: number } | undefined;
  // Every contender gets WARMUP_CHANGES unmeasured changes first (k < 0): the agent's JIT, the
  // iptables-restore and nft binaries' page cache and the kernel's rule caches all start warm.
  for (let k = -WARMUP_CHANGES; k < CFG.changes; k++) {
    // Bounded: after 5 changes, a contender that has used SLOW_LOAD_MS in total stops early.
    const order = cs.map((_, i) => cs[(((i + k) % cs.length) + cs.length) % cs.length]!).filter((c) => k < 5 || (spent.get(c.name) ?? 0) <= SLOW_LOAD_MS);
    if (!order.length) break;
    for (const c of order) {
      const from = cur.get(c.name)!, to = from === 'be1' ? 'be2' : 'be1';
      const before = probeService(pods(c)[from]), after = probeService(pods(c)[to]);
      const watch = await startWatch(cluster, c, POD_ID[to]!);
      let t0: number;
      if (c.name === 'sluice') {
        const r = await agent.apply(states[to], base.length, 30000);
        t0 = hrMs() - r.e2eMs;
        if (k >= 0) push(agentMs, c.name, r.agentMs);
      } else if (c.name === 'iptables') {
        const change = iptablesChange(before, after, servicesOf.get(c.name)!);
        t0 = hrMs();
        const ms = await iptablesLoad(c, change, true);
        if (k >= 0) push(cmd, c.name, ms);
      } else {
        const { change, stale } = nftChange(before, after);
        if (nftStale) await sleep(Math.max(0, nftStale.at + 1000 - hrMs()));
        t0 = hrMs();
        if (nftStale) await nftLoad(c, nftStale.text);
        await nftLoad(c, change);
        if (k >= 0) push(cmd, c.name, hrMs() - t0);
        nftStale = stale ? { text: stale, at: hrMs() } : undefined;
      }
      const seen = JSON.parse(await watch.next((l) => l.startsWith('{'), 25000, `${c.name} probe result`)) as ProbeResult;
      const used = usedAt(seen, c.name);
      cur.set(c.name, to);
      if (k < 0) continue;
      push(e2e, c.name, used - t0);
      spent.set(c.name, (spent.get(c.name) ?? 0) + used - t0);
    }
  }
  const notes: Partial<Record<Name, string>> = {
    direct: '',
    sluice: `standalone state-file mode (re-reads every service): state file replaced (atomic rename) -> the first new connection sent to the new endpoint opened; includes the agent\'s noticing the new file (inotify) and its re-read of the whole file (standalone mode applies full snapshots). agent_ms: the agent\'s own apply time (reconcile + map writes). After ${WARMUP_CHANGES} unmeasured warm-up changes, as for every contender`,
    iptables: `iptables-restore --noflush as kube-proxy's partial sync writes it (the top-level chains in full, KUBE-SERVICES listing every service port; the changed service's chains; the old endpoint chain flushed and deleted) started -> the first new connection sent to the new endpoint opened. command_ms: the iptables-restore process wall time. After ${WARMUP_CHANGES} unmeasured warm-up changes`,
    nftables: `${nftVersion()}: first, in a transaction of its own, deleting the endpoint chain the previous change flushed (kube-proxy deletes stale chains at the start of a later sync, at least 1 s after), then nft -f of the changed service's chains with the old endpoint chain flushed, started -> the first new connection sent to the new endpoint opened. command_ms: both nft processes' wall time. After ${WARMUP_CHANGES} unmeasured warm-up changes`,
  };
  for (const c of cs) {
    const v = e2e.get(c.name)!;
    const s = summarize(v, 2);
    // Sluice's production path (control plane) is measured separately as one_change.sluice.
    put(res.sync.one_change, c.name === 'sluice' ? 'sluice_state_file' : c.name, count, {
      median_ms: s.median, p99_ms: +percentile(v, 99).toFixed(2), min_ms: s.min, max_ms: s.max, n: v.length,
      ...(cmd.has(c.name) ? { command_ms: summarize(cmd.get(c.name)!, 2) } : {}),
      ...(agentMs.has(c.name) ? { agent_ms: summarize(agentMs.get(c.name)!, 2) } : {}),
      note: notes[c.name] ?? '',
    });
    log(`  one change, ${c.name}: median ${s.median} ms, p99 ${percentile(v, 99).toFixed(2)} ms (n=${v.length})`);
  }
}

// ---- Sluice's production path: Kubernetes API watch -> control plane -> gRPC delta -> agent -----

const summ = (v: number[]) => ({ ...summarize(v, 2), p99: +percentile(v, 99).toFixed(2) });

/**
 * The agent (restarted, following the control plane) and the control plane (root namespace, Unix
 * socket) reading the fake Kubernetes API server (this process, 127.0.0.1) holding `base` as
 * Service + EndpointSlice objects. Measures (a) an agent connecting -> the snapshot of every
 * service applied, `rounds` times (an agent restart each), and (b) `changes` endpoint changes of
 * the probe service: EndpointSlice MODIFIED watch event -> the probe's first connection answered
 * by the new backend.
 */
async function productionPath(cluster: SimCluster, sl: Contender, agent: Agent, base: BenchService[], sizes: ReturnType<typeof agentSizes>,
  dir: string, count: number, res: Results): Promise<void> {
  const nodeName = sl.node.nodeName;
  const pp = new ProductionPath(cluster, fs.mkdtempSync(path.join(dir, 'cp-')));
  // The control plane and the (restarted) agent stamp their log lines (common/trace.ts).
  process.env.SLUICE_TRACE = '1';
  const restartAgent = async () => {
    await agent.stop();
    fs.rmSync(`/sys/fs/bpf/sluice/${nodeName}`, { recursive: true, force: true });
    await agent.start(sizes.maxServices, sizes.maxBackends, sizes.maglevSlots, pp.address);
  };
  try {
    // The probe starts at be1 (the last state-file change may have left it either way).
    const services = base.map((s) => (s.namespace === 'bench' && s.name === 'probe' ? probeService(sl.be1.ip) : s));
    const { syncedMs } = await pp.start(services, nodeName, cpuProfEnv('controlplane'));
    log(`  control plane synced ${services.length} services from the API server in ${syncedMs.toFixed(0)} ms`);

    // (a) agent connects -> every service applied.
    const connectMs: number[] = [], snapAgentMs: number[] = [];
    for (let r = 0; r < CFG.syncRounds; r++) {
      const seenConn = pp.connected.length;
      await restartAgent();
      const a = await waitFor('agent snapshot from the control plane', () => agent.applied.find((x) => x.snapshot && x.services === services.length), 600000, 5);
      const hello = pp.connected[seenConn];
      if (hello === undefined) throw new Error('the control plane did not log the agent\'s connection');
      connectMs.push(a.at - hello);
      snapAgentMs.push(a.ms);
      // Where the time went: the control plane building the snapshot (hello -> its "update sent"),
      // framing, the Unix socket, the agent's receive and decode (-> its apply started), the apply.
      const sent = pp.updates.find((u) => u.snapshot && u.at >= hello)?.at;
      const split = sent === undefined ? '' : `; hello -> snapshot sent ${(sent - hello).toFixed(0)} ms, -> agent apply started ${(a.at - a.ms - sent).toFixed(0)} ms`;
      log(`  round ${r + 1}: agent hello -> ${services.length} services applied in ${(a.at - hello).toFixed(0)} ms (agent apply ${a.ms} ms${split})`);
    }
    (res.programming_s ??= {}).control_plane = +(summarize(connectMs, 1).median / 1000).toFixed(3);
    put(res.sync.program, 'sluice_control_plane', count, {
      ...summarize(connectMs, 1), agent_ms: summarize(snapAgentMs, 1),
      note: `production path, agent (re)connecting: control plane (already synced from the API server) logs the agent's hello -> agent logs "applied" for the snapshot of ${services.length} services (snapshot build, gRPC over a Unix socket, decode, Maglev tables, map writes; an agent restart per round)`,
    });
    // The new agent's tc programs attach on its first interface scan.
    await waitFor('sluice service via the control plane', async () => { try { await verify(sl); return true; } catch { return false; } }, 15000, 300);

    // (b) one endpoint change.
    const e2e: number[] = [], agentMs: number[] = [], toCp: number[] = [], cpToAgent: number[] = [], answered: number[] = [];
    // Where each change's time went, from the processes' own CLOCK_MONOTONIC stamps (SLUICE_TRACE,
    // common/trace.ts), not from when the benchmark read their log lines.
    const stages: Record<string, number[]> = {};
    const STAGES: Array<[string, string, string]> = [
      ['api_to_cp_read', 't0', 'cpWatchData'], ['cp_read_to_flush', 'cpWatchData', 'cpFlush'], ['cp_flush_to_send', 'cpFlush', 'cpSend'],
      ['cp_send_to_agent_received', 'cpSend', 'agentReceived'], ['agent_received_to_apply', 'agentReceived', 'agentApply'],
      ['agent_apply_maps', 'agentApply', 'agentMapsWritten'], ['maps_to_probe_opened', 'agentMapsWritten', 'seen'],
    ];
    let cur: 'be1' | 'be2' = 'be1';
    // Two unmeasured changes first: the control plane and the agent are Node processes that a
    // cluster runs for days; their first delta runs cold (JIT) code paths.
    for (let k = -WARMUP_CHANGES; k < CFG.changesCp; k++) {
      const to: 'be1' | 'be2' = cur === 'be1' ? 'be2' : 'be1';
      const watch = await startWatch(cluster, sl, POD_ID[to]!);
      const seenA = agent.applied.length, seenU = pp.updates.length;
      const t0 = pp.modify(probeService(to === 'be1' ? sl.be1.ip : sl.be2.ip), nodeName);
      const seen = JSON.parse(await watch.next((l) => l.startsWith('{'), 25000, 'sluice (control plane) probe result')) as ProbeResult;
      const used = usedAt(seen, 'sluice (control plane)');
      const a = await waitFor('agent delta', () => agent.applied.slice(seenA).find((x) => !x.snapshot), 10000, 2);
      cur = to;
      if (k < 0) continue;
      e2e.push(used - t0);
      answered.push(seen.seen_ns! / 1e6 - t0);
      agentMs.push(a.ms);
      const u = pp.updates.slice(seenU).find((x) => !x.snapshot && x.upserts > 0);
      if (u) { toCp.push(u.at - t0); cpToAgent.push(a.at - u.at); }
      if (u?.trace && a.trace) {
        const at: Record<string, number | undefined> = { ...u.trace, ...a.trace, t0, seen: used };
        const row: string[] = [];
        for (const [name, from, to] of STAGES) {
          const x = at[from], y = at[to];
          if (x !== undefined && y !== undefined) { (stages[name] ??= []).push(y - x); row.push(`${name} ${(y - x).toFixed(2)}`); }
        }
        // What else the processes were busy with meanwhile: spans (xStart..xEnd) overlapping the change.
        const busy: string[] = [];
        for (const [who, tr] of [['cp', u.trace], ['agent', a.trace]] as const) {
          for (const [key, start] of Object.entries(tr)) {
            if (!key.endsWith('Start')) continue;
            const end = tr[key.replace(/Start$/, 'End')];
            if (end !== undefined && end >= t0 - 1 && start <= used) busy.push(`${who} ${key.slice(0, -5)} ${(end - start).toFixed(2)} ms at +${(start - t0).toFixed(2)}`);
          }
        }
        if (k >= 0 && used - t0 > 5) log(`    slow change (${(used - t0).toFixed(2)} ms): ${row.join(', ')}${busy.length ? `; busy: ${busy.join(', ')}` : ''}`);
      }
    }
    const s = summ(e2e);
    res.change_ms = { p50: s.median, p99: s.p99, n: e2e.length };
    put(res.sync.one_change, 'sluice', count, {
      median_ms: s.median, p99_ms: s.p99, min_ms: s.min, max_ms: s.max, n: e2e.length,
      agent_ms: summarize(agentMs, 2), answered_ms: summ(answered),
      ...(toCp.length ? { api_to_cp_send_ms: summ(toCp), cp_send_to_agent_applied_ms: summ(cpToAgent) } : {}),
      ...(Object.keys(stages).length ? { stages_ms: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, summ(v)])) } : {}),
      note: `production path: the fake Kubernetes API server emits the MODIFIED EndpointSlice watch event -> control plane informers -> store -> gRPC delta of the one service (Unix socket) -> agent Reconciler.applyDelta -> the first new connection sent to the new endpoint opened (after ${WARMUP_CHANGES} unmeasured warm-up changes). answered_ms: to that connection's answer instead (the figure before 2026-11-29 night). agent_ms: the agent\'s own apply time for the delta; api_to_cp_send_ms: watch event -> control plane logs "update sent"; cp_send_to_agent_applied_ms: that log line -> the agent\'s "applied" log line (both as seen by the benchmark on the processes\' stdout); stages_ms: the same path from the processes\' own CLOCK_MONOTONIC stamps (SLUICE_TRACE=1, common/trace.ts): API write -> control plane reads the watch data -> store flush -> update sent -> agent receives it -> apply starts -> maps written -> probe connection opened (negative when the probe\'s connection went out while the rest of the apply was still running)`,
    });
    for (const [k, v] of Object.entries(stages)) log(`    ${k}: median ${summ(v).median} ms, p99 ${summ(v).p99} ms, max ${summ(v).max} ms`);
    log(`  one change, sluice via control plane: median ${s.median} ms, p99 ${s.p99} ms (n=${e2e.length}; agent apply median ${summarize(agentMs, 2).median} ms${toCp.length ? `, API -> control plane sent ${summ(toCp).median} ms, -> agent applied ${summ(cpToAgent).median} ms` : ''})`);
  } finally {
    await pp.stop();
  }
}

// ---- the control plane's own figures (controlplane/bench-sync.ts) ----------------------------

/*
 * HOOK: control plane sync figures. controlplane/bench-sync.ts (owned by the control plane) is run
 * as a bounded subprocess when it exists; its JSON (last stdout line) is merged as sync.controlplane.
 * When it is missing or fails, sync.controlplane says so and the rest of the run is unaffected.
 */
async function controlPlaneSync(services: number): Promise<unknown> {
  const script = path.join(REPO, 'controlplane/bench-sync.ts');
  if (!fs.existsSync(script)) {
    log('  controlplane/bench-sync.ts not found: control plane figures skipped');
    return { skipped: 'controlplane/bench-sync.ts not found' };
  }
  const limit = QUICK ? 40 : 180;
  const r = spawnSync('timeout', [String(limit), process.execPath, script, '--services', String(services), '--endpoints', String(FILLER_ENDPOINTS),
    '--changes', String(CFG.cpChanges)], { encoding: 'utf8', maxBuffer: 64 << 20, cwd: REPO });
  // It prints one JSON object (possibly indented over several lines); take the last one.
  const text = (r.stdout ?? '').trim();
  const start = text.startsWith('{') ? 0 : text.lastIndexOf('\n{') + 1;
  const last = start >= 0 && text ? text.slice(start) : '';
  if (r.status !== 0 || !last) {
    log(`  controlplane/bench-sync.ts failed (exit ${r.status}): skipped`);
    return { skipped: `controlplane/bench-sync.ts exit ${r.status}${r.status === 124 ? ' (time limit)' : ''}: ${(r.stderr ?? '').trim().slice(-300)}` };
  }
  try {
    const j = JSON.parse(last) as unknown;
    log(`  control plane: ${JSON.stringify(j).slice(0, 300)}`);
    return { services, endpoints_per_service: FILLER_ENDPOINTS, ...(j as object) };
  } catch {
    return { skipped: 'controlplane/bench-sync.ts printed no JSON' };
  }
}

/**
 * HOOK: control plane memory on the production path (informers included): bench/cp-memory.ts as
 * deployed (bench/lib/deployed.ts: compiled to JavaScript as the image is, with the Node settings
 * of deploy/base/controlplane.yaml), at `services` x `endpoints`; the old-space cap is raised where
 * the manifest's would not hold the data (docs/benchmarks.md, "control plane memory"). `script`:
 * the compiled bench/cp-memory.js. Bounded; failures are recorded, not fatal.
 */
function controlPlaneMemory(script: string, services: number, endpoints: number, oldSpaceMib?: number): Record<string, unknown> {
  const env = controlPlaneNodeEnv(oldSpaceMib);
  const limit = services > 20_000 ? 1800 : QUICK ? 120 : 300;
  const r = spawnSync('timeout', [String(limit), process.execPath, '--expose-gc', script, '--services', String(services),
    '--endpoints', String(endpoints), '--agents', '2', '--changes', '20'], {
    encoding: 'utf8', maxBuffer: 64 << 20, cwd: REPO, env: { ...process.env, ...env },
  });
  const text = (r.stdout ?? '').trim().split('\n').at(-1) ?? '';
  try {
    if (r.status !== 0) throw new Error();
    const j = JSON.parse(text) as { phases: { phase: string; rss_mib: number; peak_rss_mib: number; heap_used_mib: number }[] };
    const served = j.phases.find((p) => p.phase === 'changed') ?? j.phases.at(-1)!;
    log(`  control plane memory at ${services} x ${endpoints}: RSS ${served.rss_mib} MiB (peak ${served.peak_rss_mib}), heap used ${served.heap_used_mib} MiB`);
    return { rss_mib: served.rss_mib, peak_rss_mib: served.peak_rss_mib, heap_used_mib: served.heap_used_mib, node_options: env.NODE_OPTIONS, ...j };
  } catch {
    log(`  bench/cp-memory.ts at ${services} x ${endpoints} failed (exit ${r.status}): skipped`);
    return { skipped: `bench/cp-memory.ts exit ${r.status}${r.status === 124 ? ' (time limit)' : ''}: ${(r.stderr ?? '').trim().slice(-300)}` };
  }
}

// ---- main ---------------------------------------------------------------------------------

/** The agent's default map sizes when they hold `services` x `endpoints` (memory is reported at default sizes), else sizes for the run. */
function agentSizes(services: number, endpoints: number) {
  // u16 slots of a run: the table, rounded to a word, and two per backend id (agent/maglev.ts).
  const run = (n: number) => 2 * maglevRunWords(maglevSize(n), n);
  const slots = (services - 1) * run(endpoints) + 2 * run(2);
  const d = DEFAULT_SIZES;
  if (services + 16 <= d.services && services * endpoints + 16 <= d.backends && slots + 4 * run(endpoints) <= d.maglev) {
    return { maxServices: d.services, maxBackends: d.backends, maglevSlots: d.maglev };
  }
  return {
    maxServices: Math.max(1024, Math.ceil((services + 16) * 1.25)),
    maxBackends: Math.max(4096, Math.ceil((services * endpoints + 16) * 1.25)),
    // Room for the table being rebuilt next to the live one during a change, plus 5%.
    maglevSlots: Math.ceil(slots * 1.05) + 4 * run(endpoints),
  };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  compile();
  fs.mkdirSync(OUT, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  log(`${QUICK ? 'quick' : 'full'} run; results to ${OUT}`);
  const cluster = await SimCluster.create({ nodes: ALL.map((n) => NODE_OF[n]) });
  const res: Results = {
    meta: {}, crr: {}, crr_node: {}, throughput_gbps: {}, bpf_ns_per_run: {}, sync: { program: {}, one_change: {}, controlplane: null }, memory: {}, load_ms: {},
  };
  try {
    // Topology: the same three pods on every contender's node.
    const cs: Contender[] = [];
    for (const name of ALL) {
      const node = cluster.node(NODE_OF[name]);
      const client = await cluster.addPod(node.name, 'client');
      const be1 = await cluster.addPod(node.name, 'be1');
      const be2 = await cluster.addPod(node.name, 'be2');
      // Many short connections: a wide port range and TIME_WAIT reuse in the client pod, and TCP
      // timestamps without per-destination random offsets (tcp_timestamps=2). The client reaches
      // the same backend socket under two destination addresses (the VIP of the measured service
      // and of the probe service); with random offsets a new SYN that reuses a tuple still in the
      // backend's TIME_WAIT fails PAWS and waits for a 1 s retransmit, on every contender alike.
      await nsRun(client.ns, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.tcp_timestamps=2']);
      for (const [pod, id] of [[be1, 'A'], [be2, 'B']] as const) {
        await new Lines(cluster.spawn(pod.ns, SRV, [String(CRR_PORT), id])).next((l) => l === 'ready', 10000, `srv in ${pod.ns}`);
        // Its IPv6 twin on the same port (IPv6-only socket), for the IPv6 rows.
        if (CFG.countsV6.length) await new Lines(cluster.spawn(pod.ns, SRV, [String(CRR_PORT), id, '6'])).next((l) => l === 'ready', 10000, `srv (IPv6) in ${pod.ns}`);
      }
      drain(cluster.spawn(be1.ns, 'iperf3', ['-s', '-p', String(IPERF_PORT)]));
      await waitFor(`iperf3 -s in ${be1.ns}`, async () => (await nsRun(be1.ns, 'ss', ['-ltnH', `sport = :${IPERF_PORT}`])).trim(), 10000, 50);
      await setConntrack(node.ns, true);
      cs.push({ name, node, client, be1, be2 });
    }
    const byName = (n: Name) => cs.find((c) => c.name === n)!;
    const pods = (c: Contender) => ({ be1: c.be1.ip, be2: c.be2.ip });

    const n = CFG.syncCount;
    const syncSet = (c: Contender) => benchServices(n, FILLER_ENDPOINTS, pods(c), c.be1.ip);
    const prog = new Map<Name, number[]>(), progAgent: number[] = [];
    // Partial results are written after every phase, so a run cut short still leaves its figures.
    const checkpoint = () => { try { res.meta = meta(Date.now() - t0); writeReport(res, OUT, QUICK); } catch (e) { log(`  (partial report: ${(e as Error).message})`); } };
    const maxCount = Math.max(...CFG.counts, CFG.syncCount);
    const sizes = agentSizes(Math.max(maxCount, ...CFG.countsV6) + 1, FILLER_ENDPOINTS);
    // The agents run as the image runs them (compiled JavaScript); a quick run skips the compile.
    if (!QUICK) {
      try { agentMain = compiledAgent(fs.mkdtempSync(path.join(tmp, 'agent-js-'))); } catch (e) {
        log(`  compiling the agent failed (${(e as Error).message.slice(0, 200)}): running agent/main.ts, type-stripped`);
      }
    }
    const agent = new Agent(cluster, byName('sluice').node, tmp);
    await agent.start(sizes.maxServices, sizes.maxBackends, sizes.maglevSlots);
    const sockAgent = ONLY_PROGRAMMING ? agent : new Agent(cluster, byName('sluice_socket').node, tmp, ['--socket-lb', 'on']);
    if (!ONLY_PROGRAMMING) await sockAgent.start(sizes.maxServices, sizes.maxBackends, sizes.maglevSlots);
    const agentOf = (c: Contender) => (c.name === 'sluice_socket' ? sockAgent : agent);
    const agentPid = (c: Contender) => (c.name === 'sluice' || c.name === 'sluice_socket' ? agentOf(c).pid : undefined);
    log(`topology up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${cs.map((c) => `${c.name} (${c.node.ns})`).join(', ')}`);

    if (ONLY_V6) {
      if (!CFG.countsV6.length) throw new Error('BENCH_ONLY=crr_v6 with no IPv6 service count (BENCH_V6_COUNTS, BENCH_SKIP)');
      await measureV6(cs, agentOf, agentPid, res);
      res.meta = meta(Date.now() - t0);
      writeReport(res, OUT, QUICK);
      log(`IPv6 rows only (BENCH_ONLY=crr_v6): ${path.join(OUT, 'latest.json')}`);
      return;
    }

    // 1. Connection rate and throughput at each service count.
    for (const count of CFG.counts) {
      log(`programming ${count} services (${FILLER_ENDPOINTS} endpoints each) into every contender`);
      for (const c of cs) {
        // At the programming test's size the probe service is included, so this load from nothing
        // is also that test's first round (nft -f of 10,000 x 10 takes minutes: load it once).
        const services = count === CFG.syncCount ? syncSet(c) : benchServices(count, FILLER_ENDPOINTS, pods(c));
        const r = await program(c, services, agentOf(c));
        (res.load_ms[c.name] ??= {})[String(count)] = [+r.ms.toFixed(1)];
        if (count === CFG.syncCount && !TRAFFIC_ONLY.includes(c.name)) {
          (prog.get(c.name) ?? prog.set(c.name, []).get(c.name)!).push(r.ms);
          if (r.agentMs !== undefined) progAgent.push(r.agentMs);
        }
        await verify(c);
      }
      checkpoint();
      if (ONLY_PROGRAMMING) continue;
      const before = socketTranslations(byName('sluice_socket'));
      await measureTraffic(cs, count, res, agentPid);
      res.crr.sluice_socket![String(count)]!.socket_translations = socketTranslations(byName('sluice_socket')) - before;
      await measureNodeTraffic(cs, count, res);
      checkpoint();
      if (count === maxCount) await measureMemory(agent, count, FILLER_ENDPOINTS, sizes, res);
    }
    // 1b. The IPv6 rows, on the same nodes and pods.
    if (CFG.countsV6.length && !ONLY_PROGRAMMING) {
      await measureV6(cs, agentOf, agentPid, res);
      checkpoint();
    }
    if (TRAFFIC_PHASE_ONLY) {
      res.meta = meta(Date.now() - t0);
      writeReport(res, OUT, QUICK);
      log(`traffic phase only (BENCH_TRAFFIC_ONLY): ${path.join(OUT, 'latest.json')}`);
      return;
    }

    // 2. Programming N x 10 from nothing, rounds interleaved.
    const syncers = cs.filter((c) => !TRAFFIC_ONLY.includes(c.name));
    log(`programming ${n} services x ${FILLER_ENDPOINTS} endpoints from nothing, ${CFG.syncRounds} rounds (the first was the load above)`);
    if (!CFG.counts.includes(n)) throw new Error('syncCount must be one of the counts');
    const svcOf = new Map(syncers.map((c) => [c.name, syncSet(c)]));
    const sluiceState = stateFile(svcOf.get('sluice')!);
    for (let r = 1; r < CFG.syncRounds; r++) {
      const order = syncers.map((_, i) => syncers[(i + r) % syncers.length]!)
        // Bounded: a contender whose load took over a minute is measured once (nft -f of 10,000 x 10
        // takes minutes on Debian 12's nft 1.0.6), and the run notes it.
        .filter((c) => (prog.get(c.name)?.[0] ?? 0) <= SLOW_LOAD_MS);
      for (const c of order) {
        const x = await program(c, svcOf.get(c.name)!, agent, { state: sluiceState });
        (prog.get(c.name) ?? prog.set(c.name, []).get(c.name)!).push(x.ms);
        if (x.agentMs !== undefined) progAgent.push(x.agentMs);
      }
      if (order.length) log(`  round ${r + 1}: ${order.map((c) => `${c.name} ${prog.get(c.name)!.at(-1)!.toFixed(0)} ms`).join(', ')}`);
    }
    const progNotes: Record<string, string> = {
      sluice: `agent running with no services; state file with ${n + 1} services replaced -> agent logs "applied" (includes the agent noticing the new file through inotify, JSON parse, Maglev tables, map writes). agent_ms: the agent's own apply time. Control plane figures: sync.controlplane`,
      iptables: `iptables-restore of kube-proxy's full nat table (${n + 1} services) into an empty table: process wall time`,
      nftables: `nft -f (${nftVersion()}) of kube-proxy's nftables table (${n + 1} services) into an empty ruleset: process wall time`,
    };
    for (const c of syncers) {
      put(res.sync.program, c.name, n, {
        ...summarize(prog.get(c.name)!, 1),
        ...(c.name === 'sluice' ? { agent_ms: summarize(progAgent, 1) } : {}),
        note: progNotes[c.name]!,
      });
    }
    for (const c of syncers) await verify(c);
    (res.programming_s ??= {}).state_file = +(summarize(prog.get('sluice')!, 1).median / 1000).toFixed(3);
    checkpoint();

    // 3. One endpoint change -> datapath using it.
    log(`one endpoint change, ${CFG.changes} times per contender, at ${n + 1} services`);
    await oneChange(cluster, syncers, agent, svcOf, n, res);
    checkpoint();

    // 3b. The same through Sluice's production path (API server -> control plane -> agent).
    log(`sluice through the production path (fake API server -> control plane -> gRPC -> agent) at ${n + 1} services`);
    await productionPath(cluster, byName('sluice'), agent, svcOf.get('sluice')!, sizes, tmp, n, res);
    checkpoint();

    // 4. The control plane's own sync figures, when controlplane/bench-sync.ts exists.
    res.sync.controlplane = ONLY_PROGRAMMING ? { skipped: 'BENCH_ONLY=programming' } : await controlPlaneSync(n);
    checkpoint();
    // 4b. Its memory with informers, as deployed (10,000 x 10; 100,000 x 10 on full runs).
    // Quick mode runs it as TypeScript (no ~1.5 min tsc pass; ~18 MiB more, recorded as compiled: false).
    // BENCH_SKIP=cp_memory leaves it out (e.g. with BENCH_ONLY=programming, to look at the change figures alone).
    let cpMemScript = QUICK ? path.join(REPO, 'bench/cp-memory.ts') : '';
    try {
      if (!SKIP.includes('cp_memory')) cpMemScript ||= compileToJs(['bench/cp-memory.ts'], fs.mkdtempSync(path.join(tmp, 'cp-js-')))[0]!;
    } catch (e) {
      log(`  compiling bench/cp-memory.ts failed (${(e as Error).message.slice(0, 200)}): control plane memory skipped`);
    }
    const skipped = { skipped: 'bench/cp-memory.ts did not compile' };
    const cpMem = SKIP.includes('cp_memory') ? { skipped: 'BENCH_SKIP=cp_memory' } : cpMemScript ? controlPlaneMemory(cpMemScript, n, FILLER_ENDPOINTS) : skipped;
    const cpMemBig = CFG.big ? (cpMemScript ? controlPlaneMemory(cpMemScript, CFG.big, FILLER_ENDPOINTS, 2048) : skipped) : undefined;
    res.memory.controlplane = { [`${n}x${FILLER_ENDPOINTS}`]: cpMem, ...(cpMemBig ? { [`${CFG.big}x${FILLER_ENDPOINTS}`]: cpMemBig } : {}) };
    res.memory.controlplane_rss_mib = Object.fromEntries(Object.entries(res.memory.controlplane).map(([k, v]) => [k, typeof v.rss_mib === 'number' ? v.rss_mib : null]));
    checkpoint();

    // 5. Sluice at 100,000 services (1 endpoint each; a fresh agent with maps sized for it).
    if (CFG.big) {
      const big = CFG.big;
      log(`sluice at ${big} services (${BIG_ENDPOINTS} endpoint each): restarting the agent with maps sized for it`);
      await agent.stop();
      fs.rmSync(`/sys/fs/bpf/sluice/${agent.node.nodeName}`, { recursive: true, force: true });
      const bigSizes = agentSizes(big, BIG_ENDPOINTS);
      await agent.start(bigSizes.maxServices, bigSizes.maxBackends, bigSizes.maglevSlots);
      const sl = byName('sluice');
      const services = benchServices(big, BIG_ENDPOINTS, pods(sl));
      await waitFor('agent to attach to the pods', () => agent.applied.length > 0, 10000);
      const r = await program(sl, services, agent);
      (res.load_ms.sluice ??= {})[String(big)] = [+r.ms.toFixed(1)];
      log(`  programmed ${big} services in ${r.ms.toFixed(0)} ms (agent ${r.agentMs} ms)`);
      // Tc programs of the new agent attach on its first scan; wait until the service answers.
      await waitFor('sluice service at 100,000', async () => { try { await verify(sl); return true; } catch { return false; } }, 15000, 300);
      // The socket-level agent too, sized the same.
      const so = byName('sluice_socket');
      await sockAgent.stop();
      fs.rmSync(`/sys/fs/bpf/sluice/${so.node.nodeName}`, { recursive: true, force: true });
      await sockAgent.start(bigSizes.maxServices, bigSizes.maxBackends, bigSizes.maglevSlots);
      await program(so, benchServices(big, BIG_ENDPOINTS, pods(so)), sockAgent);
      await verify(so);
      await measureTraffic([byName('direct'), sl, so], big, res, agentPid);
      await measureNodeTraffic([byName('direct'), sl, so], big, res);
      // Memory at 100,000 services x 10 endpoints (issue 14's second figure; 1,000,000 backends): the
      // agent restarted with maps sized for it and programmed from nothing, then left 5 s to settle.
      log(`sluice memory at ${big} services x ${FILLER_ENDPOINTS} endpoints: restarting the agent with maps sized for it`);
      await agent.stop();
      fs.rmSync(`/sys/fs/bpf/sluice/${agent.node.nodeName}`, { recursive: true, force: true });
      const memSizes = agentSizes(big, FILLER_ENDPOINTS);
      await agent.start(memSizes.maxServices, memSizes.maxBackends, memSizes.maglevSlots);
      await waitFor('agent to attach to the pods', () => agent.applied.length > 0, 10000);
      const rm = await program(sl, benchServices(big, FILLER_ENDPOINTS, pods(sl)), agent);
      log(`  programmed ${big} x ${FILLER_ENDPOINTS} in ${rm.ms.toFixed(0)} ms (agent ${rm.agentMs} ms)`);
      await sleep(5000);
      await measureMemory(agent, big, FILLER_ENDPOINTS, memSizes, res);
    }

    // The profiles are written when the processes exit of their own accord.
    if (CPU_PROF) await Promise.all([agent.stop(), ...(sockAgent !== agent ? [sockAgent.stop()] : [])]);
    res.meta = meta(Date.now() - t0);
    writeReport(res, OUT, QUICK);
    log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${path.join(OUT, 'latest.json')}, latest.md, crr.png`);
  } finally {
    await cluster.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function meta(ms: number): Record<string, unknown> {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const iperfV = spawnSync('iperf3', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
  return {
    date: new Date().toISOString(), host: os.hostname(), kernel: os.release(), cpu, cpus: os.cpus().length,
    memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version, iperf3: iperfV.trim(), ...toolVersions(),
    mode: QUICK ? 'quick' : 'full', duration_s: Math.round(ms / 1000),
    config: { ...CFG, filler_endpoints: FILLER_ENDPOINTS, big_endpoints: BIG_ENDPOINTS },
    client: 'bench/crr.c: one connection at a time: connect, write 1 byte, read the 1-byte reply, wait for the server\'s FIN, close',
    server: 'bench/srv.c: single-threaded accept, read 1 byte, write 1 byte, close (server closes first)',
  };
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
