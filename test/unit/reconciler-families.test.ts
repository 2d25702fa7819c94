// The reconciler with dual-stack and IPv6-only services (docs/ipv6.md): the IPv6 frontends go into
// the IPv6 maps (sl_services6, sl_backends6, sl_src_ranges6) with ids from the shared spaces, and the
// IPv4 maps hold exactly what the IPv4 parts alone would give, byte for byte. On a node whose kernel
// has IPv6 off (NodeContext.families [4]) the IPv6 frontends are reported per service (an IPv6-only
// one as a whole), never half-programmed. Runs on the fake maps, no root or BPF needed.
import { describe, expect, it } from 'vitest';
import * as L from '../../agent/bpf/layout.ts';
import { Datapath, type MapSizes } from '../../agent/datapath.ts';
import { fakeMaps, maglevIds } from '../../agent/maps/fake-map.ts';
import { Reconciler } from '../../agent/reconciler.ts';
import type { NodeContext } from '../../agent/services.ts';
import { toService, type ServiceJson } from '../../proto/contract.ts';

const SIZES: MapSizes = { services: 64, backends: 128, maglev: 1 << 13, ct: 64, affinity: 64 };
const NODE: NodeContext = { node: 'n1', nodeIps: ['192.168.1.10', 'fd00:1::10'] };
/** A node whose kernel has IPv6 turned off: IPv4 only. */
const V4_NODE: NodeContext = { ...NODE, families: [4] };

const web = (clusterIps: string[], extra: ServiceJson = {}): ServiceJson => ({
  namespace: 'default', name: 'web', type: 'NodePort', clusterIps,
  ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080, endpoints: [
    { ip: '10.244.1.2', port: 8080, family: 4 }, { ip: '10.244.2.2', port: 8080, family: 4 },
    { ip: 'fd00:244::2', port: 8080, family: 6 },
  ] }],
  ...extra,
});
const v6only: ServiceJson = {
  namespace: 'default', name: 'only6', clusterIps: ['fd00:96::20'], ipFamilies: [6],
  ports: [{ name: 'dns', protocol: 'UDP', port: 53, endpoints: [{ ip: 'fd00:244::3', port: 53, family: 6 }] }],
};
const plain: ServiceJson = {
  namespace: 'default', name: 'plain', clusterIps: ['10.96.0.30'],
  ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [{ ip: '10.244.1.9', port: 80 }] }],
};
const dualSnapshot = () => [web(['10.96.0.10', 'fd00:96::10'], { ipFamilies: [4, 6] }), v6only, plain].map(toService);

function setup(ctx: NodeContext = NODE) {
  const maps = fakeMaps(SIZES);
  const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
  return { maps, dp, rec: new Reconciler(dp, ctx) };
}

const V6_MAPS = new Set(['sl_services6', 'sl_backends6', 'sl_src_ranges6']);

/** Every map as sorted hex entries; with @only4, the IPv4 maps and the Maglev runs of IPv4 frontends only. */
function dump(maps: ReturnType<typeof fakeMaps>, dp: Datapath, only4 = false) {
  const out: Record<string, string[]> = {};
  for (const [name, m] of Object.entries(maps.maps)) {
    if (only4 && (V6_MAPS.has(name) || name === 'sl_addr_filter')) continue;
    out[name] = m.entries().map((e) => `${e.key.toString('hex')}=${e.value.toString('hex')}`).sort();
  }
  const runs = [...dp.frontends.values()].filter((f) => !only4 || !f.vip.includes(':')).sort((a, b) => a.maglevBase - b.maglevBase);
  out.maglev = runs.map((f) => `${f.maglevBase}:${Buffer.from(maglevIds(maps.maglev.view, f.maglevBase, f.maglevSize).buffer).toString('hex')}`);
  return out;
}

/** The IPv6 maps read back: frontend -> backend addresses (from sl_backends6) and Maglev ids. */
function v6Frontends(maps: ReturnType<typeof fakeMaps>) {
  const backends = maps.maps.sl_backends6.entries().map((e) => ({ id: e.key.readUInt32LE(0), ...L.backend6.decode(e.value) }));
  return Object.fromEntries(maps.maps.sl_services6.entries().map((e) => {
    const k = L.svc6Key.decode(e.key), v = L.svcValue.decode(e.value);
    const mine = backends.filter((b) => b.svc_id === v.svc_id);
    const table = new Set(maglevIds(maps.maglev.view, v.maglev_base, v.maglev_size));
    return [`[${k.vip}]:${k.port}/${L.protoName(k.proto)}${k.scope ? '/external' : ''}`, {
      svcId: v.svc_id, name: v.name, count: v.count, backends: mine.map((b) => `[${b.ip}]:${b.port}`).sort(),
      table: [...table].sort().join() === mine.map((b) => b.id).sort().join(),
    }];
  }));
}

