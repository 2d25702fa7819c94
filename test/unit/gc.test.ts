// The conntrack and affinity GC over the fake maps: what expires goes, what is live stays, and a
// tuple a client re-created between the scan and the delete is spared.
import { describe, expect, it } from 'vitest';
import * as L from '../../agent/bpf/layout.ts';
import { Datapath, type MapSizes } from '../../agent/datapath.ts';
import { collectGarbage, collectGarbageInSteps, forgetRemovedUdp } from '../../agent/gc.ts';
import { FAKE_SCAN_STEP, fakeMaps } from '../../agent/maps/fake-map.ts';

const SIZES: MapSizes = { services: 16, backends: 16, maglev: 1 << 12, ct: 64, affinity: 64 };
const S = 1_000_000_000n;
const NOW = 100_000n * S;
const TIMEOUTS = { tcpSeconds: 100, closingSeconds: 10, udpSeconds: 30 };

function setup() {
  const maps = fakeMaps(SIZES);
  const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
  dp.apply([
    { vip: '10.96.0.10', port: 80, proto: 'TCP', name: 'default/web:http', affinityTimeout: 60,
      backends: [{ ip: '10.0.0.1', port: 8080 }, { ip: '10.0.0.2', port: 8080 }] },
    { vip: '10.96.0.10', port: 53, proto: 'UDP', name: 'default/web:dns', affinityTimeout: 0, backends: [{ ip: '10.0.0.3', port: 5353 }] },
  ]);
  const tcp = dp.frontends.get('10.96.0.10:80/TCP')!, udp = dp.frontends.get('10.96.0.10:53/UDP')!;
  return { maps, dp, tcp, udp, tcpBackend: tcp.backends.get('10.0.0.1:8080')!.id, udpBackend: udp.backends.get('10.0.0.3:5353')!.id };
}

let sport = 40000;
function flow(proto: 'TCP' | 'UDP', backendId: number, svcId: number, idleSeconds: bigint, flags = 0) {
  const key = L.ctKey.encode({ saddr: '10.1.0.5', daddr: '10.96.0.10', sport: sport++, dport: 80, proto: L.IPPROTO[proto], dir: L.SL_CT_DIR_SERVICE });
  const value = L.ctEntry.encode({ nat_addr: '10.0.0.1', nat_port: 8080, flags, svc_id: svcId, backend_id: backendId,
    created_ns: NOW - 20_000n * S, last_seen_ns: NOW - idleSeconds * S });
  return { key, value };
}

