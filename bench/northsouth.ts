// The north-south part of `make bench` (issue 7, "Speed"): from a host outside the cluster,
// through a node's eth0, to a backend pod. See docs/benchmarks-northsouth.md.
//
//   node bench/northsouth.ts               full run (~5-8 min)
//   BENCH_QUICK=1 node bench/northsouth.ts smoke run (< 90 s)
//   BENCH_OUT=DIR                          where northsouth.json, .md and .png go (default bench/results)
//
// Topology (one run, one simulated cluster; every node has the same shape, one per contender, so no
// contender's rules or programs ever see another's traffic):
//   outside (10.10.0.100) --fabric bridge-- node eth0 -- lxc veth -- pod "be" (srv :80, iperf3 :5201)
//   direct      node "dir": no service; the outside host routes the pod CIDR via the node (no NAT)
//   sluice-xdp  node "xdp": the agent with --external-mode xdp-native on eth0
//   sluice-xdp-remote  the same node's NodePort, backend on node "rem" (SNAT to the node, XDP_TX)
//   sluice-xdp-remote-uncached  the same, its next-hop cache (bpf/lib/next_hop.h) turned off for
//               its rounds only (a route and neighbour lookup per frame, as before the cache)
//   direct-remote  node "rem"'s pod from outside through node "dir": the kernel forwards both ways
//               (outside -> dir -> rem -> pod and back the same way), the hops of sluice-xdp-remote
//   sluice-tc   node "tc": the agent with --external-mode tc
//   iptables    node "ipt": kube-proxy's iptables-mode NodePort nat table
//   nftables    node "nft": kube-proxy's nftables-mode table
// Packets per second run on node "xdp"'s eth0 alone: Sluice's XDP program against a baseline XDP
// program (bench/ns/baseline_xdp.c: XDP_TX with swapped MACs, or XDP_DROP) swapped onto the same
// interface, interleaved round by round.
// Everything lives in sluice-<run>-* namespaces and is removed at the end, also after failures.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { datapathObjects } from '../agent/bpf/objects.ts';
import { SimAgent } from '../sim/agent.ts';
import { REPO, SimCluster, type SimNode, type SimPod } from '../sim/cluster.ts';
import { inNs, nsRun, sleep, waitFor } from '../sim/netns.ts';
import { setConntrack } from './lib/conntrack.ts';
import { buildCTools, drain, iperf3Gbps, Lines, toolVersions } from './lib/proc.ts';
import { summarize, type Summary } from './lib/stats.ts';
import { writeReport } from './report.ts';
import type { Results } from './lib/results.ts';
import { COST_ROUNDS, costRounds, enableBpfStats, nodePrograms, summarizeCosts, type EntrySummary } from './lib/bpfstats.ts';
import {
  iptablesNodePort, nftNodePort, NP_CRR, NP_CRR_REMOTE, NP_IPERF, NP_IPERF_REMOTE, NP_UDP, NP_UDP_REMOTE, npServices,
  sluiceServices, type NpService,
} from './ns/model.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const OUT = path.resolve(process.env.BENCH_OUT ?? path.join(REPO, 'bench/results'));
const CFG = QUICK
  ? { counts: [1, 1000], rounds: 1, crrSecs: 1, iperfSecs: 1, ppsRounds: 1, ppsSecs: 1 }
  : { counts: [1, 1000], rounds: 3, crrSecs: 3, iperfSecs: 2, ppsRounds: 3, ppsSecs: 3 };
const OUTSIDE_IP = '10.10.0.100';
/** UDP payload of the pps test: 18 bytes -> a 60-byte frame (64 on a wire with the FCS). */
const UDP_PAYLOAD = 18;

const BUILD = path.join(REPO, 'build/bench');
const CRR = path.join(BUILD, 'crr');
const SRV = path.join(BUILD, 'srv');
const FLOOD = path.join(BUILD, 'udpflood');
const BASE_TX = path.join(BUILD, 'baseline_tx.o');
const BASE_DROP = path.join(BUILD, 'baseline_drop.o');

type Name = 'direct' | 'direct-remote' | 'sluice-xdp' | 'sluice-xdp-remote' | 'sluice-xdp-remote-uncached' | 'sluice-tc' | 'iptables' | 'nftables';
const NAMES: Name[] = ['direct', 'direct-remote', 'sluice-xdp', 'sluice-xdp-remote', 'sluice-xdp-remote-uncached', 'sluice-tc', 'iptables', 'nftables'];

interface Contender {
  name: Name; node: SimNode; be: SimPod; host: string; crrPort: number; iperfPort: number;
  /** Run with the node's next-hop cache off (sl_nh_config flags NH_OFF), restored after. */
  uncached?: boolean;
}

