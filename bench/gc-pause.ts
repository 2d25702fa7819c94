// How long the agent's conntrack GC pass holds its event loop (docs/benchmarks.md, "One endpoint
// change: where the time goes"): the pass at once (collectGarbage, what the agent ran before
// 2026-11-29 night) against the pass in steps (collectGarbageInSteps), side by side in one process,
// alternating, on real kernel maps (an LRU hash of the agent's default sl_ct size, created with
// bpftool under /sys/fs/bpf/sluice-gcpause-<pid>, removed at the end) and a datapath view of
// 10,000 frontends of 10 backends.
//
//   node bench/gc-pause.ts [--flows N] [--rounds R]      (root: bpffs)
//
// Held: at once, the whole pass; in steps, the longest stretch between two pauses; each in wall time
// and in this process's CPU time (on a loaded machine the wall time includes being descheduled). Half the flows
// are expired (closed for longer than the closing timeout), so each pass deletes and the next one
// refills. Frontends are TCP (the live-backend set is not built) or UDP (it is: every backend id).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import * as L from '../agent/bpf/layout.ts';
import * as bpf from '../agent/bpf/libbpf.ts';
import { collectGarbage, collectGarbageInSteps, DEFAULT_GC, type GcTarget } from '../agent/gc.ts';
import { LibbpfMap } from '../agent/maps/libbpf-map.ts';
import { packed } from '../agent/maps/map.ts';

const { values: args } = parseArgs({ options: { flows: { type: 'string', default: '60000' }, rounds: { type: 'string', default: '5' } } });
const FLOWS = Number(args.flows), ROUNDS = Number(args.rounds);
const dir = `/sys/fs/bpf/sluice-gcpause-${process.pid}`;
const S = 1_000_000_000n;

function frontends(proto: 'TCP' | 'UDP'): GcTarget['frontends'] {
  const m = new Map();
  let id = 1;
  for (let s = 0; s < 10_000; s++) {
    const backends = new Map();
    for (let b = 0; b < 10; b++) backends.set(`b${b}`, { id: id++ });
    m.set(`fe${s}`, { svcId: s + 1, proto, affinityTimeout: 0, backends });
  }
  return m as GcTarget['frontends'];
}

function fill(ct: LibbpfMap, now: bigint): void {
  const keys: Buffer[] = [], values: Buffer[] = [];
  for (let i = 0; i < FLOWS; i++) {
    keys.push(L.ctKey.encode({ saddr: `10.1.${(i >> 16) & 255}.${(i >> 8) & 255}`, daddr: '10.96.0.10', sport: i & 0xffff, dport: 80, proto: L.IPPROTO.TCP, dir: L.SL_CT_DIR_SERVICE }));
    const closedAgo = i % 2 ? 1n : BigInt(DEFAULT_GC.closingSeconds + 5);
    values.push(L.ctEntry.encode({ nat_addr: '10.0.0.1', nat_port: 8080, flags: L.SL_CT_F_CLOSING | L.SL_CT_F_REPLIED, svc_id: 1, backend_id: 1 + (i % 100_000),
      created_ns: now - 100n * S, last_seen_ns: now - closedAgo * S }));
  }
  for (let i = 0; i < FLOWS; i += 4096) {
    const k = keys.slice(i, i + 4096), v = values.slice(i, i + 4096);
    ct.updateBatch(packed(k, ct.keySize), packed(v, ct.valueSize), k.length);
  }
}

/** This process's CPU time (user + system), ms: what the pass itself used, whatever else ran. */
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

fs.mkdirSync(dir, { recursive: true });
let ctFd = 0, affFd = 0;
try {
  execFileSync('bpftool', ['map', 'create', `${dir}/sl_ct`, 'type', 'lru_hash', 'key', String(L.ctKey.size), 'value', String(L.ctEntry.size), 'entries', String(L.DEFAULT_SIZES.ct), 'name', 'sl_ct']);
  execFileSync('bpftool', ['map', 'create', `${dir}/sl_affinity`, 'type', 'lru_hash', 'key', String(L.affKey.size), 'value', String(L.affValue.size), 'entries', String(L.DEFAULT_SIZES.affinity), 'name', 'sl_affinity']);
  ctFd = bpf.objGet(`${dir}/sl_ct`);
  affFd = bpf.objGet(`${dir}/sl_affinity`);
  const maps = { sl_ct: new LibbpfMap('sl_ct', ctFd, 1), sl_affinity: new LibbpfMap('sl_affinity', affFd, 1) } as unknown as GcTarget['maps'];
  const result: Record<string, { held_ms: number[]; total_ms: number[]; deleted: number[]; held_cpu_ms: number[]; total_cpu_ms: number[] }> = {};
  const put = (k: string, held: number, total: number, deleted: number, heldCpu: number, totalCpu: number) => {
    const r = (result[k] ??= { held_ms: [], total_ms: [], deleted: [], held_cpu_ms: [], total_cpu_ms: [] });
    r.held_ms.push(+held.toFixed(2)); r.total_ms.push(+total.toFixed(2)); r.deleted.push(deleted);
    r.held_cpu_ms.push(+heldCpu.toFixed(2)); r.total_cpu_ms.push(+totalCpu.toFixed(2));
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const proto of ['TCP', 'UDP'] as const) {
      const dp: GcTarget = { frontends: frontends(proto), maps };
      for (const how of round % 2 ? ['steps', 'once'] as const : ['once', 'steps'] as const) {
        const now = process.hrtime.bigint();
        fill(maps.sl_ct as unknown as LibbpfMap, now);
        if (how === 'once') {
          const t0 = performance.now(), c0 = cpuMs();
          const r = collectGarbage(dp, DEFAULT_GC, now);
          const ms = performance.now() - t0, cpu = cpuMs() - c0;
          put(`${proto} at once`, ms, ms, r.ctDeleted, cpu, cpu);
        } else {
          let held = 0, heldCpu = 0, last = performance.now(), lastCpu = cpuMs();
          const t0 = last, c0 = lastCpu;
          const r = await collectGarbageInSteps(dp, DEFAULT_GC, now, async () => {
            held = Math.max(held, performance.now() - last);
            heldCpu = Math.max(heldCpu, cpuMs() - lastCpu);
            await new Promise((res) => setImmediate(res));
            last = performance.now();
            lastCpu = cpuMs();
          });
          held = Math.max(held, performance.now() - last);
          heldCpu = Math.max(heldCpu, cpuMs() - lastCpu);
          put(`${proto} in steps`, held, performance.now() - t0, r.ctDeleted, heldCpu, cpuMs() - c0);
        }
      }
    }
  }
  const out = Object.fromEntries(Object.entries(result).map(([k, v]) => [k, {
    held_ms_median: median(v.held_ms), held_cpu_ms_median: median(v.held_cpu_ms), held_ms: v.held_ms, held_cpu_ms: v.held_cpu_ms,
    total_ms_median: median(v.total_ms), total_cpu_ms_median: median(v.total_cpu_ms), deleted: v.deleted[0],
  }]));
  process.stdout.write(JSON.stringify({ flows: FLOWS, ct_entries: L.DEFAULT_SIZES.ct, frontends: 10_000, backends_each: 10, rounds: ROUNDS, ...out }, null, 1) + '\n');
} finally {
  if (ctFd) bpf.closeFd(ctFd);
  if (affFd) bpf.closeFd(affFd);
  fs.rmSync(dir, { recursive: true, force: true });
}