describe('collectGarbage', () => {
  it('gives a TCP flow the backend never answered only the SYN timeout, counted from its creation; adopted flows are spared', () => {
    const { maps, dp, tcp, tcpBackend } = setup();
    const created = (f: ReturnType<typeof flow>, agoSeconds: bigint) => {
      const v = L.ctEntry.decode(f.value);
      return { key: f.key, value: L.ctEntry.encode({ ...v, created_ns: NOW - agoSeconds * S }) };
    };
    const ct = {
      unansweredOld: created(flow('TCP', tcpBackend, tcp.svcId, 1n), 61n),
      unansweredYoung: created(flow('TCP', tcpBackend, tcp.svcId, 1n), 30n),
      answeredOld: created(flow('TCP', tcpBackend, tcp.svcId, 1n, L.SL_CT_F_REPLIED), 61n),
      adopted: created(flow('TCP', tcpBackend, tcp.svcId, 1n), 500n),
    };
    for (const f of Object.values(ct)) maps.maps.sl_ct.update(f.key, f.value);
    const r = collectGarbage(dp, { ...TIMEOUTS, synSeconds: 60, synSince: NOW - 100n * S }, NOW);
    expect(r.ctDeleted).toBe(1);
    const left = new Set(maps.maps.sl_ct.entries().map((e) => e.key.toString('hex')));
    expect(left.has(ct.unansweredOld.key.toString('hex'))).toBe(false);
    for (const k of ['unansweredYoung', 'answeredOld', 'adopted'] as const) expect(left.has(ct[k].key.toString('hex')), k).toBe(true);
  });

  it('forgetRemovedUdp deletes only UDP flows whose backend is gone', () => {
    const { maps, dp, tcp, udp, udpBackend } = setup();
    const keep = [flow('UDP', udpBackend, udp.svcId, 1n), flow('TCP', 999, tcp.svcId, 1n)];
    const gone = flow('UDP', 999, udp.svcId, 1n);
    for (const f of [...keep, gone]) maps.maps.sl_ct.update(f.key, f.value);
    expect(forgetRemovedUdp(dp)).toBe(1);
    expect(maps.maps.sl_ct.entries().map((e) => e.key.toString('hex')).sort()).toEqual(keep.map((f) => f.key.toString('hex')).sort());
  });

  it('judges UDP flows by the backends of UDP (and affinity) frontends only: an id a TCP frontend holds does not keep one', () => {
    // Backend ids are one space: a UDP flow left from a removed UDP frontend may name an id since
    // given to a TCP frontend's backend. Only UDP and affinity frontends' backends are collected.
    const maps = fakeMaps(SIZES);
    const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
    dp.apply([{ vip: '10.96.0.11', port: 80, proto: 'TCP', name: 'default/tcp-only:http', affinityTimeout: 0, backends: [{ ip: '10.0.0.9', port: 80 }] }]);
    const tcpOnly = dp.frontends.get('10.96.0.11:80/TCP')!;
    const stale = flow('UDP', [...tcpOnly.backends.values()][0]!.id, 77, 1n);
    maps.maps.sl_ct.update(stale.key, stale.value);
    expect(forgetRemovedUdp(dp)).toBe(1);
  });

  it('forgetRemovedUdp and the GC scan conntrack in place: no snapshot of the map, whatever its size', () => {
    // The agent runs forgetRemovedUdp after every change that removes a UDP backend: a copy of a
    // full sl_ct each time (two Buffers and a decoded object per flow) made its RSS grow under churn.
    const { maps, dp, udp, udpBackend } = setup();
    const big = fakeMaps({ ...SIZES, ct: 6000 });
    const target = { frontends: dp.frontends, maps: { sl_ct: big.maps.sl_ct, sl_affinity: maps.maps.sl_affinity } };
    for (let i = 0; i < 5000; i++) {
      const f = flow('UDP', i % 5 ? udpBackend : 999, udp.svcId, 1n);
      big.maps.sl_ct.update(f.key, f.value);
    }
    big.maps.sl_ct.entries = () => { throw new Error('sl_ct copied whole'); };
    let visited = 0;
    const scan = big.maps.sl_ct.scan.bind(big.maps.sl_ct);
    big.maps.sl_ct.scan = (visit) => scan((k, v) => { visited++; visit(k, v); });
    expect(forgetRemovedUdp(target)).toBe(1000);
    expect(visited).toBe(5000);
    expect(big.maps.sl_ct.count()).toBe(4000);
    expect(collectGarbage(target, TIMEOUTS, NOW).ctScanned).toBe(4000);
  });

  it('deletes expired conntrack and affinity entries and keeps live ones', () => {
    const { maps, dp, tcp, udp, tcpBackend, udpBackend } = setup();
    const ct = {
      idleTcp: flow('TCP', tcpBackend, tcp.svcId, 200n),
      activeTcp: flow('TCP', tcpBackend, tcp.svcId, 50n),
      closed: flow('TCP', tcpBackend, tcp.svcId, 20n, L.SL_CT_F_CLOSING),
      activeUdp: flow('UDP', udpBackend, udp.svcId, 5n),
      udpToRemovedBackend: flow('UDP', 999, udp.svcId, 5n),
    };
    for (const f of Object.values(ct)) maps.maps.sl_ct.update(f.key, f.value);
    const aff = (svcId: number, client: string, backendId: number, idle: bigint) => {
      const key = L.affKey.encode({ svc_id: svcId, kind: L.SL_AFF_CLIENT_ADDR4, client: L.ipToBytes(client) });
      maps.maps.sl_affinity.update(key, L.affValue.encode({ backend_id: backendId, last_used_ns: NOW - idle * S }));
      return key;
    };
    const live = aff(tcp.svcId, '10.1.0.5', tcpBackend, 10n);
    aff(tcp.svcId, '10.1.0.6', tcpBackend, 100n);
    aff(tcp.svcId, '10.1.0.7', 999, 1n);
    aff(udp.svcId, '10.1.0.8', udpBackend, 1n);

    expect(collectGarbage(dp, TIMEOUTS, NOW)).toEqual({ ctScanned: 5, ctDeleted: 3, affinityDeleted: 3 });
    const left = maps.maps.sl_ct.entries().map((e) => e.key.toString('hex')).sort();
    expect(left).toEqual([ct.activeTcp.key, ct.activeUdp.key].map((k) => k.toString('hex')).sort());
    expect(maps.maps.sl_affinity.entries().map((e) => e.key)).toEqual([live]);
  });

  it('spares a tuple re-created between the scan and the delete', () => {
    const { maps, dp, tcp, tcpBackend } = setup();
    const old = flow('TCP', tcpBackend, tcp.svcId, 200n);
    const gone = flow('TCP', tcpBackend, tcp.svcId, 200n);
    const ctMap = maps.maps.sl_ct;
    ctMap.update(old.key, old.value);
    ctMap.update(gone.key, gone.value);
    // A new connection on the same tuple, created right after the GC's scan.
    const reborn = Buffer.from(old.value);
    L.ctEntry.encode({ ...L.ctEntry.decode(old.value), created_ns: NOW, last_seen_ns: NOW }, reborn);
    const scan = ctMap.scan.bind(ctMap);
    ctMap.scan = (visit) => {
      scan(visit);
      ctMap.update(old.key, reborn);
    };

    expect(collectGarbage(dp, TIMEOUTS, NOW)).toMatchObject({ ctScanned: 2, ctDeleted: 1 });
    expect(ctMap.lookup(old.key)).toEqual(reborn);
    expect(ctMap.lookup(gone.key)).toBeUndefined();
  });
});