// The next-hop cache's switch (bpf/lib/next_hop.h): sl_nh_config of the sl_ext_xdp program, a map
// private to its object, found through the program (map ids are global) and written with bpftool.
const NH_OFF = 2;
async function nhConfigMap(ns: string, progId: number): Promise<number> {
  const p = JSON.parse(await nsRun(ns, 'bpftool', ['-j', 'prog', 'show', 'id', String(progId)])) as { map_ids?: number[] };
  for (const id of p.map_ids ?? []) {
    const m = JSON.parse(await nsRun(ns, 'bpftool', ['-j', 'map', 'show', 'id', String(id)])) as { name?: string };
    if (m.name === 'sl_nh_config') return id;
  }
  throw new Error(`program ${progId} has no sl_nh_config map`);
}
async function nhFlags(ns: string, mapId: number): Promise<number> {
  const j = JSON.parse(await nsRun(ns, 'bpftool', ['-j', 'map', 'lookup', 'id', String(mapId), 'key', '0', '0', '0', '0'])) as { value: string[] | number[] | { flags: number } };
  const v = j.value;
  return Array.isArray(v) ? Number(v[0]) : v.flags;
}
async function setNhFlags(ns: string, mapId: number, flags: number): Promise<void> {
  await nsRun(ns, 'bpftool', ['map', 'update', 'id', String(mapId), 'key', '0', '0', '0', '0', 'value', String(flags & 0xff), '0', '0', '0']);
}

const log = (msg: string) => process.stdout.write(`[ns-bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

function compile(): void {
  buildCTools(REPO, [['bench/crr.c', CRR], ['bench/srv.c', SRV], ['bench/ns/udpflood.c', FLOOD]]);
  const fresh = (bin: string, src: string) => fs.existsSync(bin) && fs.statSync(bin).mtimeMs > fs.statSync(src).mtimeMs;
  const bsrc = path.join(REPO, 'bench/ns/baseline_xdp.c');
  for (const [def, obj] of [['BASE_TX', BASE_TX], ['BASE_DROP', BASE_DROP]] as const) {
    if (!fresh(obj, bsrc)) {
      sh('clang', ['-O2', '-g', '-Wall', '-Werror', '-target', 'bpf', `-I/usr/include/${os.arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
        `-D${def}`, '-c', bsrc, '-o', obj]);
    }
  }
  if (datapathObjects().some((o) => !fs.existsSync(o)) || !fs.existsSync(path.join(REPO, 'build/bpf/sim_xdp_pass.o'))) {
    sh('make', ['-s', '-C', REPO, 'build']);
  }
}

// ---- traffic ------------------------------------------------------------------------------

async function crr(ns: string, c: Contender, secs: number): Promise<{ conns: number; errors: number; rate: number }> {
  const out = await nsRun(ns, 'timeout', [String(secs + 20), CRR, 'crr', c.host, String(c.crrPort), String(secs)]);
  return JSON.parse(out.trim()) as { conns: number; errors: number; rate: number };
}

function iperf(ns: string, c: Contender, secs: number): Promise<number> {
  return iperf3Gbps(ns, c.host, c.iperfPort, secs, c.name);
}

// ---- packets per second ---------------------------------------------------------------------

async function linkInfo(ns: string, dev: string): Promise<{ mac: string; progId?: number }> {
  const j = JSON.parse(await nsRun(ns, 'ip', ['-j', '-d', 'link', 'show', 'dev', dev])) as Array<{ address: string; xdp?: { prog?: { id: number }; mode?: number } }>;
  return { mac: j[0]!.address, progId: j[0]!.xdp?.prog?.id };
}

/** veth driver counters of the node's eth0 (ethtool -S): frames its XDP program ran on, and what it did. */
async function vethStats(ns: string): Promise<Record<string, number>> {
  const out = await nsRun(ns, 'ethtool', ['-S', 'eth0']);
  const s: Record<string, number> = {};
  for (const m of out.matchAll(/^\s*([\w\[\]]+):\s*(\d+)\s*$/gm)) s[m[1]!] = (s[m[1]!] ?? 0) + Number(m[2]);
  return s;
}
const xdpPackets = (s: Record<string, number>) => s.rx_queue_0_xdp_packets ?? s.xdp_packets ?? 0;

type Generator = 'xdp-trafficgen' | 'udpflood';

interface PpsSample { processed_pps: number; sent_pps: number; xdp_tx_pps: number; xdp_drop_pps: number; ns_per_run: number; output?: string }

