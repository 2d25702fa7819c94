// Datapath programming IPv6 frontends (docs/ipv6.md): sl_services6 / sl_backends6 / sl_src_ranges6
// by the vip's family, ids and Maglev slots shared with IPv4, capacity checked over both families,
// all or nothing when a write to an IPv6 map fails, the address filter's IPv6 hash, sl_config6.
// Runs on the fake maps, no root or BPF needed.
import { describe, expect, it } from 'vitest';
import { addrSlot6 } from '../../agent/addr-filter.ts';
import * as L from '../../agent/bpf/layout.ts';
import { CapacityError, Datapath, type Frontend, type MapSizes } from '../../agent/datapath.ts';
import { ENOMEM, fakeMaps, maglevIds } from '../../agent/maps/fake-map.ts';
import { u32Key, type BpfMap } from '../../agent/maps/map.ts';
import { MapWriteError } from '../../agent/maps/transaction.ts';
import { ipBytes } from '../../common/ip.ts';

const SIZES: MapSizes = { services: 8, backends: 16, maglev: 1 << 13, ct: 64, affinity: 64 };

function setup(sizes = SIZES) {
  const maps = fakeMaps(sizes);
  return { maps, dp: Datapath.fromMaps(maps, { node: 'n1', sizes }) };
}

const fe = (vip: string, ips: string[], extra: Partial<Frontend> = {}): Frontend => ({
  name: `default/${vip}:80`, vip, port: 80, proto: 'TCP', affinityTimeout: 0, backends: ips.map((ip) => ({ ip, port: 8080 })), ...extra,
});

function dump(maps: ReturnType<typeof fakeMaps>) {
  const out: Record<string, string[]> = {};
  for (const [name, m] of Object.entries(maps.maps)) out[name] = m.entries().map((e) => `${e.key.toString('hex')}=${e.value.toString('hex')}`).sort();
  return out;
}

const services6 = (maps: ReturnType<typeof fakeMaps>) => maps.maps.sl_services6.entries().map((e) => ({ key: L.svc6Key.decode(e.key), value: L.svcValue.decode(e.value) }));
const backends6 = (maps: ReturnType<typeof fakeMaps>) => maps.maps.sl_backends6.entries().map((e) => ({ id: e.key.readUInt32LE(0), ...L.backend6.decode(e.value) }));

function hasBit6(map: BpfMap, kind: typeof L.SL_ADDR_FRONTEND | typeof L.SL_ADDR_REPLY_SRC, ip: string): boolean {
  const { word, bit } = addrSlot6(kind, ipBytes(ip));
  return ((map.lookup(u32Key(word))?.readBigUInt64LE(0) ?? 0n) & bit) !== 0n;
}

