// The map layer on the kernel's maps: the fake used by the unit tests has the shapes and answers of
// the real maps, and a write the kernel refuses in the middle of an apply is undone on real maps.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibbpfError, numPossibleCpus } from '../../agent/bpf/libbpf.ts';
import { Datapath, DEFAULT_PIN_ROOT, type Frontend, type MapSizes } from '../../agent/datapath.ts';
import { fakeMaps } from '../../agent/maps/fake-map.ts';
import { LibbpfMap, mmapRegion } from '../../agent/maps/libbpf-map.ts';
import { BPF_EXIST, BPF_NOEXIST, u32Key, type BpfMap } from '../../agent/maps/map.ts';
import { MapWriteError } from '../../agent/maps/transaction.ts';
import { SL_ADDR_FILTER_WORDS, SL_MAGLEV_CHUNK, svcKey } from '../../agent/bpf/layout.ts';
import { maglevRunLookup } from '../../agent/maglev.ts';

const SIZES: MapSizes = { services: 16, backends: 8, maglev: 4096, ct: 64, affinity: 64 };
const node = `p${process.pid}-maps`; // removed with this run's other pins by the harness
let dp: Datapath;

beforeAll(() => {
  dp = Datapath.open({ node, sizes: SIZES });
});

afterAll(() => {
  dp?.close();
  fs.rmSync(path.join(DEFAULT_PIN_ROOT, node), { recursive: true, force: true });
});

const errno = (fn: () => unknown) => {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(LibbpfError); return (e as LibbpfError).errno; }
  return 0;
};

/** What a map answers to the operations the fake imitates: errnos, in order. */
function answers(backends: BpfMap, config: BpfMap): number[] {
  const v = Buffer.alloc(backends.valueSize);
  const out = [
    errno(() => backends.update(u32Key(1), v, BPF_NOEXIST)),
    errno(() => backends.update(u32Key(1), v, BPF_NOEXIST)),
    errno(() => backends.update(u32Key(2), v, BPF_EXIST)),
  ];
  for (let id = 2; id <= backends.maxEntries; id++) backends.update(u32Key(id), v);
  out.push(errno(() => backends.update(u32Key(100), v)));
  backends.deleteBatch(Buffer.concat([1, 50, 2].map(u32Key)), 3); // an absent key in the middle is skipped
  out.push(backends.count(), Number(backends.delete(u32Key(1))));
  out.push(errno(() => config.delete(u32Key(0))), errno(() => config.update(u32Key(1), Buffer.alloc(config.valueSize))));
  for (let id = 3; id <= backends.maxEntries; id++) backends.delete(u32Key(id));
  return out;
}

/**
 * Every map's entries, byte for byte; of sl_maglev only the slots a programmed frontend's run
 * references (the rest is free space the allocator hands out, whose contents nobody reads: a
 * rolled-back change may leave a table it built there, unreferenced).
 */
const dump = (d: Datapath) => {
  const out: Record<string, string[]> = Object.fromEntries(Object.entries(d.maps).filter(([name]) => name !== 'sl_maglev').map(([name, m]) =>
    [name, m.entries().map((e) => `${e.key.toString('hex')}=${e.value.toString('hex')}`).sort()]));
  const slots = new Map(d.maps.sl_maglev.entries().map((e) => [e.key.readUInt32LE(0), e.value]));
  // Runs are addressed in 4-byte words, SL_MAGLEV_CHUNK / 2 to an element; a slot's id as the datapath reads it.
  const word = (w: number) => slots.get(Math.floor(w / (SL_MAGLEV_CHUNK / 2)))!.readUInt32LE((w % (SL_MAGLEV_CHUNK / 2)) * 4);
  const ids = (f: { maglevBase: number; maglevSize: number; maglevWords: number }) => {
    const run = Uint32Array.from({ length: f.maglevWords }, (_, i) => word(f.maglevBase + i));
    return Array.from({ length: f.maglevSize }, (_, i) => maglevRunLookup(run, f.maglevSize, i));
  };
  out.sl_maglev = [...d.frontends.values()].map((f) => `${f.key}@${f.maglevBase}+${f.maglevSize}=${ids(f).join(',')}`).sort();
  return out;
};

const fe = (vip: string, ips: string[]): Frontend => ({
  vip, port: 80, proto: 'TCP', name: `default/${vip}`, affinityTimeout: 0, backends: ips.map((ip) => ({ ip, port: 8080 })),
});

