// The CLI's readers over the fake maps: `sluice service list` and `sluice status` rows come from
// what the datapath programmed, through the same map layer.
import { describe, expect, it } from 'vitest';
import { Datapath, type MapSizes } from '../../agent/datapath.ts';
import { MapRows } from '../../agent/inspect.ts';
import { fakeMaps } from '../../agent/maps/fake-map.ts';
import { u32Key } from '../../agent/maps/map.ts';

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
    expect(rows.fill()).toContainEqual({ map: 'sl_maglev', entries: 211, capacity: 1 << 12 });
  });
});
