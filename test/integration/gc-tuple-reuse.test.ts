// The GC deletes what it found expired only after looking again: a client may have reused the tuple
// (a new connection, a new entry) between the GC's scan and its delete. Real kernel maps (bpftool
// creates them on bpffs); the race is made certain by letting the "client" write right after the
// scan the GC reads, which is exactly the window the re-check exists for.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as L from '../../agent/bpf/layout.ts';
import { BackendTable } from '../../agent/backend-table.ts';
import type { Datapath } from '../../agent/datapath.ts';

/** Runs once, right after the GC's scan of sl_ct (set by the test). */
let afterDump: (() => void) | undefined;
vi.mock('../../agent/bpf/libbpf.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../agent/bpf/libbpf.ts')>();
  return {
    ...real,
    mapScan: (...a: Parameters<typeof real.mapScan>) => {
      const n = real.mapScan(...a);
      const hook = afterDump;
      afterDump = undefined;
      hook?.();
      return n;
    },
  };
});

const bpf = await import('../../agent/bpf/libbpf.ts');
const { collectGarbage, DEFAULT_GC } = await import('../../agent/gc.ts');
const { LibbpfMap } = await import('../../agent/maps/libbpf-map.ts');

const dir = `/sys/fs/bpf/sluice-gctest-${process.pid}`;
let ct: number, aff: number;

beforeAll(() => {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, key, value] of [['sl_ct', L.ctKey.size, L.ctEntry.size], ['sl_affinity', L.affKey.size, L.affValue.size]] as const) {
    execFileSync('bpftool', ['map', 'create', `${dir}/${name}`, 'type', 'hash', 'key', String(key), 'value', String(value), 'entries', '64', 'name', name]);
  }
  ct = bpf.objGet(`${dir}/sl_ct`);
  aff = bpf.objGet(`${dir}/sl_affinity`);
});

afterAll(() => {
  if (ct) bpf.closeFd(ct);
  if (aff) bpf.closeFd(aff);
  fs.rmSync(dir, { recursive: true, force: true });
});

const key = (sport: number) => L.ctKey.encode({ saddr: '10.244.1.2', daddr: '10.96.0.10', sport, dport: 53, proto: L.IPPROTO.UDP, dir: 0 });
const entry = (createdNs: bigint, lastSeenNs: bigint) =>
  L.ctEntry.encode({ nat_addr: '10.244.1.3', nat_port: 5353, svc_id: 1, backend_id: 7, created_ns: createdNs, last_seen_ns: lastSeenNs });
const present = (k: Buffer) => bpf.mapLookup(ct, k, Buffer.alloc(L.ctEntry.size));

describe('conntrack GC and tuple reuse', () => {
  it('spares an expired entry whose tuple a new flow took after the dump, deletes the one nobody reused', () => {
    const now = process.hrtime.bigint();
    const old = now - BigInt(DEFAULT_GC.udpSeconds + 60) * 1_000_000_000n; // idle well past the UDP timeout
    const reused = key(40000), stale = key(40001);
    bpf.mapUpdate(ct, reused, entry(old, old));
    bpf.mapUpdate(ct, stale, entry(old, old));
    // Backend 7 is live (a UDP frontend holds it), so only age decides.
    const dp = {
      frontends: new Map([['fe', { svcId: 1, proto: 'UDP', affinityTimeout: 0, backends: BackendTable.wanted(4, [{ ip: '10.0.0.7', port: 53, id: 7 }]).table }]]),
      maps: { sl_ct: new LibbpfMap('sl_ct', ct, 1), sl_affinity: new LibbpfMap('sl_affinity', aff, 1) },
    } as unknown as Datapath;
    // The client sends again on the same tuple just after the GC's dump: the datapath makes a new
    // entry (new created_ns, fresh last_seen).
    afterDump = () => bpf.mapUpdate(ct, reused, entry(now, now));
    const r = collectGarbage(dp, DEFAULT_GC, now);
    expect(afterDump).toBeUndefined(); // the dump happened and the reuse with it
    expect(r.ctScanned).toBe(2);
    expect(present(reused), 'the reused tuple\'s new entry').toBe(true);
    expect(present(stale), 'the expired entry nobody reused').toBe(false);
    expect(r.ctDeleted).toBe(1);
  });
});