describe('map layer on kernel maps', () => {
  it('the fake maps have the kernel maps\' shapes and answer as they do', () => {
    const fake = fakeMaps(SIZES, numPossibleCpus());
    const shape = (m: BpfMap) => ({ kind: m.kind, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries });
    for (const name of Object.keys(dp.maps) as Array<keyof typeof dp.maps>) {
      expect(shape(fake.maps[name]), name).toEqual(shape(dp.maps[name]));
    }
    const real = answers(dp.maps.sl_backends, dp.maps.sl_config);
    expect(real).toEqual([0, 17, 2, 7, SIZES.backends - 2, 0, 22, 7]);
    expect(answers(fake.maps.sl_backends, fake.maps.sl_config)).toEqual(real);
  });

  it('a write the kernel refuses midway (map filled by another writer) is undone, the referenced Maglev runs included', () => {
    dp.apply([fe('10.96.1.1', ['10.0.0.1', '10.0.0.2'])]);
    const before = dump(dp), frontends = new Map(dp.frontends);
    const strangers = [];
    for (let id = 1000; dp.maps.sl_backends.count() < SIZES.backends; id++) {
      strangers.push(u32Key(id));
      dp.maps.sl_backends.update(u32Key(id), Buffer.alloc(dp.maps.sl_backends.valueSize));
    }
    const filled = dump(dp);
    const change = [fe('10.96.1.1', ['10.0.0.2', '10.0.0.3']), fe('10.96.1.2', ['10.0.0.4'])];
    expect(() => dp.apply(change)).toThrow(MapWriteError);
    expect(() => dp.apply(change)).toThrow(/^batch update on sl_backends failed: .*\(errno 7\); the change was undone/);
    expect(dump(dp)).toEqual(filled);
    expect(dp.frontends).toEqual(frontends);

    for (const k of strangers) dp.maps.sl_backends.delete(k);
    expect(dump(dp)).toEqual(before);
    expect(dp.apply(change)).toEqual({ changed: 2, removed: 0, udpBackendsGone: 0 });
    expect([...dp.frontends.get('10.96.1.1:80/TCP')!.backends.keys()]).toEqual(['10.0.0.2:8080', '10.0.0.3:8080']);
  });

  it('sl_maglev words land where written, by bpf() updates and by mmapped windows alike, neighbours untouched', () => {
    const pin = path.join(DEFAULT_PIN_ROOT, node, 'sl_maglev');
    const map = LibbpfMap.openPinned(pin);
    try {
      const words = (map.maxEntries * map.valueSize) / 4;
      // 100 words a change through bpf(): the rest of a larger change goes through a window.
      const region = mmapRegion(map, words, 100);
      const model = new Uint32Array(words);
      const put = (base: number, len: number, seed: number) => {
        const v = Uint32Array.from({ length: len }, (_, i) => (seed * 7919 + i * 2654435761) >>> 0);
        region.write(base, v);
        model.set(v, base);
      };
      const read = () => {
        const out = new Uint32Array(words);
        for (const { key, value } of map.entries()) {
          out.set(new Uint32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.length)), (key.readUInt32LE(0) * map.valueSize) / 4);
        }
        return out;
      };
      put(0, words, 1); // over the budget at once: a window
      region.release();
      expect(read()).toEqual(model);
      // Unaligned starts and ends, one word, a run inside one element, then past the budget.
      put(5, 7, 2); put(30, 1, 3); put(47, 40, 4); put(16, 16, 5);
      put(200, 80, 6); put(333, 3, 7);
      region.release();
      expect(read()).toEqual(model);
      put(words - 9, 9, 8); // the last element, partly
      region.release();
      expect(read()).toEqual(model);
    } finally {
      map.close();
    }
  });

  it('lookupRange reads an array map\'s keys as lookups do, from key 0 and across the filter\'s two halves', () => {
    const filter = dp.maps.sl_addr_filter;
    const words = [0, 1, 7, SL_ADDR_FILTER_WORDS - 1, SL_ADDR_FILTER_WORDS, SL_ADDR_FILTER_WORDS + 3];
    const saved = words.map((w) => filter.lookup(u32Key(w))!);
    try {
      words.forEach((w, i) => filter.update(u32Key(w), Buffer.from([i + 1, 0, 0, 0, 0, 0, 0, 0x80])));
      for (const [first, count] of [[0, 9], [SL_ADDR_FILTER_WORDS - 2, 6], [2 * SL_ADDR_FILTER_WORDS - 1, 1]] as const) {
        const got = Buffer.alloc(8 * count);
        filter.lookupRange(first, count, got);
        const want = Buffer.concat(Array.from({ length: count }, (_, i) => filter.lookup(u32Key(first + i))!));
        expect(got.toString('hex'), `keys ${first}..${first + count - 1}`).toBe(want.toString('hex'));
      }
      expect(() => filter.lookupRange(2 * SL_ADDR_FILTER_WORDS - 1, 2, Buffer.alloc(16))).toThrow(RangeError);
    } finally {
      words.forEach((w, i) => filter.update(u32Key(w), saved[i]!));
    }
  });

  it('a change that removed frontends and then fails is undone: service entries as read, backends as the view holds them', () => {
    dp.apply([fe('10.96.2.1', ['10.0.1.1', '10.0.1.2', '10.0.1.3'])]);
    const before = dump(dp), frontends = new Map(dp.frontends);
    // Another writer fills sl_services after the capacity check: the first new entry cannot be added.
    const services = dp.maps.sl_services, strangers: Buffer[] = [];
    for (let i = 1; services.count() < services.maxEntries; i++) {
      const k = svcKey.encode({ vip: `198.51.100.${i}`, port: 9, proto: 6, scope: 0 });
      strangers.push(k);
      services.update(k, Buffer.alloc(services.valueSize));
    }
    const filled = dump(dp);
    const change = () => dp.apply([fe('10.96.2.2', ['10.0.1.4']), fe('10.96.2.3', ['10.0.1.5'])], ['10.96.2.1:80/TCP']);
    expect(change).toThrow(/^batch update on sl_services failed: .*\(errno 7\); the change was undone/);
    expect(dump(dp)).toEqual(filled);
    expect(dp.frontends).toEqual(frontends);
    for (const k of strangers) services.delete(k);
    expect(dump(dp)).toEqual(before);
    expect(change()).toEqual({ changed: 2, removed: 1, udpBackendsGone: 0 });
    expect(dp.frontends.has('10.96.2.1:80/TCP')).toBe(false);
  });
});
