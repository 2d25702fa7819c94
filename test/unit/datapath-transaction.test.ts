// Datapath.apply is all or nothing: a map write failing at any step leaves the maps byte for byte
// (Maglev slots included) and the agent's view as they were, and the reconciler throws the reason
// the agent nacks the version with. Runs on the fake maps, no root or BPF needed.
import { describe, expect, it } from 'vitest';
import * as L from '../../agent/bpf/layout.ts';
import { Datapath, type MapSizes } from '../../agent/datapath.ts';
import { E2BIG, EINVAL, ENOMEM, EPERM, fakeMaps, maglevIds } from '../../agent/maps/fake-map.ts';
import { MapWriteError } from '../../agent/maps/transaction.ts';
import { u32Key } from '../../agent/maps/map.ts';
import { Reconciler } from '../../agent/reconciler.ts';
import { toService, type ServiceJson } from '../../proto/contract.ts';

const SIZES: MapSizes = { services: 64, backends: 128, maglev: 1 << 13, ct: 64, affinity: 64 };
const NODE = { node: 'n1', nodeIps: ['192.168.1.10'] };

const ep = (n: number, extra: { terminating?: boolean; nodeName?: string } = {}) => ({ ip: `10.0.0.${n}`, port: 8080, ready: true, ...extra });

/** Before: four services, one of them external (LoadBalancer, Local) and one with affinity. */
const BEFORE = ([
  { namespace: 'default', name: 'web', clusterIps: ['10.96.0.10'], ports: [
    { name: 'http', protocol: 'TCP', port: 80, endpoints: [ep(1), ep(2), ep(3)] },
    { name: 'dns', protocol: 'UDP', port: 53, endpoints: [ep(1), ep(2)] }] },
  { namespace: 'default', name: 'sticky', clusterIps: ['10.96.0.20'], affinityClientIp: true, affinityTimeoutSeconds: 60,
    ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [ep(4), ep(5)] }] },
  { namespace: 'default', name: 'gone', clusterIps: ['10.96.0.30'], ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [ep(6)] }] },
  { namespace: 'default', name: 'lb', type: 'LoadBalancer', clusterIps: ['10.96.0.40'], externalTrafficLocal: true,
    loadBalancerIps: ['203.0.113.7'], ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080,
      endpoints: [ep(7, { nodeName: 'n1' }), ep(8, { nodeName: 'n2' })] }] },
] as ServiceJson[]).map(toService);

/** After: changed backend sets, a terminating backend, new affinity timeout, a removal, a new service, external changes. */
const AFTER = ([
  { namespace: 'default', name: 'web', clusterIps: ['10.96.0.10'], ports: [
    { name: 'http', protocol: 'TCP', port: 80, endpoints: [ep(2, { terminating: true }), ep(3), ep(9)] },
    { name: 'dns', protocol: 'UDP', port: 53, endpoints: [ep(1), ep(2), ep(3)] }] },
  { namespace: 'default', name: 'sticky', clusterIps: ['10.96.0.20'], affinityClientIp: true, affinityTimeoutSeconds: 30,
    ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [ep(4), ep(5)] }] },
  { namespace: 'default', name: 'new', clusterIps: ['10.96.0.50'], ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [ep(10), ep(11)] }] },
  { namespace: 'default', name: 'lb', type: 'LoadBalancer', clusterIps: ['10.96.0.40'], externalTrafficLocal: true,
    loadBalancerIps: ['203.0.113.7', '203.0.113.8'], ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080,
      endpoints: [ep(7, { nodeName: 'n1' }), ep(12, { nodeName: 'n1' })] }] },
] as ServiceJson[]).map(toService);

function setup() {
  const maps = fakeMaps(SIZES);
  const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
  const rec = new Reconciler(dp, NODE);
  rec.applySnapshot(BEFORE);
  maps.faults.writes = 0;
  return { maps, dp, rec };
}

/**
 * Every map's entries (sorted by key) and the Maglev slots a service entry points at, as hex. (Slots
 * of free runs are nobody's: a failed change may leave a table it wrote there, unreferenced.)
 */
