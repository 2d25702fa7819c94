// Per-packet cost of two or more builds of bpf/sluice_pod.c side by side, in this process, by
// BPF_PROG_TEST_RUN (docs/benchmarks.md, "Cost per program"): the datapath is loaded into pins of
// a node named sluice-pktab-<pid> (no program attached, no namespace, nothing routed), SERVICES x
// 10 endpoints programmed through the agent's own reconciler, then each build's sluice_pod.o is
// loaded on the same pins (so every build reads and writes the same live maps) and given the same
// frames, builds interleaved round by round. The pins are removed at the end. Builds must share this
// checkout's map layouts; the IPv6 program array ends up pointing at the last build's programs
// (only IPv4 frames are measured).
//
//   node bench/pktab.ts BUILD_DIR...      each a directory holding a sluice_pod.o (e.g. build/bpf)
//   PKTAB_SERVICES (10000), PKTAB_ROUNDS (5), PKTAB_CONNS (2000 per round), PKTAB_CT (conntrack
//   entries; the agent's default), PKTAB_COLD=1 (evict the CPU caches before every single run),
//   PKTAB_STEPS=1 (a row per packet of the connection), PKTAB_PORTS (client ports used in turn,
//   64,000: fewer, and a new connection reuses the tuple of a closed one whose conntrack entries
//   are still there, as a client opening connections at a high rate does)
//
// Rows: fixed frames are repeated 20,000 times in the kernel (warm); "connection" runs one simulated
// connection's packets through both programs once each (a new SYN, SYN-ACK, ACK, request, reply,
// FIN both ways, last ACK, through sl_from_pod and sl_to_pod as the client's and the backend's veths
// see them: 16 runs), as ns per connection summed over its runs; "new SYN" is its first packet
// alone. A single run carries the kernel's per-call overhead, measured with a fixed frame (pod to
// backend pod) run singly and repeated, and subtracted. Prints a table.
import fs from 'node:fs';
import path from 'node:path';
import { openObjects } from '../agent/bpf/objects.ts';
import { progTestRun } from '../agent/bpf/libbpf.ts';
import * as L from '../agent/bpf/layout.ts';
import { Datapath, DEFAULT_PIN_ROOT, pinDir } from '../agent/datapath.ts';
import { maglevSize } from '../agent/maglev.ts';
import { Reconciler } from '../agent/reconciler.ts';
import { toService, type ServiceJson } from '../proto/contract.ts';
import { benchServices, CRR_PORT, stateFile, TARGET_VIP } from './lib/model.ts';
import { summarize } from './lib/stats.ts';
import { tcpFrame } from './lib/frames.ts';

const builds = process.argv.slice(2);
if (!builds.length) throw new Error('usage: node bench/pktab.ts BUILD_DIR... (directories holding sluice_pod.o)');
const N = Number(process.env.PKTAB_SERVICES ?? 10000), ROUNDS = Number(process.env.PKTAB_ROUNDS ?? 5);
const CONNS = Number(process.env.PKTAB_CONNS ?? 2000), COLD = process.env.PKTAB_COLD === '1';
const PORTS = Number(process.env.PKTAB_PORTS ?? 64000);
const REPEAT = 20000, STEPS = process.env.PKTAB_STEPS === '1';
const TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_PSH = 0x08, TCP_ACK = 0x10;
const node = `sluice-pktab-${process.pid}`;
const pods = { be1: '10.244.1.2', be2: '10.244.1.3' }, client = '10.244.1.10', other = '10.244.1.20';
const thrash = Buffer.alloc(8 << 20);
const evict = () => { if (COLD) thrash.fill(thrash[0]! + 1); };

