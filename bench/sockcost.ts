// Socket-level balancing's cost per connection in the kernel, two datapath builds side by side in
// one run (docs/benchmarks.md, "Socket-level balancing: cost per connection"). Two simulated nodes,
// each with pods client, be1, be2 and an agent with --socket-lb on and the same services: one runs
// this checkout's agent and build/bpf, the other SOCKCOST_BASE's (a worktree of the base branch,
// its node_modules linked, built with `make build`). Rounds alternate between the two nodes: new TCP connections
// (bench/crr.c: connect, 1-byte request and reply, close) from the client pod to the ClusterIP over
// IPv4 and over IPv6, and per round the kernel's run time of every program at the node
// (bench/lib/bpfstats.ts): sl_sock_connect4/6 once per connection, sl_from_pod / sl_to_pod on the
// veths for the packets the translated connection then sends as a direct one.
//
//   SOCKCOST_BASE=/tmp/base node bench/sockcost.ts
//   SOCKCOST_SOCKET_LB=off: the same with socket-level balancing off, so every packet takes the
//   per-packet path (sl_from_pod / sl_to_pod translate; issue 14's ClusterIP row)
//   SOCKCOST_SERVICES (10000 IPv4 services; the IPv6 target is one more) x SOCKCOST_ENDPOINTS (10;
//   1 for 100,000 services, as bench/run.ts), SOCKCOST_ROUNDS (6), SOCKCOST_SECS (3), BENCH_OUT (where sockcost.json goes; default bench/results)
//
// Everything lives in sluice-<run>-* namespaces and cgroups, removed at the end, also after failures.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maglevSize } from '../agent/maglev.ts';
import { SimAgent } from '../sim/agent.ts';
import { REPO, SimCluster, type SimNode, type SimPod } from '../sim/cluster.ts';
import { nsRun, sleep } from '../sim/netns.ts';
import { costs, enableBpfStats, nodePrograms, readCounters, summarizeCosts, type EntryCost } from './lib/bpfstats.ts';
import { benchServices, CRR_PORT, FAMILIES, stateFile } from './lib/model.ts';
import { buildCTools, Lines } from './lib/proc.ts';
import { summarize } from './lib/stats.ts';

