// MapTransaction on the fake maps: batches of new keys are undone without a lookup per key, also
// when the batch fails partway; region writes and recorded updates come back in reverse order.
import { describe, expect, it } from 'vitest';
import { EPERM, FakeMap, Faults } from '../../agent/maps/fake-map.ts';
import { PackedEntries, u32Key } from '../../agent/maps/map.ts';
import { MapTransaction, MapWriteError } from '../../agent/maps/transaction.ts';

const hash = (faults = new Faults()) => new FakeMap({ name: 'm', kind: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, faults });
const dump = (m: FakeMap) => m.entries().map((e) => `${e.key.toString('hex')}=${e.value.toString('hex')}`).sort();

function batch(ids: number[], fill: number): PackedEntries {
  const p = new PackedEntries(4, 8, 2); // grows past its first capacity
  for (const id of ids) {
    const i = p.add();
    p.keys.writeUInt32LE(id, p.keyAt(i));
    p.values.fill(fill, p.valueAt(i), p.valueAt(i) + 8);
  }
  return p;
}

describe('MapTransaction', () => {
  it('insertBatch writes new keys, and rollback removes them (lookups: none while recording)', () => {
    const m = hash();
    m.update(u32Key(1), Buffer.alloc(8, 1));
    const before = dump(m);
    let lookups = 0;
    const lookup = m.lookup.bind(m);
    m.lookup = (k) => { lookups++; return lookup(k); };
    const tx = new MapTransaction();
    const b = batch([10, 11, 12, 13, 14], 7);
    tx.insertBatch(m, b.keys, b.values, b.count);
    expect(lookups).toBe(0);
    expect(m.count()).toBe(6);
    expect(tx.rollback()).toEqual([]);
    expect(dump(m)).toEqual(before);
  });

  it('a batch failing partway is undone with everything written before it, in reverse order', () => {
    const faults = new Faults();
    const m = hash(faults);
    m.update(u32Key(1), Buffer.alloc(8, 1));
    const before = dump(m);
    const tx = new MapTransaction();
    tx.update(m, u32Key(1), Buffer.alloc(8, 2));
    faults.add({ at: 3, errno: EPERM }); // the third key of the next batch
    const b = batch([20, 21, 22, 23], 3);
    expect(() => tx.insertBatch(m, b.keys, b.values, b.count)).toThrow(MapWriteError);
    expect(m.count()).toBe(3); // keys 1, 20, 21: the batch stopped at its failing element
    expect(tx.rollback()).toEqual([]);
    expect(dump(m)).toEqual(before);
  });

  it('deleteBatch and updateBatch with the values the caller knows: no lookup, and rollback writes those values back', () => {
    const m = hash();
    for (const id of [1, 2, 3, 4]) m.update(u32Key(id), Buffer.alloc(8, id));
    const before = dump(m);
    let lookups = 0;
    const lookup = m.lookup.bind(m);
    m.lookup = (k) => { lookups++; return lookup(k); };
    const tx = new MapTransaction();
    const del = batch([1, 2], 0), upd = batch([3, 4], 9);
    // The values the keys hold, as the caller's view has them.
    for (const [p, ids] of [[del, [1, 2]], [upd, [3, 4]]] as const) ids.forEach((id, i) => p.values.fill(id, p.valueAt(i), p.valueAt(i) + 8));
    tx.deleteBatch(m, del.keys, del.count, del.values);
    tx.updateBatch(m, upd.keys, batch([3, 4], 9).values, upd.count, upd.values);
    // Written again by the same change: not logged a second time (its first undo restores the original).
    tx.overwriteBatch(m, upd.keys, batch([3, 4], 5).values, upd.count);
    expect(lookups).toBe(0);
    expect(dump(m)).toEqual(['03000000=0505050505050505', '04000000=0505050505050505']);
    expect(tx.rollback()).toEqual([]);
    expect(dump(m)).toEqual(before);
  });

  it('a delete batch failing partway with known values is undone, the keys it did delete put back', () => {
    const faults = new Faults();
    const m = hash(faults);
    for (const id of [1, 2, 3]) m.update(u32Key(id), Buffer.alloc(8, id));
    const before = dump(m);
    const tx = new MapTransaction();
    const del = batch([1, 2, 3], 0);
    [1, 2, 3].forEach((id, i) => del.values.fill(id, del.valueAt(i), del.valueAt(i) + 8));
    faults.add({ at: 2, errno: EPERM, kind: 'delete' });
    expect(() => tx.deleteBatch(m, del.keys, del.count, del.values)).toThrow(MapWriteError);
    expect(m.count()).toBe(2);
    expect(tx.rollback()).toEqual([]);
    expect(dump(m)).toEqual(before);
  });
});