describe('Datapath: IPv6 frontends', () => {
  it('writes an IPv6 frontend into sl_services6 / sl_backends6 with a Maglev run of its backend ids; nothing into the IPv4 maps', () => {
    const { maps, dp } = setup();
    dp.apply([fe('fd00:96::a', ['fd00:244::2', 'fd00:244::3'], { affinityTimeout: 30 })]);
    expect(maps.maps.sl_services.count()).toBe(0);
    expect(maps.maps.sl_backends.count()).toBe(0);
    const [s] = services6(maps);
    expect(s!.key).toEqual({ vip: 'fd00:96::a', port: 80, proto: 6, scope: 0 });
    expect(s!.value).toMatchObject({ svc_id: 1, count: 2, flags: L.SL_SVC_F_AFFINITY, affinity_timeout: 30, name: 'default/fd00:96::a:80' });
    const be = backends6(maps);
    expect(be.map((b) => [b.ip, b.port, b.proto, b.svc_id])).toEqual([['fd00:244::2', 8080, 6, 1], ['fd00:244::3', 8080, 6, 1]]);
    const table = maglevIds(maps.maglev.view, s!.value.maglev_base, s!.value.maglev_size);
    expect(new Set(table)).toEqual(new Set(be.map((b) => b.id)));
    expect(hasBit6(maps.maps.sl_addr_filter, L.SL_ADDR_FRONTEND, 'fd00:96::a')).toBe(true);
    expect(hasBit6(maps.maps.sl_addr_filter, L.SL_ADDR_FRONTEND, 'fd00:244::2')).toBe(false);
    expect([...dp.frontends.keys()]).toEqual(['fd00:96::a:80/TCP']);
  });

  it('shares service and backend ids with IPv4; changes and removal touch only the frontend\'s own family', () => {
    const { maps, dp } = setup();
    dp.apply([fe('10.96.0.10', ['10.244.1.2']), fe('fd00:96::a', ['fd00:244::2'])]);
    const v4 = dp.frontends.get('10.96.0.10:80/TCP')!, v6 = dp.frontends.get('fd00:96::a:80/TCP')!;
    expect([v4.svcId, v6.svcId]).toEqual([1, 2]);
    expect([[...v4.backends.values()][0]!.id, [...v6.backends.values()][0]!.id]).toEqual([1, 2]);
    const ipv4 = () => ({ s: maps.maps.sl_services.entries(), b: maps.maps.sl_backends.entries() });
    const before4 = ipv4();
    // A backend added: one new id, the table rebuilt; the IPv4 maps untouched.
    dp.apply([fe('fd00:96::a', ['fd00:244::2', 'fd00:244::4'])]);
    expect(backends6(maps).map((b) => [b.id, b.ip])).toEqual([[2, 'fd00:244::2'], [3, 'fd00:244::4']]);
    expect(services6(maps)[0]!.value.count).toBe(2);
    expect(ipv4()).toEqual(before4);
    expect(dp.backendCount).toBe(3);
    // A terminating backend: its flag, same id.
    dp.apply([fe('fd00:96::a', ['fd00:244::2', 'fd00:244::4'], { backends: [{ ip: 'fd00:244::2', port: 8080 }, { ip: 'fd00:244::4', port: 8080, terminating: true }] })]);
    expect(backends6(maps).find((b) => b.id === 3)!.flags).toBe(L.SL_BE_F_TERMINATING);
    // Removal: its entry, backends and run go; its service id is taken by the next frontend of either family.
    const r = dp.apply([], ['fd00:96::a:80/TCP']);
    expect(r.removed).toBe(1);
    expect([maps.maps.sl_services6.count(), maps.maps.sl_backends6.count()]).toEqual([0, 0]);
    expect(ipv4()).toEqual(before4);
    dp.apply([fe('10.96.0.11', ['10.244.1.3'])]);
    expect(dp.frontends.get('10.96.0.11:80/TCP')!.svcId).toBe(2);
    // Backend ids are never reused (sockets may still point at a removed one).
    expect([...dp.frontends.get('10.96.0.11:80/TCP')!.backends.values()][0]!.id).toBe(4);
  });

  it('source ranges of an IPv6 frontend go into sl_src_ranges6 (prefixlen counts the service id), normalised; stale ones are removed', () => {
    const { maps, dp } = setup();
    const ext = (ranges: string[]) => fe('fd00:e::1', ['fd00:244::2'], { scope: L.SL_SCOPE_EXTERNAL, sourceRanges: ranges });
    dp.apply([ext(['fd00:c::1/64', '2001:db8::/32', 'fd00:c::/64'])]);
    const ranges = () => maps.maps.sl_src_ranges6.entries().map((e) => L.srcRange6Key.decode(e.key)).map((k) => `${k.svc_id} ${k.addr}/${k.prefixlen - 32}`).sort();
    expect(ranges()).toEqual(['1 2001:db8::/32', '1 fd00:c::/64']);
    expect(services6(maps)[0]!.value.flags & L.SL_SVC_F_SRC_RANGES).toBeTruthy();
    expect(maps.maps.sl_src_ranges.count()).toBe(0);
    dp.apply([ext(['2001:db8::/48'])]);
    expect(ranges()).toEqual(['1 2001:db8::/48']);
    expect(dp.frontends.get('fd00:e::1:80/TCP/external')!.sourceRanges).toEqual(['2001:db8::/48']);
    // A range of the other family is no range of this frontend's map: refused, naming it.
    expect(() => dp.apply([ext(['10.0.0.0/8'])])).toThrow('"10.0.0.0/8" is not an IPv6 CIDR');
    expect(() => dp.apply([fe('10.96.0.1', ['10.244.1.2'], { sourceRanges: ['fd00::/8'] })])).toThrow('"fd00::/8" is not an IPv4 CIDR');
    expect(ranges()).toEqual(['1 2001:db8::/48']);
  });

  it('refuses backends of the other family and non-canonical addresses, writing nothing', () => {
    const { maps, dp } = setup();
    const before = dump(maps);
    expect(() => dp.apply([fe('fd00:96::a', ['10.244.1.2'])])).toThrow(/backend "10.244.1.2" is not an IPv6 address in canonical form \(an IPv6 frontend takes IPv6 backends\)/);
    expect(() => dp.apply([fe('fd00:96::A', ['fd00:244::2'])])).toThrow(/vip "fd00:96::A" is not an IPv6 address in canonical form/);
    expect(() => dp.apply([fe('10.96.0.1', ['fd00:244::2'])])).toThrow(/not an IPv4 address/);
    expect(dump(maps)).toEqual(before);
    expect(dp.frontends.size).toBe(0);
  });

  it('capacity is checked over both families: service ids, backends and Maglev slots are one budget (Maglev slots: the other tests and the IPv4 ones)', () => {
    const { maps, dp } = setup();
    // services: 8 -> 7 ids (0 is reserved).
    dp.apply([1, 2, 3, 4].map((i) => fe(`10.96.0.${i}`, [`10.244.1.${i}`])));
    const before = dump(maps);
    const err = (() => { try { dp.apply([1, 2, 3, 4].map((i) => fe(`fd00:96::${i}`, [`fd00:244::${i}`]))); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(CapacityError);
    expect((err as CapacityError).map).toBe('sl_services');
    expect(dump(maps)).toEqual(before);
    dp.apply([1, 2, 3].map((i) => fe(`fd00:96::${i}`, [`fd00:244::${i}`])));
    expect(dp.frontends.size).toBe(7);
    // backends: 16 in all, 7 used; replacing one IPv6 backend by 11 needs 17.
    expect(() => dp.apply([fe('fd00:96::1', Array.from({ length: 11 }, (_, i) => `fd00:244::1:${i}`))])).toThrow(/sl_backends is full/);
    dp.apply([fe('fd00:96::1', Array.from({ length: 10 }, (_, i) => `fd00:244::1:${i}`))]);
    expect(dp.backendCount).toBe(16);
  });

  it('a write failing in an IPv6 map undoes the whole change, both families', () => {
    const { maps, dp } = setup();
    dp.apply([fe('10.96.0.10', ['10.244.1.2']), fe('fd00:96::a', ['fd00:244::2'])]);
    const before = dump(maps);
    const frontends = new Map(dp.frontends);
    for (const map of ['sl_backends6', 'sl_services6', 'sl_src_ranges6']) {
      maps.faults.add({ at: 1, errno: ENOMEM, map });
      const change = [fe('10.96.0.10', ['10.244.1.2', '10.244.1.3']), fe('fd00:96::a', ['fd00:244::2', 'fd00:244::3'], { sourceRanges: ['fd00::/8'] }),
        fe('fd00:96::b', ['fd00:244::4'])];
      const e = (() => { try { dp.apply(change); } catch (x) { return x; } })();
      expect(e, map).toBeInstanceOf(MapWriteError);
      expect((e as MapWriteError).map).toBe(map);
      expect(dump(maps), map).toEqual(before);
      expect(new Map(dp.frontends), map).toEqual(frontends);
      maps.faults.clear();
    }
    dp.apply([fe('fd00:96::b', ['fd00:244::4'])]);
    expect(dp.frontends.get('fd00:96::b:80/TCP')!.svcId).toBe(3);
  });

  it('a restart adopts IPv6 entries, drops orphaned IPv6 backends and ranges, and covers the filter from sl_services6 and sl_ct6', () => {
    const { maps, dp } = setup();
    dp.apply([fe('fd00:96::a', ['fd00:244::2'], { scope: L.SL_SCOPE_EXTERNAL, sourceRanges: ['fd00:c::/64'] }), fe('10.96.0.10', ['10.244.1.2'])]);
    // An orphan (its service id is nobody's) and a flow of an older agent's pins.
    maps.maps.sl_backends6.update(u32Key(99), L.backend6.encode({ ip: 'fd00:244::99', port: 1, proto: 6, flags: 0, svc_id: 7 }));
    maps.maps.sl_src_ranges6.update(L.srcRange6Key.encode({ prefixlen: 32 + 16, svc_id: 7, addr: 'fd01::' }), Buffer.from([1]));
    maps.maps.sl_ct6.update(L.ct6Key.encode({ saddr: 'fd00:244::7', daddr: 'fd00:96::77', sport: 4000, dport: 80, proto: 6, dir: L.SL_CT_DIR_SERVICE, pad: 0 }), Buffer.alloc(maps.maps.sl_ct6.valueSize));
    maps.maps.sl_ct6.update(L.ct6Key.encode({ saddr: 'fd00:244::8', daddr: 'fd00:244::7', sport: 80, dport: 4000, proto: 6, dir: L.SL_CT_DIR_REPLY, pad: 0 }), Buffer.alloc(maps.maps.sl_ct6.valueSize));
    for (const e of maps.maps.sl_addr_filter.entries()) maps.maps.sl_addr_filter.update(e.key, Buffer.alloc(8));

    const again = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
    expect(again.adopted).toBe(true);
    expect(again.frontends.get('fd00:96::a:80/TCP/external')).toEqual(dp.frontends.get('fd00:96::a:80/TCP/external'));
    expect(again.backendCount).toBe(2);
    expect(maps.maps.sl_backends6.lookup(u32Key(99))).toBeUndefined();
    expect(maps.maps.sl_src_ranges6.count()).toBe(1);
    const f = maps.maps.sl_addr_filter;
    expect(hasBit6(f, L.SL_ADDR_FRONTEND, 'fd00:96::a')).toBe(true);
    expect(hasBit6(f, L.SL_ADDR_FRONTEND, 'fd00:96::77')).toBe(true);
    expect(hasBit6(f, L.SL_ADDR_REPLY_SRC, 'fd00:244::8')).toBe(true);
    // New ids continue after the highest seen, orphan included.
    again.apply([fe('fd00:96::c', ['fd00:244::5'])]);
    expect([...again.frontends.get('fd00:96::c:80/TCP')!.backends.values()][0]!.id).toBe(100);
    // Only IPv6 frontends pinned: still adopted.
    const six = setup();
    six.dp.apply([fe('fd00:96::a', ['fd00:244::2'])]);
    expect(Datapath.fromMaps(six.maps, { node: 'n1', sizes: SIZES }).adopted).toBe(true);
  });

  it('the node\'s IPv6 address goes into sl_config6; a non-canonical one is refused', () => {
    const { maps, dp } = setup();
    dp.setNodeIp6('fd00:10:10::1');
    expect(L.config6.decode(maps.maps.sl_config6.lookup(u32Key(0))!)).toEqual({ node_ip: 'fd00:10:10::1' });
    expect(() => dp.setNodeIp6('FD00::1')).toThrow('not an IPv6 address in canonical form');
    expect(() => dp.setNodeIp6('10.0.0.1')).toThrow('not an IPv6 address');
    dp.setNodeIp6(undefined);
    expect(L.config6.decode(maps.maps.sl_config6.lookup(u32Key(0))!)).toEqual({ node_ip: '::' });
  });
});
