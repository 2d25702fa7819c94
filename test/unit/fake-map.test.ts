// The fake map behaves as the kernel's maps do where Sluice relies on it, so tests on it mean
// something: update flags, max_entries, array maps, batches stopping at the failing element, faults.
import { describe, expect, it } from 'vitest';
import { LibbpfError } from '../../agent/bpf/libbpf.ts';
import { E2BIG, EEXIST, EINVAL, ENOENT, EPERM, FakeMap, Faults } from '../../agent/maps/fake-map.ts';
import { BPF_EXIST, BPF_NOEXIST, packed, u32Key } from '../../agent/maps/map.ts';

const hash = (maxEntries: number, kind: 'hash' | 'lru_hash' | 'array' = 'hash', faults?: Faults) =>
  new FakeMap({ name: 'm', kind, keySize: 4, valueSize: 8, maxEntries, faults });
const val = (n: number) => Buffer.alloc(8, n);
const errno = (fn: () => unknown) => {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(LibbpfError); return (e as LibbpfError).errno; }
  return 0;
};

describe('FakeMap', () => {
  it('honours BPF_NOEXIST, BPF_EXIST and max_entries like a hash map', () => {
    const m = hash(2);
    m.update(u32Key(1), val(1), BPF_NOEXIST);
    expect(errno(() => m.update(u32Key(1), val(2), BPF_NOEXIST))).toBe(EEXIST);
    expect(errno(() => m.update(u32Key(2), val(2), BPF_EXIST))).toBe(ENOENT);
    m.update(u32Key(1), val(3), BPF_EXIST);
    m.update(u32Key(2), val(2));
    expect(errno(() => m.update(u32Key(3), val(3)))).toBe(E2BIG);
    expect(m.lookup(u32Key(1))).toEqual(val(3));
    expect(m.delete(u32Key(1))).toBe(true);
    expect(m.delete(u32Key(1))).toBe(false);
  });

  it('evicts the oldest entry of a full LRU map; array maps hold every index and cannot delete', () => {
    const lru = hash(2, 'lru_hash');
    for (const k of [1, 2, 3]) lru.update(u32Key(k), val(k));
    expect(lru.entries().map((e) => e.key.readUInt32LE(0))).toEqual([2, 3]);
    const arr = hash(4, 'array');
    expect(arr.lookup(u32Key(3))).toEqual(Buffer.alloc(8));
    expect(arr.lookup(u32Key(4))).toBeUndefined();
    expect(errno(() => arr.update(u32Key(4), val(1)))).toBe(E2BIG);
    expect(errno(() => arr.update(u32Key(0), val(1), BPF_NOEXIST))).toBe(EEXIST);
    expect(errno(() => arr.delete(u32Key(0)))).toBe(EINVAL);
  });

  it('fails the Nth write of a kind once, and a batch keeps the elements before the failing one', () => {
    const faults = new Faults().add({ at: 2, kind: 'delete', errno: EPERM }).add({ at: 3, kind: 'insert', map: 'm', errno: E2BIG });
    const m = hash(16, 'hash', faults);
    m.update(u32Key(1), val(1));
    m.update(u32Key(1), val(2)); // a replace is no insert
    m.delete(u32Key(1));
    const keys = packed([5, 6, 7, 8].map(u32Key), 4);
    expect(errno(() => m.updateBatch(keys, Buffer.concat([5, 6, 7, 8].map(val)), 4))).toBe(E2BIG);
    expect(m.entries().map((e) => e.key.readUInt32LE(0))).toEqual([5]);
    expect(errno(() => m.deleteBatch(keys, 4))).toBe(EPERM);
    m.deleteBatch(keys, 4); // one-shot: absent keys are fine
    expect(m.count()).toBe(0);
  });
});
