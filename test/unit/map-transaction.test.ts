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
});
