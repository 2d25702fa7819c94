// A snapshot is programmed a part at a time (Reconciler.applySnapshot over Datapath.begin()): the
// result is the one the whole snapshot in one change gives, byte for byte; a write failing in any
// part undoes every part (maps and view as before the snapshot); a part that does not fit before
// the snapshot's removals are made falls back to the whole change (removals first), which fits or
// is refused as before; a state file read as it is iterated gives the services readStateFile does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as L from '../../agent/bpf/layout.ts';
import { CapacityError, Datapath, type MapSizes } from '../../agent/datapath.ts';
import { EPERM, fakeMaps } from '../../agent/maps/fake-map.ts';
import { MapWriteError } from '../../agent/maps/transaction.ts';
import { Reconciler } from '../../agent/reconciler.ts';
import { maglevRunWords } from '../../agent/maglev.ts';
import { readStateFile, stateFileServices } from '../../agent/state-file.ts';
import { serviceKey, toService, type Service, type ServiceJson } from '../../proto/contract.ts';

const NODE = { node: 'n1', nodeIps: ['192.168.1.10'] };
const SMALL = { backends: 7, frontends: 3 };
const WHOLE = { backends: 1e9, frontends: 1e9 };

/** @n services named with @prefix, of 1 to 4 endpoints; every fifth a LoadBalancer with Local policy (short-circuit companions). */
function services(prefix: string, n: number, base = 0): Service[] {
  return Array.from({ length: n }, (_, i): ServiceJson => {
    const eps = Array.from({ length: 1 + ((i + base) % 4) }, (_, e) => ({ ip: `10.${prefix === 'b' ? 2 : 1}.${i}.${e + 1}`, port: 8080, ready: true, nodeName: e % 2 ? 'n1' : 'n2' }));
    const lb = i % 5 === 0;
    return {
      namespace: 'default', name: `${prefix}-${i}`, clusterIps: [`10.96.${prefix === 'b' ? 2 : 1}.${i}`], type: lb ? 'LoadBalancer' : 'ClusterIP',
      externalTrafficLocal: lb, loadBalancerIps: lb ? [`203.0.${prefix === 'b' ? 2 : 1}.${i}`] : [],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: lb ? 30000 + i : 0, endpoints: eps }],
    };
  }).map(toService);
}

function dump(maps: ReturnType<typeof fakeMaps>) {
  const out: Record<string, string[]> = {};
  for (const [name, m] of Object.entries(maps.maps)) out[name] = m.entries().map((e) => `${e.key.toString('hex')}=${e.value.toString('hex')}`).sort();
  out.maglev = maps.maps.sl_services.entries().map((e) => {
    const v = L.svcValue.decode(e.value);
    return `${e.key.toString('hex')}=${Buffer.from(maps.maglev.view.slice(v.maglev_base, v.maglev_base + maglevRunWords(v.maglev_size, v.count)).buffer).toString('hex')}`;
  }).sort();
  return out;
}

function setup(sizes: MapSizes, part = SMALL) {
  const maps = fakeMaps(sizes);
  const dp = Datapath.fromMaps(maps, { node: 'n1', sizes });
  return { maps, dp, rec: new Reconciler(dp, NODE, part) };
}

const view = (s: ReturnType<typeof setup>) => ({ frontends: new Map(s.dp.frontends), backends: s.dp.backendCount, services: new Map(s.rec.services), desired: new Set(s.rec.desired) });
const SIZES: MapSizes = { services: 128, backends: 256, maglev: 1 << 16, ct: 16, affinity: 16 };

describe('a snapshot in parts', () => {
  it('programs what the whole snapshot in one change does, byte for byte, from nothing and over an earlier snapshot', () => {
    const parts = setup(SIZES), whole = setup(SIZES, WHOLE);
    for (const snap of [services('a', 20), [...services('a', 12, 1), ...services('b', 9)], services('b', 14, 2)]) {
      const p = parts.rec.applySnapshot(snap), w = whole.rec.applySnapshot(snap);
      expect(p).toEqual(w);
      expect(dump(parts.maps)).toEqual(dump(whole.maps));
      expect(view(parts)).toEqual(view(whole));
    }
    expect([...parts.dp.frontends.keys()].filter((k) => k.endsWith('/short-circuit')).length).toBeGreaterThan(0);
  });

  it('a write failing in any part undoes every part: maps byte for byte and the view as before; a retry then applies', () => {
    const ref = setup(SIZES);
    ref.rec.applySnapshot(services('a', 10));
    ref.maps.faults.writes = 0;
    const next = [...services('a', 6, 1), ...services('b', 12)];
    ref.rec.applySnapshot(next);
    const total = ref.maps.faults.writes, expected = dump(ref.maps);
    expect(total).toBeGreaterThan(40);
    for (let n = 1; n <= total; n += 7) {
      const s = setup(SIZES);
      s.rec.applySnapshot(services('a', 10));
      const before = dump(s.maps), viewBefore = view(s);
      s.maps.faults.add({ at: n, errno: EPERM });
      expect(() => s.rec.applySnapshot(next), `write ${n}`).toThrow(MapWriteError);
      expect(dump(s.maps), `maps after a fault at write ${n} of ${total}`).toEqual(before);
      expect(view(s), `view after a fault at write ${n}`).toEqual(viewBefore);
      s.rec.applySnapshot(next);
      expect(dump(s.maps), `after the retry (fault at ${n})`).toEqual(expected);
    }
  });

  it('a service failing to parse midway (a state file read as iterated) undoes the parts before it', () => {
    const s = setup(SIZES);
    s.rec.applySnapshot(services('a', 8));
    const before = dump(s.maps), viewBefore = view(s);
    const good = services('b', 12);
    function* source() { yield* good.slice(0, 9); throw new Error('services[9]: bad'); }
    expect(() => s.rec.applySnapshot(source())).toThrow('services[9]: bad');
    expect(dump(s.maps)).toEqual(before);
    expect(view(s)).toEqual(viewBefore);
  });

  it('parts that do not fit before the removals: the whole change (removals first) applies it; one that does not fit at all is refused as before', () => {
    const sizes: MapSizes = { ...SIZES, services: 50 };
    const s = setup(sizes), ref = setup(sizes, WHOLE);
    for (const x of [s, ref]) x.rec.applySnapshot(services('a', 25));
    // 25 services (45 frontends) out, 25 in: only fits (49 ids) with the removals made first.
    const next = services('b', 25);
    expect(s.rec.applySnapshot(next)).toEqual(ref.rec.applySnapshot(next));
    expect(dump(s.maps)).toEqual(dump(ref.maps));
    const before = dump(s.maps), viewBefore = view(s);
    expect(() => s.rec.applySnapshot(services('a', 40))).toThrow(CapacityError);
    expect(dump(s.maps)).toEqual(before);
    expect(view(s)).toEqual(viewBefore);
  });

  it('a service named twice: the last one counts, as in one change', () => {
    const parts = setup(SIZES), whole = setup(SIZES, WHOLE);
    const a = services('a', 10), again = { ...a[2]!, clusterIps: ['10.96.9.9'] };
    const snap = [...a, again];
    expect(parts.rec.applySnapshot(snap)).toEqual(whole.rec.applySnapshot(snap));
    expect(dump(parts.maps)).toEqual(dump(whole.maps));
    expect(parts.dp.frontends.has('10.96.9.9:80/TCP') && !parts.dp.frontends.has('10.96.1.2:80/TCP')).toBe(true);
  });
});

