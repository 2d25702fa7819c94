// The address filter as the agent keeps it (agent/addr-filter.ts): every frontend address it
// programs has its bit before the service entry, bits outlive their frontends, and a datapath
// opened over maps that already hold entries covers them all. That the agent's hash is the
// datapath's is proven by every integration test through a ClusterIP (a wrong bit would leave the
// service untranslated); here the fake maps, no root or BPF needed.
import { describe, expect, it } from 'vitest';
import { addrSlot, addrSlot6, AddrFilter, ip4Bytes } from '../../agent/addr-filter.ts';
import { ipBytes } from '../../common/ip.ts';
import * as L from '../../agent/bpf/layout.ts';
import { Datapath, type MapSizes } from '../../agent/datapath.ts';
import { fakeMaps } from '../../agent/maps/fake-map.ts';
import { u32Key, type BpfMap } from '../../agent/maps/map.ts';
import { MapTransaction } from '../../agent/maps/transaction.ts';

const SIZES: MapSizes = { services: 64, backends: 128, maglev: 1 << 13, ct: 64, affinity: 64 };

function has(map: BpfMap, kind: typeof L.SL_ADDR_FRONTEND | typeof L.SL_ADDR_REPLY_SRC, ip: string): boolean {
  const { word, bit } = addrSlot(kind, ip4Bytes(ip));
  return ((map.lookup(u32Key(word))?.readBigUInt64LE(0) ?? 0n) & bit) !== 0n;
}

const bitsSet = (map: BpfMap) => map.entries().reduce((n, e) => {
  let v = e.value.readBigUInt64LE(0), c = 0;
  while (v) { c += Number(v & 1n); v >>= 1n; }
  return n + c;
}, 0);

const frontend = (vip: string, ips: string[]) => ({
  name: `default/${vip}:80`, vip, port: 80, proto: 'TCP' as const, affinityTimeout: 0,
  backends: ips.map((ip) => ({ ip, port: 8080 })),
});