describe('Reconciler: IP families', () => {
  it('programs IPv6 frontends into the IPv6 maps; the IPv4 maps are byte for byte those of the IPv4 parts alone', () => {
    const dual = setup();
    const r = dual.rec.applySnapshot(dualSnapshot());
    expect(r.errors).toEqual([]);
    expect([r.skipped, r.skippedChanged]).toEqual([[], false]);
    const v4 = setup();
    const v4web = web(['10.96.0.10']);
    v4web.ports![0]!.endpoints = v4web.ports![0]!.endpoints!.filter((e) => e.family === 4);
    v4.rec.applySnapshot([v4web, plain].map(toService));
    expect(dump(dual.maps, dual.dp, true)).toEqual(dump(v4.maps, v4.dp, true));
    // The address filter: the IPv4 run's bits, and more (the IPv6 frontends').
    const words = (m: typeof v4.maps) => m.maps.sl_addr_filter.entries().map((e) => e.value.readBigUInt64LE(0));
    const w4 = words(v4.maps), wd = words(dual.maps);
    expect(w4.every((w, i) => (wd[i]! & w) === w)).toBe(true);
    expect(wd.some((w, i) => w !== w4[i])).toBe(true);

    const six = v6Frontends(dual.maps);
    expect(Object.keys(six).sort()).toEqual(['[fd00:1::10]:30080/TCP/external', '[fd00:96::10]:80/TCP', '[fd00:96::20]:53/UDP']);
    expect(six['[fd00:96::10]:80/TCP']).toMatchObject({ name: 'default/web:http', count: 1, backends: ['[fd00:244::2]:8080'], table: true });
    expect(six['[fd00:1::10]:30080/TCP/external']).toMatchObject({ name: 'default/web:http nodeport', backends: ['[fd00:244::2]:8080'], table: true });
    expect(six['[fd00:96::20]:53/UDP']).toMatchObject({ name: 'default/only6:dns', backends: ['[fd00:244::3]:53'], table: true });
    // One id space: service ids and backend ids are unique across both families.
    const svcIds = [...dual.dp.frontends.values()].map((f) => f.svcId);
    expect(new Set(svcIds).size).toBe(svcIds.length);
    const beIds = [...dual.maps.maps.sl_backends.entries(), ...dual.maps.maps.sl_backends6.entries()].map((e) => e.key.readUInt32LE(0));
    expect(new Set(beIds).size).toBe(beIds.length);
    expect(beIds.length).toBe(dual.dp.backendCount);
    expect(dual.maps.maps.sl_backends.entries().every((e) => !L.backend.decode(e.value).ip.includes(':'))).toBe(true);
    expect([...dual.dp.frontends.keys()].sort()).toEqual([
      '10.96.0.10:80/TCP', '10.96.0.30:80/TCP', '192.168.1.10:30080/TCP/external',
      'fd00:1::10:30080/TCP/external', 'fd00:96::10:80/TCP', 'fd00:96::20:53/UDP',
    ]);
  });

  it('deltas move services between families; removing one clears its IPv6 entries', () => {
    const { dp, maps, rec } = setup();
    rec.applySnapshot([v6only, plain].map(toService));
    expect([...dp.frontends.keys()].sort()).toEqual(['10.96.0.30:80/TCP', 'fd00:96::20:53/UDP']);
    const dualNow: ServiceJson = { ...v6only, clusterIps: ['fd00:96::20', '10.96.0.20'], ipFamilies: [6, 4] };
    dualNow.ports = [{ ...v6only.ports![0]!, endpoints: [...v6only.ports![0]!.endpoints!, { ip: '10.244.1.3', port: 53, family: 4 }] }];
    const r = rec.applyDelta([toService(dualNow)], []);
    expect([r.errors, r.skipped]).toEqual([[], []]);
    expect(dp.frontends.get('10.96.0.20:53/UDP')?.backends.size).toBe(1);
    expect([...dp.frontends.get('fd00:96::20:53/UDP')!.backends.keys()]).toEqual(['fd00:244::3:53']);
    rec.applyDelta([], ['default/only6']);
    expect([...dp.frontends.keys()]).toEqual(['10.96.0.30:80/TCP']);
    for (const m of V6_MAPS) expect(maps.maps[m as 'sl_services6'].count(), m).toBe(0);
    expect(maps.maps.sl_backends.count()).toBe(1);
  });

  it('restart: a datapath over the same maps adopts the IPv6 frontends, and the next snapshot writes nothing', () => {
    const first = setup();
    first.rec.applySnapshot(dualSnapshot());
    const before = dump(first.maps, first.dp);
    const dp = Datapath.fromMaps(first.maps, { node: 'n1', sizes: SIZES });
    expect(dp.adopted).toBe(true);
    expect(new Set(dp.frontends.keys())).toEqual(new Set(first.dp.frontends.keys()));
    expect(dp.frontends.get('fd00:96::10:80/TCP')).toEqual(first.dp.frontends.get('fd00:96::10:80/TCP'));
    expect(dp.backendCount).toBe(first.dp.backendCount);
    const writes = first.maps.faults.writes;
    const r = new Reconciler(dp, NODE).applySnapshot(dualSnapshot());
    expect([r.errors, r.changed]).toEqual([[], 0]);
    expect(first.maps.faults.writes).toBe(writes);
    expect(dump(first.maps, dp)).toEqual(before);
  });

  it('on a node with IPv6 off: the IPv6 frontends are reported per service, nothing of them programmed', () => {
    const dual = setup(V4_NODE);
    const r = dual.rec.applySnapshot(dualSnapshot());
    expect(r.errors).toEqual([]);
    expect(r.skipped.map((s) => [s.service, s.whole, s.frontends.map((f) => `${f.type} ${f.frontend}`)])).toEqual([
      ['default/only6', true, ['ClusterIP [fd00:96::20]:53/UDP']],
      ['default/web', false, ['ClusterIP [fd00:96::10]:80/TCP', 'NodePort [fd00:1::10]:30080/TCP']],
    ]);
    expect([...dual.dp.frontends.keys()].sort()).toEqual(['10.96.0.10:80/TCP', '10.96.0.30:80/TCP', '192.168.1.10:30080/TCP/external']);
    for (const m of V6_MAPS) expect(dual.maps.maps[m as 'sl_services6'].count(), m).toBe(0);
    expect(r.skippedChanged).toBe(true);
    // the same snapshot again (a reconnect): nothing new to report
    expect(dual.rec.applySnapshot(dualSnapshot()).skippedChanged).toBe(false);
    // a change elsewhere does not touch the report either
    expect(dual.rec.applyDelta([toService({ ...plain, ports: [{ ...plain.ports![0]!, port: 81 }] })], []).skippedChanged).toBe(false);
    // IPv6-only turned dual-stack: its IPv4 half programmed, the IPv6 one still reported; removal clears it
    const dualNow: ServiceJson = { ...v6only, clusterIps: ['fd00:96::20', '10.96.0.20'], ipFamilies: [6, 4] };
    dualNow.ports = [{ ...v6only.ports![0]!, endpoints: [...v6only.ports![0]!.endpoints!, { ip: '10.244.1.3', port: 53, family: 4 }] }];
    let d = dual.rec.applyDelta([toService(dualNow)], []);
    expect(d.skipped.find((s) => s.service === 'default/only6')).toMatchObject({ whole: false, frontends: [{ frontend: '[fd00:96::20]:53/UDP' }] });
    d = dual.rec.applyDelta([], ['default/only6', 'default/web']);
    expect([d.skipped, d.skippedChanged]).toEqual([[], true]);
  });

  it('a service that cannot be planned keeps what it had', () => {
    const { rec, dp } = setup();
    rec.applySnapshot([web(['10.96.0.10', 'fd00:96::10'])].map(toService));
    const had = [...dp.frontends.keys()].sort();
    const r = rec.applyDelta([toService(web(['10.96.0.10', 'FD00:96::10']))], []);
    expect(r.errors).toEqual(['service default/web: clusterIps[1]: "FD00:96::10" is not an IP address in canonical form']);
    expect([...dp.frontends.keys()].sort()).toEqual(had);
    expect(had).toContain('fd00:96::10:80/TCP');
  });
});
