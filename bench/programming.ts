// The agent's programming cost alone, in this process: the datapath loaded into pins of a node
// named sluice-prog-<pid> (no program attached, no namespace, nothing routed), then SERVICES x
// ENDPOINTS programmed from nothing through the state file's path (JSON parse, toService,
// Reconciler.applySnapshot: frontends, Maglev tables, map writes), removed again, ROUNDS times;
// then CHANGES one-service deltas (Reconciler.applyDelta, as a control plane update applies them).
// For profiling what make bench's programming figure is made of, without the benchmark topology.
//
//   node bench/programming.ts [--services 10000] [--endpoints 10] [--rounds 3] [--changes 200] [--cpu-prof DIR]
//
// Prints one JSON line: ms per from-nothing load (parse and apply apart) and per delta (p50/p99);
// apply_cpu_ms is the process's CPU time (user + system) for the apply, steadier than wall time
// on a shared machine; apply_main_cpu_ms the main thread's alone (equal to it unless something in
// the apply runs on another thread).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startCpuProfile } from '../agent/cpu-profile.ts';
import { Datapath, DEFAULT_PIN_ROOT } from '../agent/datapath.ts';
import { maglevSize } from '../agent/maglev.ts';
import { Reconciler } from '../agent/reconciler.ts';
import { toService, type ServiceJson } from '../proto/contract.ts';
import { benchServices, probeService, stateFile } from './lib/model.ts';
import { percentile, summarize } from './lib/stats.ts';

const { values: a } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' }, endpoints: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' }, changes: { type: 'string', default: '200' }, 'cpu-prof': { type: 'string' },
  },
});
const N = Number(a.services), E = Number(a.endpoints), ROUNDS = Number(a.rounds), CHANGES = Number(a.changes);
const node = `sluice-prog-${process.pid}`;
const pods = { be1: '10.244.1.2', be2: '10.244.1.3' };
const text = stateFile(benchServices(N, E, pods, pods.be1));
const slots = (N + 2) * maglevSize(E);
const dp = Datapath.open({
  node, sizes: {
    services: Math.ceil((N + 16) * 1.25), backends: Math.ceil((N * E + 16) * 1.25), maglev: Math.ceil(slots * 1.05) + 4 * maglevSize(E), ct: 1024, affinity: 1024,
  },
});
const ms = (t0: number) => +(performance.now() - t0).toFixed(1);
try {
  const rec = new Reconciler(dp, { node, nodeIps: ['192.168.0.1'] });
  const profile = a['cpu-prof'] ? startCpuProfile(path.resolve(a['cpu-prof'])) : undefined;
  const parse: number[] = [], apply: number[] = [], applyCpu: number[] = [], applyMainCpu: number[] = [], clear: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now();
    const services = (JSON.parse(text) as { services: ServiceJson[] }).services.map(toService);
    parse.push(ms(t0));
    t0 = performance.now();
    const c0 = process.cpuUsage(), m0 = process.threadCpuUsage();
    const st = rec.applySnapshot(services);
    apply.push(ms(t0));
    const c = process.cpuUsage(c0), m = process.threadCpuUsage(m0);
    applyCpu.push(+((c.user + c.system) / 1000).toFixed(1));
    applyMainCpu.push(+((m.user + m.system) / 1000).toFixed(1));
    if (st.errors.length || st.services !== N + 1) throw new Error(`round ${r}: ${st.services} services, errors ${st.errors.join('; ')}`);
    if (r === ROUNDS - 1) break;
    t0 = performance.now();
    rec.applySnapshot([]);
    clear.push(ms(t0));
  }
  // One-service deltas: the probe service's endpoint flips, as in make bench's change measurement.
  const delta: number[] = [];
  const probe = (ip: string) => (JSON.parse(stateFile([probeService(ip)])) as { services: ServiceJson[] }).services.map(toService);
  for (let k = 0; k < CHANGES; k++) {
    const t0 = performance.now();
    rec.applyDelta(probe(k % 2 ? pods.be1 : pods.be2), []);
    delta.push(performance.now() - t0);
  }
  if (profile) process.stderr.write(`profile: ${profile.stop()}\n`);
  process.stdout.write(JSON.stringify({
    services: N + 1, endpoints: E, parse_ms: summarize(parse, 1), apply_ms: summarize(apply, 1), apply_cpu_ms: summarize(applyCpu, 1), apply_main_cpu_ms: summarize(applyMainCpu, 1), clear_ms: summarize(clear, 1),
    delta_ms: CHANGES ? { p50: +percentile(delta, 50).toFixed(3), p99: +percentile(delta, 99).toFixed(3), max: +Math.max(...delta).toFixed(3), n: delta.length } : undefined,
  }) + '\n');
} finally {
  dp.close();
  fs.rmSync(path.join(DEFAULT_PIN_ROOT, node), { recursive: true, force: true });
}