/**
 * Send small UDP packets from the outside host to `dst`:`port` for `secs` seconds and read how many
 * frames the XDP program on the node's eth0 ran on (veth driver counters), per second.
 */
async function progStats(ns: string, id: number | undefined): Promise<{ cnt: number; ns: number }> {
  if (!id) return { cnt: 0, ns: 0 };
  const j = JSON.parse(await nsRun(ns, 'bpftool', ['-j', 'prog', 'show', 'id', String(id)]).catch(() => '{}')) as { run_cnt?: number; run_time_ns?: number };
  return { cnt: j.run_cnt ?? 0, ns: j.run_time_ns ?? 0 };
}

async function ppsRun(outsideNs: string, node: SimNode, gen: Generator, dstMac: string, port: number, secs: number): Promise<PpsSample> {
  const prog = (await linkInfo(node.ns, 'eth0')).progId;
  const pb = await progStats(node.ns, prog);
  const before = await vethStats(node.ns);
  const t0 = process.hrtime.bigint();
  let sent = 0, output = '';
  if (gen === 'xdp-trafficgen') {
    // Bounded twice: a packet count and a time limit (SIGINT makes it print its totals and exit).
    // Exits non-zero when interrupted; keep its output (stdout and stderr) either way.
    const [c, a] = inNs(outsideNs, 'timeout', ['-s', 'INT', '-k', '5', String(secs), 'xdp-trafficgen', 'udp', '-m', dstMac,
      '-a', node.ip, '-A', OUTSIDE_IP, '-p', String(port), '-P', '40000', '-n', String(20_000_000 * secs), '-t', '1', 'eth0']);
    const out = await new Promise<string>((resolve) => execFile(c, a, { encoding: 'utf8', timeout: (secs + 15) * 1000 },
      (_e, stdout, stderr) => resolve(`${stdout}\n${stderr}`)));
    output = out;
    const totals = [...out.matchAll(/(\d[\d,]*)\s+pkts/g)].map((m) => Number(m[1]!.replace(/,/g, '')));
    sent = totals.length ? Math.max(...totals) : 0;
  } else {
    const out = await nsRun(outsideNs, 'timeout', [String(secs + 10), FLOOD, node.ip, String(port), String(secs), String(UDP_PAYLOAD)]);
    sent = (JSON.parse(out.trim()) as { sent: number }).sent;
  }
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  await sleep(200);
  const after = await vethStats(node.ns);
  const pa = await progStats(node.ns, prog);
  const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  return {
    processed_pps: (xdpPackets(after) - xdpPackets(before)) / elapsed,
    sent_pps: sent / elapsed,
    xdp_tx_pps: (d('rx_queue_0_xdp_tx') || d('xdp_tx')) / elapsed,
    xdp_drop_pps: (d('rx_queue_0_xdp_drops') || d('xdp_drops')) / elapsed,
    ns_per_run: pa.cnt > pb.cnt ? (pa.ns - pb.ns) / (pa.cnt - pb.cnt) : NaN,
    ...(output ? { output } : {}),
  };
}

// ---- results ------------------------------------------------------------------------------

type ByCount<T> = Record<string, T>;
interface PpsResult extends Summary { sent_pps: Summary; ns_per_packet: Summary; action: string }
export interface NsResults {
  meta: Record<string, unknown>;
  crr: Record<string, ByCount<Summary & { errors: number }>>;
  throughput_gbps: Record<string, ByCount<Summary>>;
  pps: Record<string, PpsResult>;
  /** Per entry point of the contender's node, over its connection-rate rounds (bench/lib/bpfstats.ts). */
  bpf_ns_per_run: Record<string, ByCount<Record<string, EntrySummary>>>;
  /** sluice-xdp-remote's connection rate over direct's, same run, per service count. */
  /**
   * ratio: sluice-xdp-remote / direct (issue 14's row); beside it, against direct-remote (the same
   * hops through kernel forwarding), and the same run's rounds with the next-hop cache off.
   */
  nodeport_remote_ratio: ByCount<{
    ratio: number; sluice_xdp_remote: number; direct: number; errors: number;
    direct_remote: number; ratio_same_hops: number; uncached: number; uncached_ratio: number;
  }>;
}

function put<T>(o: Record<string, ByCount<T>>, name: string, count: number, v: T): void {
  (o[name] ??= {})[String(count)] = v;
}