describe('the address filter', () => {
  it('hashes into its own half per kind, one bit per address, within the map', () => {
    for (const ip of ['10.96.0.1', '10.244.1.7', '0.0.0.0', '255.255.255.255']) {
      const f = addrSlot(L.SL_ADDR_FRONTEND, ip4Bytes(ip)), r = addrSlot(L.SL_ADDR_REPLY_SRC, ip4Bytes(ip));
      expect(f.word).toBeLessThan(L.SL_ADDR_FILTER_WORDS);
      expect(r.word - f.word).toBe(L.SL_ADDR_FILTER_WORDS);
      expect(f.bit).toBe(r.bit);
      expect(f.bit & (f.bit - 1n)).toBe(0n);
    }
    // 10,000 service addresses spread over the 524,288 bits: few collisions (a collision only costs a lookup).
    const words = new Set<string>();
    for (let i = 1; i <= 10000; i++) { const s = addrSlot(L.SL_ADDR_FRONTEND, ip4Bytes(`10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`)); words.add(`${s.word}:${s.bit}`); }
    expect(words.size).toBeGreaterThan(9000);
  });

  it('gets every programmed frontend address (any scope) before its service entry, and keeps it after removal', () => {
    const maps = fakeMaps(SIZES);
    const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
    const filter = maps.maps.sl_addr_filter;
    // The filter word is written before sl_services in the same change.
    const order: string[] = [];
    for (const m of ['sl_addr_filter', 'sl_services'] as const) {
      const raw = maps.maps[m], update = raw.update.bind(raw), updateBatch = raw.updateBatch.bind(raw);
      raw.update = (k, v, f) => { order.push(m); update(k, v, f); };
      // Service entries are published in one batch per change (Datapath's flush).
      raw.updateBatch = (k, v, n) => { order.push(m); updateBatch(k, v, n); };
    }
    dp.apply([frontend('10.96.0.10', ['10.244.0.5']), { ...frontend('192.168.1.10', ['10.244.0.6']), port: 30080, scope: L.SL_SCOPE_EXTERNAL }]);
    expect(order).toContain('sl_services');
    expect(order.indexOf('sl_addr_filter')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('sl_addr_filter')).toBeLessThan(order.indexOf('sl_services'));
    for (const ip of ['10.96.0.10', '192.168.1.10']) expect(has(filter, L.SL_ADDR_FRONTEND, ip), ip).toBe(true);
    expect(has(filter, L.SL_ADDR_FRONTEND, '10.244.0.5')).toBe(false);
    // Backends are not frontends; reply sources are the datapath's to set, on the first flow.
    expect(has(filter, L.SL_ADDR_REPLY_SRC, '10.244.0.5')).toBe(false);
    dp.apply([], ['10.96.0.10:80/TCP']);
    expect([...dp.frontends.keys()]).toEqual(['192.168.1.10:30080/TCP/external']);
    // A SERVICE conntrack entry of the removed frontend may still carry a flow.
    expect(has(filter, L.SL_ADDR_FRONTEND, '10.96.0.10')).toBe(true);
  });

  it('writes a word only when it gains a bit, and a failed change takes its words back', () => {
    const maps = fakeMaps(SIZES);
    const f = new AddrFilter(maps.maps.sl_addr_filter);
    expect(f.add(L.SL_ADDR_FRONTEND, ['10.96.0.1', '10.96.0.2'])).toBeGreaterThan(0);
    expect(f.add(L.SL_ADDR_FRONTEND, ['10.96.0.1', '10.96.0.2'])).toBe(0);
    const before = bitsSet(maps.maps.sl_addr_filter);
    const tx = new MapTransaction();
    f.add(L.SL_ADDR_FRONTEND, ['10.96.0.3'], tx);
    expect(bitsSet(maps.maps.sl_addr_filter)).toBe(before + 1);
    tx.rollback();
    expect(bitsSet(maps.maps.sl_addr_filter)).toBe(before);
  });

  it('covers what pinned maps already hold: frontends, SERVICE destinations and REPLY sources', () => {
    const maps = fakeMaps(SIZES);
    // Entries written before the filter existed (an older agent's pins): a service and a flow.
    const seed = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
    seed.apply([frontend('10.96.0.20', ['10.244.0.7'])]);
    const ct = maps.maps.sl_ct;
    const key = (s: string, d: string, dir: number) => L.ctKey.encode({ saddr: s, daddr: d, sport: 40000, dport: 80, proto: 6, dir, pad: 0 });
    const entry = Buffer.alloc(ct.valueSize);
    ct.update(key('10.244.0.9', '10.96.0.99', L.SL_CT_DIR_SERVICE), entry);
    ct.update(key('10.244.0.8', '10.244.0.9', L.SL_CT_DIR_REPLY), entry);
    for (const e of maps.maps.sl_addr_filter.entries()) maps.maps.sl_addr_filter.update(e.key, Buffer.alloc(8));
    expect(bitsSet(maps.maps.sl_addr_filter)).toBe(0);

    Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
    const filter = maps.maps.sl_addr_filter;
    expect(has(filter, L.SL_ADDR_FRONTEND, '10.96.0.20')).toBe(true);
    expect(has(filter, L.SL_ADDR_FRONTEND, '10.96.0.99')).toBe(true);
    expect(has(filter, L.SL_ADDR_REPLY_SRC, '10.244.0.8')).toBe(true);
    expect(has(filter, L.SL_ADDR_REPLY_SRC, '10.244.0.9')).toBe(false);
  });

  it('hashes an IPv6 address as the XOR of its four words (addr_fold6 in C), into the same halves', () => {
    for (const ip of ['fd00:10:96::a', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8::1']) {
      const b = ipBytes(ip);
      const folded = Buffer.alloc(4);
      for (let i = 0; i < 4; i++) folded[i] = b[i]! ^ b[4 + i]! ^ b[8 + i]! ^ b[12 + i]!;
      for (const kind of [L.SL_ADDR_FRONTEND, L.SL_ADDR_REPLY_SRC] as const) expect(addrSlot6(kind, b), ip).toEqual(addrSlot(kind, folded));
    }
    // 10,000 addresses of an IPv6 service range (fd00:10:96::/112) and of pods' /64s: few collisions.
    for (const prefix of ['fd00:10:96::', 'fd00:10:244:1::']) {
      const words = new Set<string>();
      for (let i = 1; i <= 10000; i++) { const s = addrSlot6(L.SL_ADDR_FRONTEND, ipBytes(`${prefix}${i.toString(16)}`)); words.add(`${s.word}:${s.bit}`); }
      expect(words.size, prefix).toBeGreaterThan(9000);
    }
  });

  it('takes addresses of either family as text: IPv6 ones by their folded hash', () => {
    const maps = fakeMaps(SIZES);
    const f = new AddrFilter(maps.maps.sl_addr_filter);
    f.add(L.SL_ADDR_FRONTEND, ['10.96.0.1', 'fd00:96::1']);
    const bit = (s: { word: number; bit: bigint }) => ((maps.maps.sl_addr_filter.lookup(u32Key(s.word))?.readBigUInt64LE(0) ?? 0n) & s.bit) !== 0n;
    expect(bit(addrSlot6(L.SL_ADDR_FRONTEND, ipBytes('fd00:96::1')))).toBe(true);
    expect(bit(addrSlot(L.SL_ADDR_FRONTEND, ip4Bytes('10.96.0.1')))).toBe(true);
    expect(bitsSet(maps.maps.sl_addr_filter)).toBe(2);
  });

  it('reads the words of a change once (the whole half in one batch when many), writes each call\'s in one batch, and undoes them all', () => {
    const maps = fakeMaps(SIZES);
    const raw = maps.maps.sl_addr_filter;
    const calls = { lookup: 0, lookupRange: 0, update: 0, updateBatch: 0, batched: 0 };
    const lookup = raw.lookup.bind(raw), lookupRange = raw.lookupRange.bind(raw), update = raw.update.bind(raw), updateBatch = raw.updateBatch.bind(raw);
    raw.lookup = (k) => { calls.lookup++; return lookup(k); };
    // (The fake reads a range with its own lookups: not the filter's.)
    raw.lookupRange = (f, n, v) => { calls.lookupRange++; const l = calls.lookup; lookupRange(f, n, v); calls.lookup = l; };
    raw.update = (k, v, fl) => { calls.update++; update(k, v, fl); };
    raw.updateBatch = (k, v, n) => { calls.updateBatch++; calls.batched += n; updateBatch(k, v, n); };
    const f = new AddrFilter(raw);
    f.add(L.SL_ADDR_FRONTEND, ['10.96.0.1']);
    // One word to read: a lookup; written in a batch (of one).
    expect(calls).toEqual({ lookup: 1, lookupRange: 0, update: 0, updateBatch: 1, batched: 1 });
    const before = bitsSet(raw);

    // A change in three parts of 100 addresses each, the first one repeated by the last part.
    const ips = Array.from({ length: 300 }, (_, i) => `10.97.${i >> 8}.${i & 255}`);
    const tx = new MapTransaction(), words = f.begin();
    Object.assign(calls, { lookup: 0, lookupRange: 0, update: 0, updateBatch: 0, batched: 0 });
    const written = [0, 1, 2].map((p) => f.add(L.SL_ADDR_FRONTEND, [...ips.slice(100 * p, 100 * (p + 1)), ...(p === 2 ? ['10.96.0.1'] : [])], tx, words));
    expect(calls.lookup).toBe(0);
    expect(calls.lookupRange).toBe(1);
    expect(calls.update).toBe(0);
    expect(calls.updateBatch).toBeLessThanOrEqual(6);
    expect(calls.batched).toBe(written.reduce((a, b) => a + b, 0));
    for (const ip of ['10.96.0.1', ...ips]) expect(has(raw, L.SL_ADDR_FRONTEND, ip), ip).toBe(true);
    expect(bitsSet(raw)).toBeGreaterThan(before + 250);
    expect(tx.rollback()).toEqual([]);
    expect(bitsSet(raw)).toBe(before);
    expect(has(raw, L.SL_ADDR_FRONTEND, '10.96.0.1')).toBe(true);
  });
});