// The agent's timer runs the pass in steps: a pass over a large conntrack map held the agent's event
// loop for 30-450 ms (bench/run.ts's change figures, 2026-11-29), and an update from the control
// plane arriving meanwhile waited for all of it: the tail of one endpoint change.
describe('collectGarbageInSteps', () => {
  /** A conntrack map of `n` TCP flows, every 5th idle past the timeout. */
  function bigTarget(n: number) {
    const { maps, dp, tcp, tcpBackend } = setup();
    const big = fakeMaps({ ...SIZES, ct: n + 10 });
    sport = 1; // distinct tuples, within the port range
    for (let i = 0; i < n; i++) {
      const f = flow('TCP', tcpBackend, tcp.svcId, i % 5 ? 1n : 200n);
      big.maps.sl_ct.update(f.key, f.value);
    }
    return { frontends: dp.frontends, maps: { sl_ct: big.maps.sl_ct, sl_affinity: maps.maps.sl_affinity } };
  }

  it('finds and deletes what collectGarbage finds and deletes', async () => {
    const a = setup(), b = setup();
    for (const { maps, tcp, udp, tcpBackend, udpBackend } of [a, b]) {
      sport = 50000; // the same tuples in both
      for (const f of [flow('TCP', tcpBackend, tcp.svcId, 200n), flow('TCP', tcpBackend, tcp.svcId, 50n), flow('TCP', tcpBackend, tcp.svcId, 20n, L.SL_CT_F_CLOSING),
        flow('UDP', udpBackend, udp.svcId, 5n), flow('UDP', 999, udp.svcId, 5n)]) maps.maps.sl_ct.update(f.key, f.value);
      const key = L.affKey.encode({ svc_id: tcp.svcId, kind: L.SL_AFF_CLIENT_ADDR4, client: L.ipToBytes('10.1.0.7') });
      maps.maps.sl_affinity.update(key, L.affValue.encode({ backend_id: 999, last_used_ns: NOW - S }));
    }
    const inSteps = await collectGarbageInSteps(a.dp, TIMEOUTS, NOW);
    expect(inSteps).toEqual({ ctScanned: 5, ctDeleted: 3, affinityDeleted: 1 });
    expect(collectGarbage(b.dp, TIMEOUTS, NOW)).toEqual(inSteps);
    const keys = (m: typeof a.maps.maps.sl_ct) => m.entries().map((e) => e.key.toString('hex')).sort();
    expect(keys(a.maps.maps.sl_ct)).toEqual(keys(b.maps.maps.sl_ct));
  });

  it('pauses between batches, so work queued during a pass (an update) runs before the pass ends', async () => {
    const n = 5 * FAKE_SCAN_STEP;
    const target = bigTarget(n);
    let pauses = 0;
    const r = await collectGarbageInSteps(target, TIMEOUTS, NOW, async () => { pauses++; await new Promise((res) => setImmediate(res)); });
    expect(r).toEqual({ ctScanned: n, ctDeleted: n / 5, affinityDeleted: 0 });
    expect(pauses).toBeGreaterThanOrEqual(5);

    // With the default pause (the event loop's next turn): something queued just after the pass
    // started runs while it is still going, as it could not with collectGarbage.
    const again = bigTarget(n);
    let done = false, ranDuring: boolean | undefined;
    const pass = collectGarbageInSteps(again, TIMEOUTS, NOW).then(() => { done = true; });
    setImmediate(() => { ranDuring = !done; });
    await pass;
    expect(ranDuring).toBe(true);
    let ranDuringAtOnce: boolean | undefined, doneAtOnce = false;
    setImmediate(() => { ranDuringAtOnce = !doneAtOnce; });
    collectGarbage(bigTarget(n), TIMEOUTS, NOW);
    doneAtOnce = true;
    await new Promise((res) => setImmediate(res));
    expect(ranDuringAtOnce).toBe(false);
  });

  it('a pause that throws (the agent stopping) ends the pass there', async () => {
    const target = bigTarget(3 * FAKE_SCAN_STEP);
    await expect(collectGarbageInSteps(target, TIMEOUTS, NOW, async () => { throw new Error('agent stopping'); })).rejects.toThrow('agent stopping');
    // Stopped after the first batch: nothing deleted yet (deletes follow the scan).
    expect(target.maps.sl_ct.count()).toBe(3 * FAKE_SCAN_STEP);
  });
});