const BASE = process.env.SOCKCOST_BASE;
const SERVICES = Number(process.env.SOCKCOST_SERVICES ?? 10000);
const ENDPOINTS = Number(process.env.SOCKCOST_ENDPOINTS ?? 10);
const ROUNDS = Number(process.env.SOCKCOST_ROUNDS ?? 6);
const SECS = Number(process.env.SOCKCOST_SECS ?? 3);
const SOCKET_LB = process.env.SOCKCOST_SOCKET_LB === 'off' ? 'off' : 'on';
const OUT = path.resolve(process.env.BENCH_OUT ?? path.join(REPO, 'bench/results'));
const BUILD = path.join(REPO, 'build/bench');
const CRR = path.join(BUILD, 'crr'), SRV = path.join(BUILD, 'srv');
const log = (msg: string) => process.stdout.write(`[sockcost ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface Side { label: 'base' | 'this'; node: SimNode; client: SimPod; be1: SimPod; be2: SimPod; agent?: SimAgent }
interface Round { side: string; fam: 4 | 6; rate: number; errors: number; bpf: Record<string, EntryCost> }

const compile = () => buildCTools(REPO, [['bench/crr.c', CRR], ['bench/srv.c', SRV]]);

async function crr(s: Side, fam: 4 | 6, secs: number): Promise<{ conns: number; errors: number; rate: number }> {
  const out = await nsRun(s.client.ns, 'timeout', [String(secs + 20), CRR, 'crr', FAMILIES[fam].targetVip, String(CRR_PORT), String(secs)], { cgroup: s.client.cgroup });
  return JSON.parse(out.trim()) as { conns: number; errors: number; rate: number };
}

async function main(): Promise<void> {
  if (!BASE || !fs.existsSync(path.join(BASE, 'build/bpf/sluice_sock.o'))) throw new Error('SOCKCOST_BASE: a checkout of the base with its datapath built (make build in a worktree of it)');
  compile();
  const cluster = await SimCluster.create({ nodes: ['skb', 'skt'] });
  const stopStats = enableBpfStats();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-sockcost-'));
  const sides: Side[] = [];
  try {
    for (const [label, name] of [['base', 'skb'], ['this', 'skt']] as const) {
      const node = cluster.node(name);
      const pods: SimPod[] = [];
      for (const p of ['client', 'be1', 'be2']) pods.push(await cluster.addPod(name, p));
      const [client, be1, be2] = pods as [SimPod, SimPod, SimPod];
      for (const [pod, id] of [[be1, 'be1'], [be2, 'be2']] as const) {
        await new Lines(cluster.spawn(pod.ns, SRV, [String(CRR_PORT), id])).next((l) => l === 'ready', 10000, `srv in ${pod.ns}`);
        await new Lines(cluster.spawn(pod.ns, SRV, [String(CRR_PORT), id, '6'])).next((l) => l === 'ready', 10000, `srv (IPv6) in ${pod.ns}`);
      }
      const services = [
        ...benchServices(SERVICES, ENDPOINTS, { be1: be1.ip, be2: be2.ip }),
        ...benchServices(1, 10, { be1: be1.ip6, be2: be2.ip6 }, undefined, 6).map((x) => ({ ...x, name: `${x.name}6` })),
      ];
      const sf = path.join(tmp, `state-${name}.json`);
      fs.writeFileSync(sf, stateFile(services));
      const n = services.length;
      const agent = await SimAgent.start(cluster, name, {
        stateFile: sf, readyTimeoutMs: 180000,
        ...(label === 'base' ? { checkout: BASE } : {}),
        args: ['--socket-lb', SOCKET_LB,
          '--max-services', String(Math.ceil(n * 1.25) + 64), '--max-backends', String(Math.ceil(n * ENDPOINTS * 1.25) + 64),
          '--maglev-slots', String(Math.ceil(((n + 8) * maglevSize(ENDPOINTS) + 4 * maglevSize(2)) * 1.1))],
      });
      await agent.waitLog((l) => l.msg === 'applied' && Number(l.services) === n, 180000);
      sides.push({ label, node, client, be1, be2, agent });
      log(`${label}: node ${node.ns}, ${n} services, agent and datapath of ${label === 'base' ? BASE : 'this checkout'}`);
    }
    for (const s of sides) {
      for (const fam of [4, 6] as const) {
        const r = await crr(s, fam, 0.5);
        if (!r.conns || r.errors) throw new Error(`${s.label}: IPv${fam} service does not answer (${JSON.stringify(r)})`);
      }
    }
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which build goes first, so neither always meets the machine in the same state.
      for (const s of i % 2 ? [...sides].reverse() : sides) {
        for (const fam of [4, 6] as const) {
          const progs = await nodePrograms(s.node);
          const before = await readCounters(progs);
          const r = await crr(s, fam, SECS);
          const bpf = costs(before, await readCounters(progs), r.conns);
          rounds.push({ side: s.label, fam, rate: r.rate, errors: r.errors, bpf });
          const pick = (p: string) => bpf[p] ? `${p} ${bpf[p]!.ns_per_run} ns x${bpf[p]!.runs_per_conn}` : '';
          log(`round ${i + 1}/${ROUNDS} ${s.label} IPv${fam}: ${Math.round(r.rate)}/s, ${r.errors} errors; ` +
            [`sl_sock_connect${fam}`, 'sl_from_pod', 'sl_to_pod'].map(pick).filter(Boolean).join(', '));
        }
      }
    }
    const result: Record<string, Record<string, unknown>> = {};
    for (const s of sides) {
      for (const fam of [4, 6] as const) {
        const rs = rounds.filter((r) => r.side === s.label && r.fam === fam);
        (result[s.label] ??= {})[`ipv${fam}`] = {
          rate: summarize(rs.map((r) => r.rate), 0), errors: rs.reduce((n, r) => n + r.errors, 0),
          bpf_ns_per_run: summarizeCosts(rs.map((r) => r.bpf)),
        };
      }
    }
    const out = {
      meta: { date: new Date().toISOString(), kernel: os.release(), socket_lb: SOCKET_LB, services: SERVICES, endpoints: ENDPOINTS, rounds: ROUNDS, secs: SECS, base: BASE,
        loadavg: os.loadavg(), method: 'two nodes, one per datapath build, same services and pods; rounds alternate between them; medians (min-max) over rounds of the kernel\'s run_time_ns / run_cnt per program' },
      result, rounds,
    };
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(path.join(OUT, 'sockcost.json'), JSON.stringify(out, null, 1) + '\n');
    for (const fam of [4, 6] as const) {
      for (const p of [`sl_sock_connect${fam}`, 'sl_from_pod', 'sl_to_pod']) {
        const fig = (label: string) => {
          const e = ((result[label]![`ipv${fam}`] as { bpf_ns_per_run: Record<string, { ns_per_run: { median: number; min: number; max: number } }> }).bpf_ns_per_run)[p];
          return e ? `${e.ns_per_run.median} (${e.ns_per_run.min}-${e.ns_per_run.max})` : '-';
        };
        log(`IPv${fam} ${p.padEnd(18)} ns/run  base ${fig('base').padEnd(22)} this ${fig('this')}`);
      }
    }
    log(`written ${path.join(OUT, 'sockcost.json')}`);
  } finally {
    stopStats();
    for (const s of sides) if (s.agent) await Promise.race([s.agent.kill('SIGTERM'), sleep(5000)]).catch(() => undefined);
    await cluster.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`sockcost failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
