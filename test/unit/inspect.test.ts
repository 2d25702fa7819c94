// The CLI's readers over the fake maps: `sluice service list` and `sluice status` rows come from
// what the datapath programmed, through the same map layer.
import { describe, expect, it } from 'vitest';
import { Datapath, type MapSizes } from '../../agent/datapath.ts';
import { MapRows } from '../../agent/inspect.ts';
import { fakeMaps } from '../../agent/maps/fake-map.ts';
import { u32Key } from '../../agent/maps/map.ts';
import * as L from '../../agent/bpf/layout.ts';
import { decodeEvent } from '../../agent/monitor.ts';
import { LibbpfError } from '../../agent/bpf/libbpf.ts';

const SIZES: MapSizes = { services: 16, backends: 16, maglev: 1 << 12, ct: 64, affinity: 64 };

describe('MapRows', () => {
  it('reads frontends, stats, counters and fill back from the maps', () => {
    const maps = fakeMaps(SIZES, 2);
    const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
    dp.apply([
      { vip: '10.96.0.10', port: 80, proto: 'TCP', name: 'default/web:http', affinityTimeout: 30,
        backends: [{ ip: '10.0.0.2', port: 8080, terminating: true }, { ip: '10.0.0.1', port: 8080 }] },
      { vip: '203.0.113.7', port: 80, proto: 'TCP', scope: 1, name: 'default/web:http lb', affinityTimeout: 0, backends: [] },
    ]);
    const web = dp.frontends.get('10.96.0.10:80/TCP')!;
    // Two CPUs' counters for the service and one node-wide counter (index 2: reject).
    const stats = Buffer.alloc(maps.maps.sl_svc_stats.valueSize);
    stats.writeBigUInt64LE(3n, 0); stats.writeBigUInt64LE(4n, 32);
    maps.maps.sl_svc_stats.update(u32Key(web.svcId), stats);
    // Socket-level counters, two CPUs of {translations, rejects}.
    const sock = Buffer.alloc(maps.maps.sl_sock_stats.valueSize);
    sock.writeBigUInt64LE(5n, 0); sock.writeBigUInt64LE(1n, 8); sock.writeBigUInt64LE(6n, 16);
    maps.maps.sl_sock_stats.update(u32Key(web.svcId), sock);
    const reject = Buffer.alloc(16);
    reject.writeBigUInt64LE(1n, 0); reject.writeBigUInt64LE(2n, 8);
    maps.maps.sl_counters.update(u32Key(2), reject);

    const rows = new MapRows((m) => maps.maps[m], 2);
    expect(rows.services().map((r) => ({ ...r, backends: r.backends.map((b) => `${b.address} ${b.state}`) }))).toEqual([
      { id: web.svcId, frontend: '10.96.0.10:80/TCP', vip: '10.96.0.10', port: 80, family: 'ipv4', protocol: 'TCP', type: 'ClusterIP',
        name: 'default/web:http', affinityTimeout: 30, maglevSize: 211, backends: ['10.0.0.2:8080 terminating', '10.0.0.1:8080 active'],
        stats: { connections: 7, packets: 0, bytes: 0, rejects: 0, socketTranslations: 11, socketRejects: 1 } },
      { id: web.svcId + 1, frontend: '203.0.113.7:80/TCP', vip: '203.0.113.7', port: 80, family: 'ipv4', protocol: 'TCP', type: 'External',
        name: 'default/web:http lb', affinityTimeout: 0, maglevSize: 0, backends: [],
        stats: { connections: 0, packets: 0, bytes: 0, rejects: 0, socketTranslations: 0, socketRejects: 0 } },
    ]);
    expect(rows.counters().reject).toBe(3);
    expect(rows.fill()).toContainEqual({ map: 'sl_backends', entries: 2, capacity: 16 });
    // A run of 211 table slots, one pad slot and two ids of two slots each.
    expect(rows.fill()).toContainEqual({ map: 'sl_maglev', entries: 211 + 1 + 2 * 2, capacity: 1 << 12 });
  });

  it('reads both families: IPv6 frontends, backends, flows, ranges and the node addresses, readably', () => {
    const maps = fakeMaps(SIZES, 2);
    const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
    dp.apply([
      { vip: '10.96.0.10', port: 80, proto: 'TCP', name: 'default/web:http', affinityTimeout: 0, backends: [{ ip: '10.0.0.1', port: 8080 }] },
      { vip: 'fd00:96::a', port: 80, proto: 'TCP', name: 'default/web:http', affinityTimeout: 0, backends: [{ ip: 'fd00:244::1', port: 8080 }] },
      { vip: 'fd00:e::7', port: 80, proto: 'UDP', scope: 1, name: 'default/web:dns lb', affinityTimeout: 0, backends: [], sourceRanges: ['fd00:c::/64'] },
    ]);
    maps.maps.sl_ct6.update(L.ct6Key.encode({ saddr: 'fd00:244::9', daddr: 'fd00:96::a', sport: 40000, dport: 80, proto: 6, dir: L.SL_CT_DIR_SERVICE }),
      L.ct6Entry.encode({ nat_addr: 'fd00:244::1', nat_port: 8080, svc_id: 2, backend_id: 2 }));
    const rows = new MapRows((m) => maps.maps[m], 2);
    expect(rows.services().map((r) => [r.id, r.frontend, r.family, r.type, r.backends.map((b) => b.address)])).toEqual([
      [1, '10.96.0.10:80/TCP', 'ipv4', 'ClusterIP', ['10.0.0.1:8080']],
      [2, '[fd00:96::a]:80/TCP', 'ipv6', 'ClusterIP', ['[fd00:244::1]:8080']],
      [3, '[fd00:e::7]:80/UDP', 'ipv6', 'External', []],
    ]);
    expect(rows.conntrack().map((r) => [r.direction, r.source, r.destination, r.nat, r.serviceId])).toEqual([
      ['service', '[fd00:244::9]:40000', '[fd00:96::a]:80', '[fd00:244::1]:8080', 2],
    ]);
    expect(rows.sourceRanges()).toEqual([{ serviceId: 3, cidr: 'fd00:c::/64' }]);
    expect(rows.fill()).toContainEqual({ map: 'sl_services6', entries: 2, capacity: 16 });
    expect(rows.fill()).toContainEqual({ map: 'sl_svc_stats', entries: 3, capacity: 16 });
    // Pins of an agent from before IPv6 (no sl_*6 maps): IPv4 as before, no IPv6 rows.
    const old = new MapRows((m) => {
      if (m.endsWith('6')) throw new LibbpfError(`open ${m}`, 2);
      return maps.maps[m];
    }, 2);
    expect(old.services().map((r) => r.frontend)).toEqual(['10.96.0.10:80/TCP']);
    expect(old.conntrack()).toEqual([]);
    expect(old.fill().some((f) => f.map === 'sl_services6')).toBe(false);
  });
});

describe('decodeEvent (sluice monitor)', () => {
  it('tells sl_event6 records from sl_event ones by their size', () => {
    const v4 = L.event.encode({ ts_ns: 5n, saddr: '10.0.0.1', daddr: '10.96.0.10', sport: 1234, dport: 80, proto: 6, type: 2, reason: 1, svc_id: 3, backend_id: 0 });
    const v6 = L.event6.encode({ ts_ns: 6n, saddr: 'fd00:244::1', daddr: 'fd00:96::a', sport: 1234, dport: 80, proto: 17, type: 3, reason: 0, svc_id: 4, backend_id: 9 });
    expect(v4.length).toBeLessThan(v6.length);
    expect(decodeEvent(v4)).toMatchObject({ ts_ns: 5n, saddr: '10.0.0.1', daddr: '10.96.0.10', sport: 1234, svc_id: 3 });
    expect(decodeEvent(v6)).toMatchObject({ ts_ns: 6n, saddr: 'fd00:244::1', daddr: 'fd00:96::a', proto: 17, type: 3, svc_id: 4, backend_id: 9 });
  });
});
