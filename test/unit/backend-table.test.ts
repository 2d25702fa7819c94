// The programmed view's compact backend table (agent/backend-table.ts) and the datapath's diff over
// it: sorted and deduplicated as a Map keyed "ip:port" would be, read back as such a Map, and, over
// random sequences of backend sets on the fake maps, the view, ids and sl_backends kept equal to a
// plain model (ids kept while a backend stays, new ones never reused, flags rewritten in place).
import { describe, expect, it } from 'vitest';
import * as L from '../../agent/bpf/layout.ts';
import { BackendTable } from '../../agent/backend-table.ts';
import { Datapath, type Frontend, type MapSizes } from '../../agent/datapath.ts';
import { fakeMaps } from '../../agent/maps/fake-map.ts';

describe('BackendTable', () => {
  it('sorts by address then port, one record per address and port with the last flags, and says where each input went', () => {
    const { table, pos } = BackendTable.wanted(4, [
      { ip: '10.0.0.9', port: 80 }, { ip: '10.0.0.10', port: 80, terminating: true }, { ip: '10.0.0.9', port: 79 },
      { ip: '10.0.0.9', port: 80, local: true }, { ip: '9.255.255.255', port: 65535 },
    ]);
    expect([...table.keys()]).toEqual(['9.255.255.255:65535', '10.0.0.9:79', '10.0.0.9:80', '10.0.0.10:80']);
    expect([...pos]).toEqual([2, 3, 1, 2, 0]);
    expect(table.get('10.0.0.9:80')).toEqual({ id: 0, ip: '10.0.0.9', port: 80, terminating: false, local: true });
    expect(table.get('10.0.0.10:80')?.terminating).toBe(true);
    expect(table.has('10.0.0.9:81')).toBe(false);
    expect(table.get('nonsense')).toBeUndefined();
    expect(table.records.length).toBe(4 * 12);
  });

  it('writes each record as sl_backends / sl_backends6 hold it: the bytes the struct codec gives', () => {
    for (const family of [4, 6] as const) {
      const list = Array.from({ length: 40 }, (_, i) => ({
        ip: family === 4 ? `10.${i}.${255 - i}.${i * 3}` : `fd00:${i.toString(16)}::${((i * 7919) % 65536).toString(16)}`,
        port: 1 + ((i * 1543) % 65535), terminating: i % 3 === 0, local: i % 5 === 0, id: 1000 + i,
      }));
      const { table } = BackendTable.wanted(family, list);
      const codec = family === 4 ? L.backend : L.backend6;
      for (let r = 0; r < table.size; r++) {
        const out = Buffer.alloc(codec.size + 3);
        table.writeValue(r, 17, 4242, out, 3);
        const flags = table.flagsAt(r);
        const want = codec.encode({ ip: table.ipAt(r), port: table.portAt(r), proto: 17, flags, svc_id: 4242 });
        expect(out.subarray(3).toString('hex'), `IPv${family} record ${r}`).toBe(want.toString('hex'));
        expect(flags).toBe((list.find((b) => b.id === table.idAt(r))!.terminating ? L.SL_BE_F_TERMINATING : 0) | (list.find((b) => b.id === table.idAt(r))!.local ? L.SL_BE_F_LOCAL : 0));
      }
    }
  });

  it('holds IPv6 backends (24 bytes each) and reads them back canonical', () => {
    const { table } = BackendTable.wanted(6, [{ ip: 'fd00::2', port: 53 }, { ip: 'fd00::1:0', port: 53 }, { ip: 'fd00::2', port: 5353, id: 7 }]);
    expect([...table.keys()]).toEqual(['fd00::2:53', 'fd00::2:5353', 'fd00::1:0:53']);
    expect(table.get('fd00::2:5353')?.id).toBe(7);
    expect(table.records.length).toBe(3 * 24);
  });

  it('diff: kept records take the current ids, new ones are marked, gone ones reported, flag changes counted', () => {
    const cur = BackendTable.wanted(4, [{ ip: '10.0.0.1', port: 1, id: 11 }, { ip: '10.0.0.2', port: 1, id: 12 }, { ip: '10.0.0.3', port: 1, id: 13 }]).table;
    const next = BackendTable.wanted(4, [{ ip: '10.0.0.4', port: 1 }, { ip: '10.0.0.2', port: 1, terminating: true }, { ip: '10.0.0.3', port: 1 }]).table;
    const state = new Uint8Array(3), gone: number[] = [];
    expect(BackendTable.diff(cur, next, state, (id) => gone.push(id))).toEqual({ added: 1, removed: 1, flagsChanged: 1 });
    expect(gone).toEqual([11]);
    expect([...state]).toEqual([2, 1, 0]);
    expect([...next.ids()]).toEqual([12, 13, 0]);
    expect(BackendTable.diff(undefined, next)).toEqual({ added: 3, removed: 0, flagsChanged: 0 });
  });
});