function dump(maps: ReturnType<typeof fakeMaps>) {
  const out: Record<string, string[]> = {};
  for (const [name, m] of Object.entries(maps.maps)) {
    out[name] = m.entries().map((e) => `${e.key.toString('hex')}=${e.value.toString('hex')}`).sort();
  }
  out.maglev = maps.maps.sl_services.entries().map((e) => {
    const v = L.svcValue.decode(e.value);
    return `${e.key.toString('hex')}=${Buffer.from(maglevIds(maps.maglev.view, v.maglev_base, v.maglev_size).buffer).toString('hex')}`;
  }).sort();
  return out;
}

/** What the agent believes is programmed. */
const view = (dp: Datapath, rec: Reconciler) => ({ frontends: new Map(dp.frontends), backends: dp.backendCount, services: new Map(rec.services), desired: new Set(rec.desired) });

/** What agent/main.ts's apply() nacks a version with: the message of what the reconciler threw. */
function nackReason(fn: () => unknown): string | undefined {
  try { fn(); return undefined; } catch (e) { return (e as Error).message; }
}

describe('Datapath.apply rolls back a failed write', () => {
  const clean = setup();
  clean.rec.applySnapshot(AFTER);
  const total = clean.maps.faults.writes;
  const expected = dump(clean.maps);

  it('the change is big enough to mean something', () => {
    expect(total).toBeGreaterThan(15);
    expect([...clean.dp.frontends.keys()].sort()).toEqual([
      '10.96.0.10:53/UDP', '10.96.0.10:80/TCP', '10.96.0.20:80/TCP', '10.96.0.40:80/TCP', '10.96.0.50:80/TCP',
      '192.168.1.10:30080/TCP/external', '192.168.1.10:30080/TCP/short-circuit', '203.0.113.7:80/TCP/external',
      '203.0.113.7:80/TCP/short-circuit', '203.0.113.8:80/TCP/external', '203.0.113.8:80/TCP/short-circuit',
    ]);
  });

  it('at every write step: maps byte for byte and the view as before, the reason nacked, a retry then correct', () => {
    const errnos = [EPERM, EINVAL, E2BIG, ENOMEM];
    for (let n = 1; n <= total; n++) {
      const { maps, dp, rec } = setup();
      const before = dump(maps), viewBefore = view(dp, rec);
      const errno = errnos[n % errnos.length]!;
      maps.faults.add({ at: n, errno });

      let thrown: unknown;
      try { rec.applySnapshot(AFTER); } catch (e) { thrown = e; }
      expect(thrown, `write ${n}`).toBeInstanceOf(MapWriteError);
      const e = thrown as MapWriteError;
      expect(e.errno, `write ${n}`).toBe(errno);
      expect(e.message, `write ${n}`).toMatch(new RegExp(`^(update|delete|batch update|batch delete) on ${e.map} failed: .*\\(errno ${errno}\\); the change was undone`));
      expect(dump(maps), `maps after a fault at write ${n} of ${total}`).toEqual(before);
      expect(view(dp, rec), `view after a fault at write ${n}`).toEqual(viewBefore);

      // The next version applies as if the failed one had never been tried.
      expect(nackReason(() => rec.applySnapshot(AFTER)), `retry after write ${n}`).toBeUndefined();
      expect(dump(maps), `maps after the retry (fault was at write ${n})`).toEqual(expected);
    }
  });

  it('a delta fails and rolls back the same way', () => {
    const { maps, dp, rec } = setup();
    const before = dump(maps), viewBefore = view(dp, rec);
    maps.faults.add({ at: 1, kind: 'delete', map: 'sl_backends', errno: EPERM });
    const reason = nackReason(() => rec.applyDelta([AFTER[0]!], ['default/gone']));
    expect(reason).toMatch(/^batch delete on sl_backends failed: Operation not permitted \(errno 1\); the change was undone/);
    expect(dump(maps)).toEqual(before);
    expect(view(dp, rec)).toEqual(viewBefore);
  });

  it('map full at the Nth insert: the fault counts inserts only', () => {
    const { maps, dp, rec } = setup();
    const before = dump(maps), viewBefore = view(dp, rec);
    maps.faults.add({ at: 3, kind: 'insert', map: 'sl_backends', errno: E2BIG });
    expect(nackReason(() => rec.applySnapshot(AFTER))).toMatch(/^batch update on sl_backends failed: .*\(errno 7\)/);
    expect(dump(maps)).toEqual(before);
    expect(view(dp, rec)).toEqual(viewBefore);
  });

  it('a map filled by another writer after the capacity check: E2BIG from max_entries, rolled back, then applied once there is room', () => {
    const { maps, dp, rec } = setup();
    const backends = maps.maps.sl_backends;
    const strangers: Buffer[] = [];
    for (let id = 1000; backends.count() < backends.maxEntries; id++) {
      strangers.push(u32Key(id));
      backends.update(u32Key(id), Buffer.alloc(backends.valueSize));
    }
    const before = dump(maps), viewBefore = view(dp, rec);
    expect(nackReason(() => rec.applySnapshot(AFTER))).toMatch(/^batch update on sl_backends failed: .*\(errno 7\); the change was undone/);
    expect(dump(maps)).toEqual(before);
    expect(view(dp, rec)).toEqual(viewBefore);

    for (const k of strangers) backends.delete(k);
    expect(nackReason(() => rec.applySnapshot(AFTER))).toBeUndefined();
    expect(dump(maps)).toEqual(expected);
  });

  it('a datapath built again over the same maps sees what was programmed', () => {
    const again = Datapath.fromMaps(clean.maps, { node: 'n1', sizes: SIZES });
    expect(again.adopted).toBe(true);
    expect(again.frontends).toEqual(clean.dp.frontends);
    expect(again.backendCount).toBe(clean.dp.backendCount);
  });

  it('refuses a frontend of more backends than a 16-bit Maglev slot can index, naming it; the maps keep what they had', () => {
    const { maps, dp } = setup();
    const before = dump(maps);
    const backends = Array.from({ length: 65536 }, (_, i) => ({ ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 8080 }));
    expect(() => dp.apply([{ vip: '10.96.9.9', port: 80, proto: 'TCP', name: 'default/huge:http', affinityTimeout: 0, backends }]))
      .toThrow('default/huge:http: 65536 backends exceed the 65535 one frontend can hold (a Maglev slot names its backend in 16 bits)');
    expect(dump(maps)).toEqual(before);
  });

  it('removals look nothing up in sl_backends (the view knows each value); over adopted maps, a fault at any of their writes still undoes them byte for byte', () => {
    // Frontends adopted from the maps (an agent restarted over its pins), then every one removed.
    const count = (maps: ReturnType<typeof fakeMaps>) => {
      const n = { backends: 0 };
      const m = maps.maps.sl_backends, lookup = m.lookup.bind(m);
      m.lookup = (k) => { n.backends++; return lookup(k); };
      return n;
    };
    const adopt = () => {
      const { maps } = setup();
      const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
      return { maps, dp, rec: new Reconciler(dp, NODE) };
    };
    const ok = adopt();
    const lookups = count(ok.maps);
    ok.maps.faults.writes = 0;
    const adopted = ok.dp.frontends.size;
    expect(adopted).toBe(9);
    expect(ok.rec.applySnapshot([]).removed).toBe(adopted);
    expect(lookups.backends).toBe(0);
    expect(ok.maps.maps.sl_backends.count()).toBe(0);
    const total = ok.maps.faults.writes;
    expect(total).toBeGreaterThan(adopted);
    for (let n = 1; n <= total; n++) {
      const { maps, dp, rec } = adopt();
      const before = dump(maps), viewBefore = view(dp, rec);
      maps.faults.writes = 0;
      maps.faults.add({ at: n, errno: EPERM });
      expect(nackReason(() => rec.applySnapshot([])), `write ${n}`).toMatch(/the change was undone/);
      expect(dump(maps), `maps after a fault at write ${n} of ${total}`).toEqual(before);
      expect(view(dp, rec), `view after a fault at write ${n}`).toEqual(viewBefore);
    }
  });
});
