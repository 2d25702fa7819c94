// The reconciler with dual-stack and IPv6-only services while the datapath serves IPv4 only
// (docs/ipv6.md, phase 1): the maps hold exactly what the IPv4 parts alone would give, byte for byte;
// the IPv6 frontends are reported per service (an IPv6-only one as a whole), never half-programmed.
// Runs on the fake maps, no root or BPF needed.
import { describe, expect, it } from 'vitest';
import { Datapath, type MapSizes } from '../../agent/datapath.ts';
import { fakeMaps } from '../../agent/maps/fake-map.ts';
import { Reconciler } from '../../agent/reconciler.ts';
import { toService, type ServiceJson } from '../../proto/contract.ts';

const SIZES: MapSizes = { services: 64, backends: 128, maglev: 1 << 13, ct: 64, affinity: 64 };
const NODE = { node: 'n1', nodeIps: ['192.168.1.10', 'fd00:1::10'] };

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

function setup() {
  const maps = fakeMaps(SIZES);
  const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
  return { maps, dp, rec: new Reconciler(dp, NODE) };
}

function dump(maps: ReturnType<typeof fakeMaps>) {
  const out: Record<string, string[]> = {};
  for (const [name, m] of Object.entries(maps.maps)) out[name] = m.entries().map((e) => `${e.key.toString('hex')}=${e.value.toString('hex')}`).sort();
  out.maglev = [Buffer.from(maps.maglev.view.buffer).toString('hex')];
  return out;
}

describe('Reconciler: IP families while the datapath is IPv4-only', () => {
  it('programs the IPv4 parts of a dual-stack service byte for byte as the IPv4-only service; reports the rest per service', () => {
    const dual = setup();
    const r = dual.rec.applySnapshot([web(['10.96.0.10', 'fd00:96::10'], { ipFamilies: [4, 6] }), v6only, plain].map(toService));
    const v4 = setup();
    const v4web = web(['10.96.0.10']);
    v4web.ports![0]!.endpoints = v4web.ports![0]!.endpoints!.filter((e) => e.family === 4);
    v4.rec.applySnapshot([v4web, plain].map(toService));
    expect(dump(dual.maps)).toEqual(dump(v4.maps));
    expect(r.errors).toEqual([]);
    expect(r.skipped.map((s) => [s.service, s.whole, s.frontends.map((f) => `${f.type} ${f.frontend}`)])).toEqual([
      ['default/only6', true, ['ClusterIP [fd00:96::20]:53/UDP']],
      ['default/web', false, ['ClusterIP [fd00:96::10]:80/TCP', 'NodePort [fd00:1::10]:30080/TCP']],
    ]);
    expect([...dual.dp.frontends.keys()].sort()).toEqual(['10.96.0.10:80/TCP', '10.96.0.30:80/TCP', '192.168.1.10:30080/TCP/external']);
    expect(r.skippedChanged).toBe(true);
    // the same snapshot again (a reconnect): nothing new to report
    expect(dual.rec.applySnapshot([web(['10.96.0.10', 'fd00:96::10'], { ipFamilies: [4, 6] }), v6only, plain].map(toService)).skippedChanged).toBe(false);
    // a change elsewhere does not touch the report either
    expect(dual.rec.applyDelta([toService({ ...plain, ports: [{ ...plain.ports![0]!, port: 81 }] })], []).skippedChanged).toBe(false);
  });

  it('deltas keep the report current: IPv6-only becomes dual-stack (its IPv4 half programmed), removals clear it', () => {
    const { dp, rec } = setup();
    rec.applySnapshot([v6only, plain].map(toService));
    expect(dp.frontends.size).toBe(1);
    const dualNow: ServiceJson = { ...v6only, clusterIps: ['fd00:96::20', '10.96.0.20'], ipFamilies: [6, 4] };
    dualNow.ports = [{ ...v6only.ports![0]!, endpoints: [...v6only.ports![0]!.endpoints!, { ip: '10.244.1.3', port: 53, family: 4 }] }];
    let r = rec.applyDelta([toService(dualNow)], []);
    expect(r.skippedChanged).toBe(true);
    expect(r.skipped.map((s) => [s.service, s.whole, s.frontends.length])).toEqual([['default/only6', false, 1]]);
    expect(dp.frontends.get('10.96.0.20:53/UDP')?.backends.size).toBe(1);
    r = rec.applyDelta([], ['default/only6']);
    expect([r.skipped, r.skippedChanged]).toEqual([[], true]);
    expect([...dp.frontends.keys()]).toEqual(['10.96.0.30:80/TCP']);
  });

  it('a service that cannot be planned keeps what it had, its report included', () => {
    const { rec } = setup();
    rec.applySnapshot([web(['10.96.0.10', 'fd00:96::10'])].map(toService));
    const r = rec.applyDelta([toService(web(['10.96.0.10', 'FD00:96::10']))], []);
    expect(r.errors).toEqual(['service default/web: clusterIps[1]: "FD00:96::10" is not an IP address in canonical form']);
    expect(r.skipped.map((s) => s.frontends.map((f) => f.frontend))).toEqual([['[fd00:96::10]:80/TCP', '[fd00:1::10]:30080/TCP']]);
  });
});
