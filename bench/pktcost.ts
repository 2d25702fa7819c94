// What each pod-side entry point costs per packet, by kind of packet, measured in the kernel with
// BPF_PROG_TEST_RUN on the agent's own loaded programs and live maps (see docs/benchmarks.md,
// "Per-packet cost"). Unlike the connection-rate figures this does not depend on the rest of the
// machine's load much: each figure is the kernel's own timing of the program alone on a warm cache.
//
//   node bench/pktcost.ts                 10,000 services x 10 endpoints
//   PKTCOST_SERVICES=1000 node bench/pktcost.ts
//   BENCH_OUT=DIR                         where pktcost.json goes (default bench/results)
//
// One simulated node (sluice-<run>-*), pods client, be1, be2, the agent in state-file mode with the
// benchmark's services (bench/lib/model.ts). Frames are built here and given to the programs by id.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeFd, progFdById, progTestRun } from '../agent/bpf/libbpf.ts';
import { maglevRunWords, maglevSize } from '../agent/maglev.ts';
import { SimAgent } from '../sim/agent.ts';
import { REPO, SimCluster, type SimPod } from '../sim/cluster.ts';
import { nsRun, sleep, waitFor } from '../sim/netns.ts';
import { benchServices, CRR_PORT, stateFile, TARGET_VIP } from './lib/model.ts';
import { ipBytes } from '../common/ip.ts';
import { tcpFrame } from './lib/frames.ts';
import { summarize, type Summary } from './lib/stats.ts';

const SERVICES = Number(process.env.PKTCOST_SERVICES ?? 10000);
const OUT = path.resolve(process.env.BENCH_OUT ?? path.join(REPO, 'bench/results'));
/** Runs per figure: repeated in the kernel (same frame), or one run each for frames that must differ. */
const REPEAT = 20000, SINGLE = 3000, ROUNDS = 5;

const TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_ACK = 0x10;
const log = (msg: string) => process.stdout.write(`[pktcost ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface Figure { program: string; packet: string; ns: Summary; runs: number; retval: number }

async function main(): Promise<void> {
  const cluster = await SimCluster.create({ nodes: ['pc'] });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pktcost-'));
  let agent: SimAgent | undefined;
  const fds: number[] = [];
  try {
    const node = cluster.node('pc');
    const pods: Record<string, SimPod> = {};
    for (const p of ['client', 'be1', 'be2']) pods[p] = await cluster.addPod(node.name, p);
    const { client, be1, be2 } = pods as { client: SimPod; be1: SimPod; be2: SimPod };
    const sf = path.join(tmp, 'services.json');
    fs.writeFileSync(sf, stateFile(benchServices(SERVICES, 10, { be1: be1.ip, be2: be2.ip })));
    const n = SERVICES;
    agent = await SimAgent.start(cluster, node.name, {
      stateFile: sf, readyTimeoutMs: 120000,
      args: ['--max-services', String(Math.ceil(n * 1.25) + 64), '--max-backends', String(Math.ceil(n * 10 * 1.25) + 64),
        '--maglev-slots', String(Math.ceil((n + 8) * 2 * maglevRunWords(maglevSize(10), 10) * 1.1)), '--max-conntrack', '262144'],
    });
    await agent.waitLog((l) => l.msg === 'applied' && Number(l.services) === n, 120000);
    const progOf = async (dev: string, kind: string) => waitFor(`${kind} program on ${dev}`, async () => {
      const j = JSON.parse(await nsRun(node.ns, 'bpftool', ['-j', 'net', 'show', 'dev', dev])) as Array<{ tc?: Array<{ kind: string; id: number; name: string }> }>;
      return j[0]?.tc?.find((t) => t.kind === kind);
    }, 15000, 100);
    const fromPod = await progOf(client.hostIf, 'clsact/ingress');
    const toPod = await progOf(client.hostIf, 'clsact/egress');
    // bpftool names them "sl_from_pod:[id]".
    const nameOf = (p: { name: string }) => p.name.replace(/:\[\d+\]$/, '');
    const progs: Record<string, number> = { [nameOf(fromPod)]: progFdById(fromPod.id), [nameOf(toPod)]: progFdById(toPod.id) };
    fds.push(...Object.values(progs));
    log(`agent on ${node.ns} with ${n} services; programs ${fromPod.name} (${fromPod.id}), ${toPod.name} (${toPod.id})`);

    const figures: Figure[] = [];
    /** @frame() run by @prog: REPEAT times in the kernel per round when the frame is fixed, else SINGLE single runs. */
    const measure = (prog: string, packet: string, frame: (i: number) => Buffer, fixed: boolean) => {
      const per: number[] = [];
      let retval = 0;
      for (let r = 0; r < ROUNDS; r++) {
        if (fixed) {
          const x = progTestRun(progs[prog]!, frame(0), REPEAT);
          per.push(x.durationNs);
          retval = x.retval;
        } else {
          // A single run carries the kernel's timer and first-touch costs: each is paired with a
          // single run of a fixed direct-path frame, and the figure is that one's repeated cost
          // plus the median difference of the pairs.
          const d: number[] = [];
          for (let i = 0; i < SINGLE; i++) {
            const b = progTestRun(progs[F]!, bias, 1).durationNs;
            const x = progTestRun(progs[prog]!, frame(r * SINGLE + i), 1);
            d.push(x.durationNs - b);
            retval = x.retval;
          }
          per.push(summarize(d).median + biasRepeated);
        }
      }
      const f = { program: prog, packet, ns: summarize(per, 1), runs: fixed ? REPEAT * ROUNDS : SINGLE * ROUNDS, retval };
      figures.push(f);
      log(`  ${prog.padEnd(12)} ${packet.padEnd(58)} ${String(f.ns.median).padStart(7)} ns (${f.ns.min}–${f.ns.max}), retval ${retval}`);
    };
    const F = nameOf(fromPod), T = nameOf(toPod);
    const bias = tcpFrame(client.ip, 40000, be1.ip, CRR_PORT, TCP_ACK);
    const biasRepeated = summarize(Array.from({ length: ROUNDS }, () => progTestRun(progs[F]!, bias, REPEAT).durationNs)).median;
    // Direct pod-to-pod (and what a socket-translated connection sends): no frontend, no conntrack.
    measure(F, 'pod -> pod, TCP ACK (direct; socket-LB after connect())', () => tcpFrame(client.ip, 40000, be1.ip, CRR_PORT, TCP_ACK), true);
    // Check of the single-run method (rows marked "one run each"): should equal the row above.
    measure(F, 'pod -> pod, TCP ACK, one run each (method check)', () => tcpFrame(client.ip, 40001, be1.ip, CRR_PORT, TCP_ACK), false);
    measure(F, 'pod -> pod, TCP SYN (direct; socket-LB after connect())', () => tcpFrame(client.ip, 40000, be1.ip, CRR_PORT, TCP_SYN), true);
    measure(T, 'pod -> pod, TCP ACK entering the pod (no translation)', () => tcpFrame(be1.ip, CRR_PORT, client.ip, 40000, TCP_ACK), true);
    // Through the ClusterIP: a new flow per run (SYN, new source port), then an established one.
    measure(F, 'pod -> ClusterIP, TCP SYN of a new flow (Maglev, conntrack pair), one run each', (i) => tcpFrame(client.ip, 2000 + i, TARGET_VIP, CRR_PORT, TCP_SYN), false);
    // A new flow on the tuple of a closed one whose entries are still there (a client opening
    // connections at a high rate reuses its ports within the closing timeout): each port first
    // carries a whole connection (SYN, SYN-ACK, FIN both ways), then the measured SYN reopens it.
    const REUSED = 20000;
    for (let i = 0; i < SINGLE * ROUNDS; i++) {
      const sp = REUSED + i;
      const be = progTestRun(progs[F]!, tcpFrame(client.ip, sp, TARGET_VIP, CRR_PORT, TCP_SYN), 1).out.subarray(30, 34);
      const beIp = [...be].join('.');
      progTestRun(progs[T]!, tcpFrame(beIp, CRR_PORT, client.ip, sp, TCP_SYN | TCP_ACK), 1);
      progTestRun(progs[F]!, tcpFrame(client.ip, sp, TARGET_VIP, CRR_PORT, TCP_FIN | TCP_ACK), 1);
      progTestRun(progs[T]!, tcpFrame(beIp, CRR_PORT, client.ip, sp, TCP_FIN | TCP_ACK), 1);
    }
    measure(F, 'pod -> ClusterIP, TCP SYN reusing a closed flow\'s tuple (port reuse), one run each', (i) => tcpFrame(client.ip, REUSED + i, TARGET_VIP, CRR_PORT, TCP_SYN), false);
    measure(F, 'pod -> ClusterIP, TCP ACK of an established flow (conntrack hit)', () => tcpFrame(client.ip, 2000, TARGET_VIP, CRR_PORT, TCP_ACK), true);
    // The reply: from whichever backend Maglev gave the flow (its REPLY entry puts the ClusterIP back).
    const replyFrom = [be1, be2].find((be) => progTestRun(progs[T]!, tcpFrame(be.ip, CRR_PORT, client.ip, 2001, TCP_ACK), 1).out.subarray(26, 30).equals(ipBytes(TARGET_VIP)));
    if (!replyFrom) throw new Error('no reverse translation for the flow from port 2001');
    measure(T, 'backend -> pod, TCP ACK of a translated flow (reverse NAT)', () => tcpFrame(replyFrom.ip, CRR_PORT, client.ip, 2001, TCP_ACK), true);
    measure(F, 'pod -> ClusterIP, TCP FIN of an established flow', () => tcpFrame(client.ip, 2002, TARGET_VIP, CRR_PORT, TCP_FIN | TCP_ACK), true);
    const out = { meta: { date: new Date().toISOString(), kernel: os.release(), services: n, repeat: REPEAT, single: SINGLE, rounds: ROUNDS,
      method: 'BPF_PROG_TEST_RUN on the agent\'s loaded programs and live maps: fixed frames repeated in the kernel (average per run), frames that must differ (new flows) one run each (median); median of rounds with min-max' }, figures };
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(path.join(OUT, 'pktcost.json'), JSON.stringify(out, null, 1) + '\n');
    log(`written ${path.join(OUT, 'pktcost.json')}`);
  } finally {
    for (const fd of fds) closeFd(fd);
    if (agent) await Promise.race([agent.kill('SIGTERM'), sleep(5000)]).catch(() => undefined);
    await cluster.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`pktcost failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