const fmt = (v: number, d = 0) => (Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');

function markdown(res: NsResults): string {
  const cfg = (res.meta.config ?? CFG) as typeof CFG;
  const L: string[] = [`# North-south benchmark (${res.meta.mode}, ${String(res.meta.date).slice(0, 10)})`, '',
    `Kernel ${res.meta.kernel}, ${res.meta.cpus} CPUs (${res.meta.cpu}). Medians over ${cfg.rounds} interleaved round(s), min–max in brackets. ` +
    'Outside host → node eth0 (veth on a bridge) → backend pod, one node per contender, all in one run.', '',
    ...(res.meta.policy ? [`Policy: ${String(res.meta.policy)}. Conntrack: ${String(res.meta.conntrack ?? 'as the contender loads it')}. ${String(res.meta.nft ?? '')}.`, ''] : [])];
  for (const count of cfg.counts.map(String)) {
    const d = res.crr.direct?.[count], dt = res.throughput_gbps.direct?.[count];
    L.push(`## ${count} service(s)`, '', '| contender | connections/s | vs direct | iperf3 Gbit/s (1 stream) | vs direct |', '|---|---:|---:|---:|---:|');
    for (const n of NAMES) {
      const c = res.crr[n]?.[count], t = res.throughput_gbps[n]?.[count];
      if (!c || !t) continue;
      L.push(`| ${n} | ${fmt(c.median)} (${fmt(c.min)}–${fmt(c.max)})${c.errors ? `, ${c.errors} errors` : ''} | ${ratio(c.median, d?.median ?? NaN)} | ` +
        `${fmt(t.median, 2)} (${fmt(t.min, 2)}–${fmt(t.max, 2)}) | ${ratio(t.median, dt?.median ?? NaN)} |`);
    }
    L.push('');
  }
  const base = res.pps['baseline-xdp-tx']?.median ?? NaN;
  L.push(`## Packets per second on the node's eth0 (${res.meta.pps_generator}, ${UDP_PAYLOAD}-byte UDP payloads, ${cfg.ppsSecs} s × ${cfg.ppsRounds} rounds)`, '',
    '| XDP program on eth0 | frames processed/s (end to end) | vs baseline XDP_TX | program ns/packet (bpf_stats) | program alone, Mpps/core | what the program did |', '|---|---:|---:|---:|---:|---|');
  for (const [n, p] of Object.entries(res.pps)) {
    L.push(`| ${n} | ${fmt(p.median)} (${fmt(p.min)}–${fmt(p.max)}) | ${ratio(p.median, base)} | ${fmt(p.ns_per_packet.median, 1)} | ${fmt(1e3 / p.ns_per_packet.median, 1)} | ${p.action} |`);
  }
  L.push('', 'frames processed/s: frames the XDP program on eth0 ran on, per second of generator run (the veth\'s own counters). ' +
    'The generator sent the same number: the sender, the veth and the XDP program share the same two CPUs, so this is the rate of the whole path on this machine; ' +
    'ns/packet is the program\'s own run time (kernel.bpf_stats_enabled), and Mpps/core = 1000 / ns.');
  L.push('', 'Method and caveats: docs/benchmarks-northsouth.md.', '');
  return L.join('\n');
}

function plot(res: NsResults, outDir: string): void {
  const rows = NAMES.filter((n) => res.crr[n]?.['1']).map((n) => `"${n}" ${res.crr[n]!['1']!.median} ${res.throughput_gbps[n]?.['1']?.median ?? 0}`);
  const data = path.join(os.tmpdir(), `sluice-ns-plot-${process.pid}.dat`);
  fs.writeFileSync(data, rows.join('\n') + '\n');
  const script = [
    'set terminal pngcairo size 1000,560 font "DejaVu Sans,11"', `set output '${path.join(outDir, 'northsouth.png')}'`,
    'set multiplot layout 1,2 title "North-south through a NodePort, 1 service (medians)"',
    'set style data histograms', 'set style fill solid 0.8', 'set boxwidth 0.8', 'set xtics rotate by -30', 'set grid ytics', 'unset key', 'set yrange [0:*]',
    'set title "connections/s"', `plot '${data}' using 2:xtic(1) lc rgb "#3572b0"`,
    'set title "iperf3 Gbit/s, 1 stream"', `plot '${data}' using 3:xtic(1) lc rgb "#d1812b"`, 'unset multiplot',
  ].join('\n');
  const r = spawnSync('gnuplot', [], { input: script, encoding: 'utf8' });
  fs.rmSync(data, { force: true });
  if (r.status !== 0) log(`  gnuplot failed (no png): ${r.stderr?.slice(0, 200)}`);
}

function write(res: NsResults): void {
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'northsouth.json'), JSON.stringify(res, null, 2) + '\n');
  fs.writeFileSync(path.join(OUT, 'northsouth.md'), markdown(res));
  plot(res, OUT);
}