const slots = (N + 2) * maglevSize(10);
const dp = Datapath.open({
  node, sizes: {
    services: Math.ceil((N + 16) * 1.25), backends: Math.ceil((N * 10 + 16) * 1.25), maglev: Math.ceil(slots * 1.05) + 4 * maglevSize(10),
    ...(process.env.PKTAB_CT ? { ct: Number(process.env.PKTAB_CT) } : {}),
  },
});
const opened: Array<{ close(): void }> = [];
try {
  const rec = new Reconciler(dp, { node, nodeIps: ['192.168.0.1'] });
  const st = rec.applySnapshot((JSON.parse(stateFile(benchServices(N, 10, pods))) as { services: ServiceJson[] }).services.map(toService));
  if (st.errors.length) throw new Error(st.errors.join('; '));
  const dir = pinDir(node);
  // Every pinned map exists already: a size here only makes openObjects() adopt the pin's.
  const entries = Object.fromEntries(L.PINNED_MAP_NAMES.map((m) => [m, 1]));
  const progs = builds.map((b) => {
    const o = openObjects([path.join(b, 'sluice_pod.o')], dir, entries);
    opened.push(o);
    return { build: b, from: o.programs.sl_from_pod!, to: o.programs.sl_to_pod! };
  });
  const ip4 = (b: Buffer, off: number) => [...b.subarray(off, off + 4)].join('.');
  const direct = tcpFrame(client, 40000, pods.be1, CRR_PORT, TCP_ACK);
  /** The single-run overhead: a fixed frame's single run (median) minus its repeated cost. */
  const bias = (fd: number) => {
    const rep = progTestRun(fd, direct, REPEAT).durationNs;
    const one: number[] = [];
    for (let i = 0; i < 2000; i++) { evict(); one.push(progTestRun(fd, direct, 1).durationNs); }
    return summarize(one).median - rep;
  };
  let port = 1024;
  const rows = new Map<string, number[][]>();
  const add = (row: string, k: number, v: number) => {
    const r = rows.get(row) ?? builds.map(() => [] as number[]);
    rows.set(row, r);
    r[k]!.push(v);
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (let kk = 0; kk < progs.length; kk++) {
      const k = (kk + round) % progs.length;
      const p = progs[k]!;
      const b = bias(p.from);
      const one = (fd: number, frame: Buffer) => { evict(); return progTestRun(fd, frame, 1); };
      // A whole connection, packet by packet (client veth: from_pod client->VIP, to_pod replies;
      // backend veth: to_pod the translated packets, from_pod the backend's answers).
      const conn: number[] = [], syn: number[] = [], steps: number[][] = [];
      for (let i = 0; i < CONNS; i++) {
        const sp = port++;
        if (port >= 1024 + PORTS) port = 1024;
        let t = 0;
        const s = one(p.from, tcpFrame(client, sp, TARGET_VIP, CRR_PORT, TCP_SYN));
        const be = ip4(s.out, 30);
        syn.push(s.durationNs - b);
        const seq: Array<[number, Buffer]> = [
          [p.to, tcpFrame(client, sp, be, CRR_PORT, TCP_SYN)],
          [p.from, tcpFrame(be, CRR_PORT, client, sp, TCP_SYN | TCP_ACK)],
          [p.to, tcpFrame(be, CRR_PORT, client, sp, TCP_SYN | TCP_ACK)],
          [p.from, tcpFrame(client, sp, TARGET_VIP, CRR_PORT, TCP_ACK)],
          [p.to, tcpFrame(client, sp, be, CRR_PORT, TCP_ACK)],
          [p.from, tcpFrame(client, sp, TARGET_VIP, CRR_PORT, TCP_PSH | TCP_ACK)],
          [p.to, tcpFrame(client, sp, be, CRR_PORT, TCP_PSH | TCP_ACK)],
          [p.from, tcpFrame(be, CRR_PORT, client, sp, TCP_PSH | TCP_ACK)],
          [p.to, tcpFrame(be, CRR_PORT, client, sp, TCP_PSH | TCP_ACK)],
          [p.from, tcpFrame(client, sp, TARGET_VIP, CRR_PORT, TCP_FIN | TCP_ACK)],
          [p.to, tcpFrame(client, sp, be, CRR_PORT, TCP_FIN | TCP_ACK)],
          [p.from, tcpFrame(be, CRR_PORT, client, sp, TCP_FIN | TCP_ACK)],
          [p.to, tcpFrame(be, CRR_PORT, client, sp, TCP_FIN | TCP_ACK)],
          [p.from, tcpFrame(client, sp, TARGET_VIP, CRR_PORT, TCP_ACK)],
          [p.to, tcpFrame(client, sp, be, CRR_PORT, TCP_ACK)],
        ];
        t += s.durationNs - b;
        seq.forEach(([fd, fr], j) => {
          const d = one(fd, fr).durationNs - b;
          t += d;
          if (STEPS) (steps[j] ??= []).push(d);
        });
        conn.push(t);
        if (STEPS && i === CONNS - 1) seq.forEach(([fd, fr], j) => add(`  step ${String(j + 2).padStart(2)}, repeated`, k, progTestRun(fd, fr, REPEAT).durationNs));
      }
      add('new SYN (from_pod), one run each', k, summarize(syn).median);
      const names = ['to SYN (be veth)', 'from SYN-ACK (be veth)', 'to SYN-ACK (client veth)', 'from ACK', 'to ACK', 'from request', 'to request', 'from response', 'to response', 'from FIN', 'to FIN', 'from FIN (be)', 'to FIN (client)', 'from last ACK', 'to last ACK'];
      steps.forEach((v, j) => add(`  step ${String(j + 2).padStart(2)}: ${names[j]}`, k, summarize(v).median));
      add('connection, 16 runs (from_pod + to_pod), one run each', k, summarize(conn).median);
      const est = tcpFrame(client, 1024, TARGET_VIP, CRR_PORT, TCP_ACK);
      const beOf = ip4(progTestRun(p.from, est, 1).out, 30);
      const fixed: Array<[string, number, Buffer]> = [
        ['from_pod: established ACK (conntrack hit)', p.from, est],
        ['from_pod: pod -> pod ACK to a backend (full parse, no lookup)', p.from, direct],
        ['from_pod: backend -> client ACK (early exit)', p.from, tcpFrame(beOf, CRR_PORT, client, 1024, TCP_ACK)],
        ['from_pod: pod -> non-service SYN (early exit)', p.from, tcpFrame(client, 40000, other, 80, TCP_SYN)],
        ['to_pod: reply of a translated flow (reverse NAT)', p.to, tcpFrame(beOf, CRR_PORT, client, 1024, TCP_ACK)],
        ['to_pod: pod -> pod ACK (early exit)', p.to, tcpFrame(other, 80, client, 40000, TCP_ACK)],
      ];
      for (const [row, fd, fr] of fixed) {
        add(row, k, progTestRun(fd, fr, REPEAT).durationNs);
        if (COLD) {
          const one: number[] = [];
          for (let i = 0; i < 500; i++) { evict(); one.push(progTestRun(fd, fr, 1).durationNs - b); }
          add(`${row}, one run each`, k, summarize(one).median);
        }
      }
      add('single-run overhead (subtracted)', k, b);
    }
  }
  const w = Math.max(...[...rows.keys()].map((r) => r.length));
  process.stdout.write(`${N} services x 10, ${ROUNDS} rounds, ${CONNS} connections a round over ${PORTS} client ports${COLD ? ', caches evicted before each single run' : ''}; ns, median (min-max) of rounds\n`);
  process.stdout.write(`${''.padEnd(w)}  ${builds.map((b) => b.padEnd(24)).join('')}\n`);
  for (const [row, per] of rows) {
    process.stdout.write(`${row.padEnd(w)}  ${per.map((v) => { const s = summarize(v); return `${s.median} (${s.min}-${s.max})`.padEnd(24); }).join('')}\n`);
  }
} finally {
  for (const o of opened) o.close();
  dp.close();
  fs.rmSync(path.join(DEFAULT_PIN_ROOT, node.replaceAll('.', '_')), { recursive: true, force: true });
}