describe('stateFileServices', () => {
  it('gives the services readStateFile does, parsed as iterated, again on each pass; names a bad one by index when reached', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-state-'));
    try {
      const file = path.join(dir, 'state.json');
      const json = services('a', 7).map((s) => ({ ...s, name: `${s.name} "quoted" \\ [x] {y} é` }));
      fs.writeFileSync(file, ` { "comment": {"a": [1, "]"]}, "services" : ${JSON.stringify(json, null, 1)} , "n": 3 } \n`);
      const lazy = stateFileServices(file);
      expect(lazy.length).toBe(7);
      expect([...lazy]).toEqual(readStateFile(file));
      expect([...lazy]).toEqual(readStateFile(file));
      fs.writeFileSync(file, JSON.stringify({ services: [json[0], { ...json[1], ports: 'http' }, json[2]] }));
      const it = stateFileServices(file)[Symbol.iterator]();
      expect(it.next().value?.name).toBe(json[0]!.name);
      expect(() => it.next()).toThrow(/^services\[1\]: /);
      // Documents the scan does not follow are judged as readStateFile judges them.
      for (const bad of ['{"services": {}}', '{"services": [', '{"services": []} x', '[]']) {
        fs.writeFileSync(file, bad);
        let want = '';
        try { readStateFile(file); } catch (e) { want = (e as Error).message; }
        expect(want, bad).not.toBe('');
        expect(() => stateFileServices(file), bad).toThrow(want);
      }
      fs.writeFileSync(file, '{"services": [], "x": {"services": [1]}}');
      expect([...stateFileServices(file)]).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what the reconciler keeps of the desired services', () => {
  it('keeps every key, and whole only the services with a Local policy or a health-check node port (with this node\'s endpoints); reports trigger times', () => {
    for (const part of [SMALL, WHOLE]) {
      const s = setup(SIZES, part);
      const snap = services('a', 10).map((x, i) => ({ ...x, lastChangeTriggerTime: i % 2 ? `2026-11-30T00:00:0${i}Z` : '', healthCheckNodePort: i === 3 ? 31000 : 0 }));
      const r = s.rec.applySnapshot(snap);
      expect(r.errors).toEqual([]);
      expect(r.services).toBe(10);
      expect([...s.rec.desired].sort()).toEqual(snap.map(serviceKey).sort());
      // a-0 and a-5: externalTrafficPolicy Local; a-3: a health-check node port; the others: nothing reads them.
      expect([...s.rec.services.keys()].sort()).toEqual(['default/a-0', 'default/a-3', 'default/a-5']);
      const kept = [...s.rec.services.values()].flatMap((x) => x.ports.flatMap((p) => p.endpoints));
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.every((e) => e.nodeName === 'n1')).toBe(true);
      expect(r.triggers).toEqual(new Map(snap.filter((x) => x.lastChangeTriggerTime).map((x) => [serviceKey(x), x.lastChangeTriggerTime])));
      // A delta: a-5 loses its Local policy, a-1 gains one, a-0 goes.
      const d = s.rec.applyDelta([{ ...snap[5]!, externalTrafficLocal: false, lastChangeTriggerTime: 'T' }, { ...snap[1]!, internalTrafficLocal: true }], ['default/a-0']);
      expect(d.errors).toEqual([]);
      expect(d.services).toBe(9);
      expect(s.rec.desired.has('default/a-0')).toBe(false);
      expect(s.rec.desired.has('default/a-5')).toBe(true);
      expect([...s.rec.services.keys()].sort()).toEqual(['default/a-1', 'default/a-3']);
      expect(d.triggers).toEqual(new Map([['default/a-5', 'T'], ['default/a-1', snap[1]!.lastChangeTriggerTime]]));
    }
  });
});