/**
 * The east-west results (latest.json, from bench/run.ts just before in `make bench`) get this run's
 * NodePort-to-remote ratio and its per-program figures (as bpf_ns_per_run["northsouth/<name>"]),
 * so one file holds every row of issue 14's table. Without a latest.json nothing is merged.
 */
function mergeIntoLatest(res: NsResults): void {
  const file = path.join(OUT, 'latest.json');
  if (!fs.existsSync(file)) return;
  const latest = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  latest.nodeport_remote_ratio = { ...res.nodeport_remote_ratio, date: res.meta.date, source: 'bench/northsouth.ts (northsouth.json): crr sluice-xdp-remote / direct, medians of the same run' };
  const bpf = (latest.bpf_ns_per_run ??= {}) as Record<string, unknown>;
  for (const [n, v] of Object.entries(res.bpf_ns_per_run)) bpf[`northsouth/${n}`] = v;
  writeReport(latest as unknown as Results, OUT, (latest.meta as { mode?: string } | undefined)?.mode === 'quick');
}

// ---- main ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = Date.now();
  compile();
  log(`${QUICK ? 'quick' : 'full'} run, run id p${process.pid}; results to ${OUT}`);
  const cluster = await SimCluster.create({ nodes: ['dir', 'xdp', 'tc', 'ipt', 'nft', 'rem'] });
  const res: NsResults = { meta: {}, crr: {}, throughput_gbps: {}, pps: {}, bpf_ns_per_run: {}, nodeport_remote_ratio: {} };
  const agents: SimAgent[] = [];
  try {
    const be: Record<string, SimPod> = {};
    for (const n of ['dir', 'xdp', 'tc', 'ipt', 'nft', 'rem']) {
      const pod = await cluster.addPod(n, 'be');
      await new Lines(cluster.spawn(pod.ns, SRV, ['80', 'A'])).next((l) => l === 'ready', 10000, `srv in ${pod.ns}`);
      drain(cluster.spawn(pod.ns, 'iperf3', ['-s', '-p', '5201']));
      await waitFor(`iperf3 -s in ${pod.ns}`, async () => (await nsRun(pod.ns, 'ss', ['-ltnH', 'sport = :5201'])).trim(), 10000, 50);
      be[n] = pod;
    }
    const dir = cluster.node('dir'), rem = be.rem!;
    const node0 = (n: string) => cluster.node(n);
    const o = await cluster.addOutside('outside', OUTSIDE_IP, [{ to: dir.podCidr, via: 'dir' }, { to: node0('rem').podCidr, via: 'dir' }]);
    // direct-remote's way back: node "rem" sends the outside host's packets through node "dir" too
    // (Sluice's replies from rem go to node "xdp"'s address, which this route leaves alone).
    await nsRun(node0('rem').ns, 'ip', ['route', 'add', `${OUTSIDE_IP}/32`, 'via', dir.ip, 'dev', 'eth0']);
    await nsRun(o.ns, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.tcp_timestamps=2']);
    const node = (n: string) => cluster.node(n);
    const cs: Contender[] = [
      { name: 'direct', node: dir, be: be.dir!, host: be.dir!.ip, crrPort: 80, iperfPort: 5201 },
      { name: 'sluice-xdp', node: node('xdp'), be: be.xdp!, host: node('xdp').ip, crrPort: NP_CRR, iperfPort: NP_IPERF },
      { name: 'direct-remote', node: dir, be: rem, host: rem.ip, crrPort: 80, iperfPort: 5201 },
      { name: 'sluice-xdp-remote', node: node('xdp'), be: rem, host: node('xdp').ip, crrPort: NP_CRR_REMOTE, iperfPort: NP_IPERF_REMOTE },
      { name: 'sluice-xdp-remote-uncached', node: node('xdp'), be: rem, host: node('xdp').ip, crrPort: NP_CRR_REMOTE, iperfPort: NP_IPERF_REMOTE, uncached: true },
      { name: 'sluice-tc', node: node('tc'), be: be.tc!, host: node('tc').ip, crrPort: NP_CRR, iperfPort: NP_IPERF },
      { name: 'iptables', node: node('ipt'), be: be.ipt!, host: node('ipt').ip, crrPort: NP_CRR, iperfPort: NP_IPERF },
      { name: 'nftables', node: node('nft'), be: be.nft!, host: node('nft').ip, crrPort: NP_CRR, iperfPort: NP_IPERF },
    ];
    // Netfilter conntrack loaded on every node, as on a real one (kube-proxy's nat rules load it on theirs).
    for (const n of ['dir', 'xdp', 'tc', 'ipt', 'nft', 'rem']) await setConntrack(node(n).ns, true);
    const remote = { ip: rem.ip, nodeName: rem.node.nodeName };
    const svcFor = (n: string, count: number): NpService[] => npServices(count, node(n).nodeName, be[n]!.ip, n === 'xdp' ? remote : undefined);
    const sizes = ['--max-services', '8192', '--max-backends', '16384'];
    for (const [n, mode] of [['xdp', 'xdp-native'], ['tc', 'tc']] as const) {
      const a = await SimAgent.start(cluster, n, { args: ['--external-interface', 'eth0', '--external-mode', mode, ...sizes] }, sluiceServices(svcFor(n, 1)));
      await a.waitLog((l) => l.msg === 'north-south datapath attached', 30000);
      await a.waitLog((l) => l.msg === 'applied', 30000);
      agents.push(a);
    }
    const [xdpAgent, tcAgent] = agents as [SimAgent, SimAgent];
    const xdpProgId = (await linkInfo(node('xdp').ns, 'eth0')).progId;
    if (!xdpProgId) throw new Error('no XDP program on the sluice-xdp node\'s eth0');
    const nhMap = await nhConfigMap(node('xdp').ns, xdpProgId);
    const nhCached = await nhFlags(node('xdp').ns, nhMap);
    log(`next-hop cache flags as the agent set them: ${nhCached} (1: keyed by addresses, 0: by flow)`);
    /** `fn` for contender `c`, with the next-hop cache off around it when `c` asks for that. */
    const as = async <T>(c: Contender, fn: () => Promise<T>): Promise<T> => {
      if (!c.uncached) return fn();
      await setNhFlags(node('xdp').ns, nhMap, NH_OFF);
      try {
        return await fn();
      } finally {
        await setNhFlags(node('xdp').ns, nhMap, nhCached);
      }
    };
    log(`topology up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    async function program(count: number): Promise<void> {
      for (const [a, n] of [[xdpAgent, 'xdp'], [tcAgent, 'tc']] as const) {
        const l = await a.setServices(sluiceServices(svcFor(n, count)));
        if (l.msg !== 'applied') throw new Error(`sluice on ${n}: ${JSON.stringify(l)}`);
      }
      await nsRun(node('ipt').ns, 'iptables-restore', ['-w'], { input: iptablesNodePort(svcFor('ipt', count)) });
      await nsRun(node('nft').ns, 'nft', ['delete', 'table', 'ip', 'kube-proxy'], { allowFail: true });
      await nsRun(node('nft').ns, 'nft', ['-f', '-'], { input: nftNodePort(svcFor('nft', count), node('nft').ip) });
      for (const c of cs) {
        await waitFor(`${c.name} answers`, async () => {
          const r = await as(c, () => crr(o.ns, c, 0.3));
          return r.conns > 0 && r.errors === 0;
        }, 15000, 300);
      }
    }

    // 1. Connection rate and single-stream throughput, contenders interleaved round by round.
    for (const count of CFG.counts) {
      log(`programming ${count} NodePort service(s) into every contender`);
      await program(count);
      const rates = new Map<Name, number[]>(), errs = new Map<Name, number>(), gbps = new Map<Name, number[]>();
      const push = (m: Map<Name, number[]>, n: Name, v: number) => (m.get(n) ?? m.set(n, []).get(n)!).push(v);
      const progsOf = new Map<Name, Map<number, string>>();
      for (const c of cs) progsOf.set(c.name, await nodePrograms(c.node));
      for (let r = 0; r < CFG.rounds; r++) {
        const order = cs.map((_, i) => cs[(i + r) % cs.length]!);
        for (const c of order) {
          const x = await as(c, () => crr(o.ns, c, CFG.crrSecs));
          push(rates, c.name, x.rate);
          errs.set(c.name, (errs.get(c.name) ?? 0) + x.errors);
        }
        for (const c of order) push(gbps, c.name, await as(c, () => iperf(o.ns, c, CFG.iperfSecs)));
        log(`  ${count} service(s), round ${r + 1}/${CFG.rounds}: ${cs.map((c) => `${c.name} ${Math.round(rates.get(c.name)!.at(-1)!)}/s ${gbps.get(c.name)!.at(-1)!.toFixed(2)} Gbit/s`).join(', ')}`);
      }
      // Per-program cost with the kernel's run-time statistics on, in runs that count for nothing else.
      const bpf = await costRounds(cs, COST_ROUNDS, (c) => progsOf.get(c.name)!, (c) => as(c, () => crr(o.ns, c, CFG.crrSecs)));
      for (const c of cs) {
        put(res.crr, c.name, count, { ...summarize(rates.get(c.name)!, 0), errors: errs.get(c.name) ?? 0 });
        put(res.throughput_gbps, c.name, count, summarize(gbps.get(c.name)!, 3));
        if (bpf.has(c)) put(res.bpf_ns_per_run, c.name, count, summarizeCosts(bpf.get(c)!));
      }
      const rem = res.crr['sluice-xdp-remote']![String(count)]!, dir = res.crr.direct![String(count)]!;
      const dirRem = res.crr['direct-remote']![String(count)]!, unc = res.crr['sluice-xdp-remote-uncached']![String(count)]!;
      res.nodeport_remote_ratio[String(count)] = {
        ratio: +(rem.median / dir.median).toFixed(3), sluice_xdp_remote: rem.median, direct: dir.median, errors: rem.errors,
        direct_remote: dirRem.median, ratio_same_hops: +(rem.median / dirRem.median).toFixed(3),
        uncached: unc.median, uncached_ratio: +(unc.median / dir.median).toFixed(3),
      };
      log(`  ${count} service(s): NodePort to a remote backend ${res.nodeport_remote_ratio[String(count)]!.ratio}x direct (${rem.errors} errors), ` +
        `${res.nodeport_remote_ratio[String(count)]!.ratio_same_hops}x direct-remote, uncached ${res.nodeport_remote_ratio[String(count)]!.uncached_ratio}x direct; per program: ` +
        Object.entries(res.bpf_ns_per_run['sluice-xdp-remote']?.[String(count)] ?? {}).map(([p, v]) => `${p} ${v.ns_per_run.median} ns x ${v.runs_per_conn?.median}/conn`).join(', '));
    }

    // 2. Packets per second on node "xdp"'s eth0: Sluice's program against the baseline, swapped
    //    onto the same interface round by round (bpftool re-attaches Sluice's program by id: the
    //    agent keeps it loaded).
    const x = node('xdp');
    const sluiceProg = (await linkInfo(x.ns, 'eth0')).progId;
    if (!sluiceProg) throw new Error('no XDP program on the sluice-xdp node\'s eth0');
    const dstMac = (await linkInfo(x.ns, 'eth0')).mac;
    // The outside host's fabric-side veth end must run XDP to take frames xdp-trafficgen sends with
    // XDP_REDIRECT (as sim/cluster.ts does for the nodes' ends).
    const fabricLinks = JSON.parse(await nsRun(cluster.fabricNs, 'ip', ['-j', 'link', 'show'])) as Array<{ ifname: string }>;
    const oEnd = fabricLinks.map((l) => l.ifname).find((n) => /^o\d+$/.test(n));
    if (!oEnd) throw new Error('outside host\'s fabric link not found');
    await nsRun(cluster.fabricNs, 'ip', ['link', 'set', 'dev', oEnd, 'xdpdrv', 'obj', `${REPO}build/bpf/sim_xdp_pass.o`, 'sec', 'xdp']);
    const attach = async (what: 'sluice' | 'tx' | 'drop') => {
      if (what === 'sluice') await nsRun(x.ns, 'bpftool', ['net', 'attach', 'xdpdrv', 'id', String(sluiceProg), 'dev', 'eth0', 'overwrite']);
      else await nsRun(x.ns, 'ip', ['-force', 'link', 'set', 'dev', 'eth0', 'xdpdrv', 'obj', what === 'tx' ? BASE_TX : BASE_DROP, 'sec', 'xdp']);
    };
    // Generator: xdp-trafficgen when it gets frames to the node at all, else the sendmmsg flooder.
    let gen: Generator = 'udpflood';
    let genWhy = '';
    if (spawnSync('which', ['xdp-trafficgen']).status === 0) {
      const probe = await ppsRun(o.ns, x, 'xdp-trafficgen', dstMac, NP_UDP_REMOTE, 1);
      if (probe.processed_pps > 1000) gen = 'xdp-trafficgen';
      else genWhy = `xdp-trafficgen reached the node at ${Math.round(probe.processed_pps)} frames/s (sent ${Math.round(probe.sent_pps)}/s): not usable here; its output: ${(probe.output ?? '').replace(/\s+/g, ' ').trim().slice(-300)}`;
    } else genWhy = 'xdp-trafficgen not installed (Debian package xdp-tools)';
    log(`pps generator: ${gen}${genWhy ? ` (${genWhy})` : ''}`);
    const modes: Array<{ name: string; prog: 'sluice' | 'tx' | 'drop'; port: number; action: string; uncached?: boolean }> = [
      { name: 'baseline-xdp-tx', prog: 'tx', port: NP_UDP_REMOTE, action: 'baseline: swap MACs, XDP_TX' },
      { name: 'baseline-xdp-drop', prog: 'drop', port: NP_UDP_REMOTE, action: 'baseline: XDP_DROP' },
      { name: 'sluice-xdp-remote', prog: 'sluice', port: NP_UDP_REMOTE, action: 'Sluice: NodePort -> remote backend: DNAT+SNAT, conntrack, next hop (cached), XDP_TX' },
      { name: 'sluice-xdp-remote-uncached', prog: 'sluice', port: NP_UDP_REMOTE, uncached: true, action: 'the same, next-hop cache off: FIB lookup per frame' },
      { name: 'sluice-xdp', prog: 'sluice', port: NP_UDP, action: 'Sluice: NodePort -> local backend: DNAT, conntrack, XDP_PASS (to the kernel stack and the pod)' },
    ];
    const samples = new Map<string, PpsSample[]>();
    // Per-program run counts and run time (bpftool prog show), for every program this phase swaps
    // in alike: the baseline and Sluice's program both pay the statistics' own cost.
    const stopStats = enableBpfStats();
    try {
      for (let r = 0; r < CFG.ppsRounds; r++) {
        const order = modes.map((_, i) => modes[(i + r) % modes.length]!);
        for (const m of order) {
          await attach(m.prog);
          if (m.uncached) await setNhFlags(x.ns, nhMap, NH_OFF);
          const s = await ppsRun(o.ns, x, gen, dstMac, m.port, CFG.ppsSecs).finally(() => m.uncached && setNhFlags(x.ns, nhMap, nhCached));
          (samples.get(m.name) ?? samples.set(m.name, []).get(m.name)!).push(s);
        }
        log(`  pps round ${r + 1}/${CFG.ppsRounds}: ${modes.map((m) => `${m.name} ${Math.round(samples.get(m.name)!.at(-1)!.processed_pps)}/s (sent ${Math.round(samples.get(m.name)!.at(-1)!.sent_pps)}/s)`).join(', ')}`);
      }
    } finally {
      stopStats();
      await attach('sluice');
    }
    for (const m of modes) {
      const s = samples.get(m.name)!;
      res.pps[m.name] = { ...summarize(s.map((v) => v.processed_pps), 0), sent_pps: summarize(s.map((v) => v.sent_pps), 0), ns_per_packet: summarize(s.map((v) => v.ns_per_run), 1), action: m.action };
    }
    res.meta = {
      date: new Date().toISOString(), host: os.hostname(), kernel: os.release(),
      cpu: /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown', cpus: os.cpus().length,
      node: process.version, mode: QUICK ? 'quick' : 'full', duration_s: Math.round((Date.now() - t0) / 1000), config: CFG,
      pps_generator: gen, pps_generator_note: genWhy || 'xdp-trafficgen udp (xdp-tools), one thread, on the outside host\'s eth0',
      pps_counter: 'veth driver counters of the node eth0 (ethtool -S: rx_queue_0_xdp_packets = frames the attached XDP program ran on), delta over the generator run / its wall time',
      topology: 'outside host 10.10.0.100 on the fabric bridge -> node eth0 (veth, native XDP) -> lxc veth -> pod; one node namespace per contender; sluice-xdp-remote: node xdp\'s NodePort with the backend on node rem',
      policy: 'the measured service: externalTrafficPolicy Local on every contender (same work: DNAT to the local backend, client address kept, no SNAT; kube-proxy KUBE-EXT -> KUBE-SVL / external -> local chains); sluice-xdp-remote: Cluster policy, Sluice SNATs to reach the backend on node rem',
      conntrack: 'netfilter conntrack loaded on every node (an nftables rule matching ct state, bench/lib/conntrack.ts)',
      ...toolVersions(),
      client: 'bench/crr.c from the outside host: one connection at a time: connect, 1-byte request, 1-byte reply, close',
    };
    write(res);
    mergeIntoLatest(res);
    log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${path.join(OUT, 'northsouth.json')}, northsouth.md, northsouth.png`);
  } finally {
    for (const a of agents) await Promise.race([a.kill('SIGTERM'), sleep(5000)]).catch(() => undefined);
    await cluster.destroy();
    for (const a of agents) if (a.stateFile) fs.rmSync(path.dirname(a.stateFile), { recursive: true, force: true });
  }
}

// `node bench/northsouth.ts --report`: rewrite northsouth.md and .png from an existing northsouth.json.
if (process.argv.includes('--report')) {
  write(JSON.parse(fs.readFileSync(path.join(OUT, 'northsouth.json'), 'utf8')) as NsResults);
} else main().catch((e: unknown) => {
  process.stderr.write(`northsouth bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