// sl_ct6 is judged as sl_ct is (docs/ipv6.md): same timeouts, same rules, in the same passes.
describe('collectGarbage over IPv6 conntrack (sl_ct6)', () => {
  function setup6() {
    const maps = fakeMaps(SIZES);
    const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
    dp.apply([
      { vip: 'fd00:96::a', port: 80, proto: 'TCP', name: 'default/web6:http', affinityTimeout: 0, backends: [{ ip: 'fd00:244::1', port: 8080 }] },
      { vip: 'fd00:96::a', port: 53, proto: 'UDP', name: 'default/web6:dns', affinityTimeout: 0, backends: [{ ip: 'fd00:244::3', port: 5353 }] },
    ]);
    const tcp = dp.frontends.get('fd00:96::a:80/TCP')!, udp = dp.frontends.get('fd00:96::a:53/UDP')!;
    return { maps, dp, tcp, udp, tcpBackend: [...tcp.backends.values()][0]!.id, udpBackend: [...udp.backends.values()][0]!.id };
  }
  function flow6(proto: 'TCP' | 'UDP', backendId: number, svcId: number, idleSeconds: bigint, flags = L.SL_CT_F_REPLIED, createdAgo = 20_000n) {
    const key = L.ct6Key.encode({ saddr: 'fd00:244::5', daddr: 'fd00:96::a', sport: sport++, dport: 80, proto: L.IPPROTO[proto], dir: L.SL_CT_DIR_SERVICE });
    const value = L.ct6Entry.encode({ nat_addr: 'fd00:244::1', nat_port: 8080, flags, svc_id: svcId, backend_id: backendId,
      created_ns: NOW - createdAgo * S, last_seen_ns: NOW - idleSeconds * S });
    return { key, value };
  }

  it('expires idle, closing, unanswered and orphaned-UDP IPv6 flows by the IPv4 rules; live ones stay', () => {
    const { maps, dp, tcp, udp, tcpBackend, udpBackend } = setup6();
    const f = {
      tcpLive: flow6('TCP', tcpBackend, tcp.svcId, 50n),
      tcpIdle: flow6('TCP', tcpBackend, tcp.svcId, 101n),
      closing: flow6('TCP', tcpBackend, tcp.svcId, 11n, L.SL_CT_F_CLOSING),
      closingYoung: flow6('TCP', tcpBackend, tcp.svcId, 5n, L.SL_CT_F_CLOSING),
      unanswered: flow6('TCP', tcpBackend, tcp.svcId, 1n, 0, 61n),
      udpLive: flow6('UDP', udpBackend, udp.svcId, 20n),
      udpIdle: flow6('UDP', udpBackend, udp.svcId, 31n),
      udpOrphan: flow6('UDP', 999, udp.svcId, 1n),
    };
    for (const x of Object.values(f)) maps.maps.sl_ct6.update(x.key, x.value);
    // An IPv4 flow in the same pass, judged as always.
    const v4 = flow('TCP', 999, tcp.svcId, 101n);
    maps.maps.sl_ct.update(v4.key, v4.value);
    const r = collectGarbage(dp, { ...TIMEOUTS, synSeconds: 60, synSince: NOW - 100n * S }, NOW);
    expect(r).toMatchObject({ ctScanned: 9, ctDeleted: 6 });
    const left = new Set(maps.maps.sl_ct6.entries().map((e) => e.key.toString('hex')));
    expect(Object.entries(f).filter(([, x]) => left.has(x.key.toString('hex'))).map(([k]) => k).sort()).toEqual(['closingYoung', 'tcpLive', 'udpLive']);
    expect(maps.maps.sl_ct.count()).toBe(0);
  });

  it('forgetRemovedUdp forgets IPv6 UDP flows to a removed backend at once', () => {
    const { maps, dp, tcp, udp, udpBackend } = setup6();
    const keep = [flow6('UDP', udpBackend, udp.svcId, 1n), flow6('TCP', 999, tcp.svcId, 1n)];
    for (const x of [...keep, flow6('UDP', 999, udp.svcId, 1n)]) maps.maps.sl_ct6.update(x.key, x.value);
    expect(forgetRemovedUdp(dp)).toBe(1);
    expect(maps.maps.sl_ct6.count()).toBe(2);
  });
});