describe('the datapath view over random changes', () => {
  const SIZES: MapSizes = { services: 16, backends: 256, maglev: 1 << 18, ct: 16, affinity: 16 };
  const POOL = Array.from({ length: 14 }, (_, i) => ({ ip: `10.1.${i % 3}.${i}`, port: 8000 + (i % 2) }));
  let seed = 42;
  const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };

  it('keeps view, ids and sl_backends equal to a plain model', () => {
    const maps = fakeMaps(SIZES);
    const dp = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
    const vips = ['10.96.0.1', '10.96.0.2', '10.96.0.3'];
    /** Model: per frontend, "ip:port" -> { id, flags }. */
    const model = new Map<string, Map<string, { id: number; flags: number }>>();
    const seen = new Set<number>();
    for (let step = 0; step < 200; step++) {
      const set: Frontend[] = [];
      for (const vip of vips) {
        if (rnd(3) === 0) continue;
        const backends = Array.from({ length: rnd(8) }, () => ({ ...POOL[rnd(POOL.length)]!, terminating: rnd(4) === 0, local: rnd(3) === 0 }));
        set.push({ vip, port: 80, proto: 'TCP', name: `s/${vip}`, affinityTimeout: 0, backends });
      }
      const remove = rnd(5) === 0 ? [`${vips[rnd(3)]}:80/TCP`].filter((k) => !set.some((f) => `${f.vip}:80/TCP` === k)) : [];
      dp.apply(set, remove);
      for (const k of remove) model.delete(k);
      for (const f of set) {
        const key = `${f.vip}:80/TCP`, before = model.get(key) ?? new Map(), after = new Map<string, { id: number; flags: number }>();
        for (const b of f.backends) {
          const k = `${b.ip}:${b.port}`;
          after.set(k, { id: after.get(k)?.id ?? before.get(k)?.id ?? -1, flags: (b.terminating ? L.SL_BE_F_TERMINATING : 0) | (b.local ? L.SL_BE_F_LOCAL : 0) });
        }
        model.set(key, after);
      }
      expect([...dp.frontends.keys()].sort(), `step ${step}`).toEqual([...model.keys()].sort());
      let count = 0;
      for (const [key, want] of model) {
        const fe = dp.frontends.get(key)!;
        expect(new Set(fe.backends.keys()), `step ${step} ${key}`).toEqual(new Set(want.keys()));
        for (const [k, w] of want) {
          const b = fe.backends.get(k)!;
          if (w.id === -1) { expect(seen.has(b.id), `step ${step}: id ${b.id} reused`).toBe(false); w.id = b.id; seen.add(b.id); }
          expect(b.id, `step ${step} ${key} ${k}: kept backend keeps its id`).toBe(w.id);
          const inMap = L.backend.decode(maps.maps.sl_backends.lookup(Buffer.from(new Uint32Array([b.id]).buffer))!);
          expect({ ip: inMap.ip, port: inMap.port, flags: inMap.flags, svc: inMap.svc_id }).toEqual({ ip: b.ip, port: b.port, flags: w.flags, svc: fe.svcId });
          count++;
        }
      }
      expect(dp.backendCount, `step ${step}`).toBe(count);
      expect(maps.maps.sl_backends.count(), `step ${step}: no backend left behind`).toBe(count);
    }
    // A datapath over the same maps rebuilds the same view.
    const again = Datapath.fromMaps(maps, { node: 'n1', sizes: SIZES });
    expect(again.frontends).toEqual(dp.frontends);
  });
});
