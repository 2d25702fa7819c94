// Upgrades pinned maps of an older layout in place, so a new agent takes over a node without
// dropping its established flows. Pins record their layout version in sl_meta (layout 1 had no
// sl_meta: pins without it are layout 1).
//
// A map whose layout changed between the pinned version and this agent's is moved aside first
// (renamed <map>-v<from> in the pin directory; bpffs refuses dots in names), so that loading the
// new objects creates the map afresh under its own name while every unchanged map, conntrack
// included, is reused as it is. Its entries are copied across, converted, before the new programs
// are attached (the old ones keep running on the aside map until then) and once more after, for
// what the old programs wrote meanwhile. Only then is the new version recorded and the aside pin
// removed. Each step can be repeated: an agent that dies half-way finds the aside pins on its next
// start and finishes the job.
import fs from 'node:fs';
import path from 'node:path';
import * as L from './layout.ts';
import { MAGLEV_MAX_BACKENDS, maglevRunWords } from '../maglev.ts';
import { LibbpfMap } from '../maps/libbpf-map.ts';
import { BPF_EXIST, type BpfMap, type U32Region } from '../maps/map.ts';
import { SlotAllocator } from '../slot-allocator.ts';

const E2BIG = 7;

/** How the entries of one map are carried from layout v to v + 1. */
interface MapStep {
  map: L.MapName;
  /** The entry in the next layout; undefined drops it. */
  convert?(key: Buffer, value: Buffer): { key: Buffer; value: Buffer } | undefined;
  /**
   * Instead of entry by entry: the whole new map written from the aside one (`old`) and the other
   * maps, once, before the new programs are attached. For maps only the agent writes (the old
   * programs add nothing to copy later, and the agent's own first changes must not be overwritten).
   */
  rebuild?(old: BpfMap, maps: Record<L.MapName, BpfMap>, maglev: U32Region): number;
}

/**
 * STEPS[v]: what changes from layout v to v + 1; maps not named keep their layout and their pins.
 * 1 -> 2: the affinity key names its client by kind in 16 bytes (an IPv4 address today, a network
 * namespace cookie for socket-level balancing and an IPv6 address next).
 * 2 -> 3: sl_maglev's slots hold 16-bit indexes into a list of backend ids that follows each table
 * (maglevV3()); conntrack, affinity and sl_services are untouched (backend ids do not change).
 */
const STEPS: Record<number, MapStep[]> = {
  1: [{
    map: 'sl_affinity',
    convert: (key, value) => {
      // Layout 1's key: { __u32 svc_id; __be32 client; }.
      const k = L.affKey.encode({ svc_id: key.readUInt32LE(0), kind: L.SL_AFF_CLIENT_ADDR4 });
      key.copy(k, L.AFF_CLIENT_OFFSET, 4, 8);
      return { key: k, value };
    },
  }],
  // 2 -> 3: Maglev slots of 16 bits, each an index into the frontend's list of ids after its table.
  2: [{ map: 'sl_maglev', rebuild: (old, maps, maglev) => maglevV3(old, maps, maglev) }],
};

/**
 * Layout 2's Maglev runs rewritten as layout 3's, each from its frontend's table in the aside map
 * (slot for slot the same backend ids, so every hash keeps its backend), at the same word: a run of
 * M words becomes one of ceil(M / 2) + N, which fits in place whenever N <= (M - 1) / 2, i.e. for
 * every frontend of up to 32,760 backends. sl_services keeps its entries: the old programs (still
 * attached, reading the aside map) and the new ones read the same maglev_base. A frontend with
 * more backends is moved to free words and its entry rewritten; until the new programs are
 * attached the old ones then find no backend of it (its new flows are dropped, counted
 * no_backend_entry; none is sent to a wrong backend). A run whose slots are not all ids of its
 * frontend's backends is not a layout-2 table (an agent that died after its first change of a
 * migration wrote it in layout 3 already): kept as the new map holds it. Returns the runs written.
 */
function maglevV3(old: BpfMap, maps: Record<L.MapName, BpfMap>, maglev: U32Region): number {
  const owner = new Map<number, number>();
  for (const b of [maps.sl_backends, maps.sl_backends6]) {
    const codec = b === maps.sl_backends ? L.backend : L.backend6;
    for (const e of b.entries()) owner.set(e.key.readUInt32LE(0), codec.decode(e.value).svc_id);
  }
  interface Old { map: BpfMap; key: Buffer; value: L.SvcValue; ids: Uint32Array; got: number }
  const olds: Old[] = [];
  for (const map of [maps.sl_services, maps.sl_services6]) {
    for (const { key, value } of map.entries()) {
      const v = L.svcValue.decode(value);
      if (v.maglev_size) olds.push({ map, key, value: v, ids: new Uint32Array(v.maglev_size), got: 0 });
    }
  }
  // Runs never overlap: in base order, one pass over the old map (batched lookups, element order)
  // fills each table and converts it as soon as its last slot is read.
  olds.sort((a, b) => a.value.maglev_base - b.value.maglev_base);
  interface Run { map: BpfMap; key: Buffer; value: L.SvcValue; run: Uint32Array }
  const inPlace: Run[] = [], moved: Run[] = [], kept: Array<{ start: number; len: number }> = [];
  const convert = (o: Old): void => {
    const v = o.value, size = v.maglev_size, index = new Map<number, number>(), slots = new Uint16Array(size);
    let ok = o.got === size;
    for (let i = 0; i < size && ok; i++) {
      const id = o.ids[i]!;
      ok = owner.get(id) === v.svc_id;
      let k = index.get(id);
      if (k === undefined) index.set(id, k = index.size);
      slots[i] = k;
    }
    if (!ok || index.size > MAGLEV_MAX_BACKENDS) {
      kept.push({ start: v.maglev_base, len: maglevRunWords(size, v.count) });
      return;
    }
    // The list holds count ids, as the agent writes it (adoption sizes the run from count).
    const n = Math.max(index.size, v.count), half = Math.ceil(size / 2);
    const run = new Uint32Array(half + n);
    new Uint16Array(run.buffer, 0, size).set(slots);
    for (const [id, k] of index) run[half + k] = id;
    const r = { map: o.map, key: o.key, value: { ...v, count: n }, run };
    if (half + n > size) { moved.push(r); return; }
    inPlace.push(r);
    maglev.write(v.maglev_base, run);
  };
  const perChunk = L.SL_MAGLEV_CHUNK / 2;
  let next = 0;
  old.scan((key, value) => {
    const w0 = key.readUInt32LE(0) * perChunk, w1 = w0 + perChunk;
    for (let i = next; i < olds.length && olds[i]!.value.maglev_base < w1; i++) {
      const o = olds[i]!, from = Math.max(w0, o.value.maglev_base), to = Math.min(w1, o.value.maglev_base + o.value.maglev_size);
      for (let w = from; w < to; w++) o.ids[w - o.value.maglev_base] = value.readUInt32LE((w - w0) * 4);
      if (to > from) o.got += to - from;
    }
    while (next < olds.length && olds[next]!.value.maglev_base + olds[next]!.value.maglev_size <= w1) convert(olds[next++]!);
  });
  // Runs reaching past the old map's end (none from an agent): converted as read, so kept.
  while (next < olds.length) convert(olds[next++]!);
  if (moved.length) {
    const alloc = SlotAllocator.fromUsed(maglev.slots, [...kept, ...inPlace.map((r) => ({ start: r.value.maglev_base, len: r.run.length }))]);
    for (const r of moved) {
      const base = alloc.alloc(r.run.length);
      if (base < 0) throw new Error(`sl_maglev: no room to move the Maglev run of ${r.value.name} (${r.run.length} words) in the layout-3 map`);
      maglev.write(base, r.run);
      r.map.update(r.key, L.svcValue.encode({ ...r.value, maglev_base: base }), BPF_EXIST);
    }
  }
  for (const r of inPlace) if (r.value.count !== L.svcValue.decode(r.map.lookup(r.key)!).count) r.map.update(r.key, L.svcValue.encode(r.value), BPF_EXIST);
  maglev.release();
  return inPlace.length + moved.length;
}

export const LAYOUT_VERSION = L.SL_LAYOUT_VERSION;

export interface Migration {
  dir: string;
  from: number;
  to: number;
  /** Maps rebuilt in the new layout; their old pins wait aside until finishMigration(). */
  maps: L.MapName[];
  /** Entries carried into the new maps (the last copy's count). */
  copied: number;
  /** max_entries of the maps moved aside: the new maps keep them. */
  entries: Partial<Record<L.MapName, number>>;
  /** Entries (Maglev runs) the maps rebuilt whole (MapStep.rebuild) got, by the first copyEntries(); undefined before. */
  rebuilt?: number;
}

const asidePin = (dir: string, map: string, from: number) => path.join(dir, `${map}-v${from}`);
const ASIDE = /-v\d+$/;

/** The layout version of the maps pinned in `dir`: 0 when there are none. */
export function pinnedLayoutVersion(dir: string): number {
  const metaPin = path.join(dir, 'sl_meta');
  if (!fs.existsSync(metaPin)) {
    const present = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    return present.some((f) => (L.MAP_NAMES as string[]).includes(f) || ASIDE.test(f)) ? 1 : 0;
  }
  const meta = LibbpfMap.openPinned(metaPin);
  try {
    const v = meta.lookup(Buffer.alloc(4));
    return v ? L.meta.decode(v).layout_version || 1 : 1;
  } finally {
    meta.close();
  }
}

/**
 * Before the new objects are loaded: find the pinned layout and move aside every map that changes
 * from it. Undefined when there is nothing to migrate (no pins, or pins of this layout). Throws for
 * pins of a newer layout: a downgrade is not something to guess at.
 */
export function prepareMigration(dir: string): Migration | undefined {
  const from = pinnedLayoutVersion(dir);
  if (from === 0) return undefined;
  if (from > LAYOUT_VERSION) {
    throw new Error(`the maps pinned under ${dir} have layout version ${from}, newer than this agent's ${LAYOUT_VERSION}: ` +
      'run an agent at least as new as the one that pinned them, or remove that directory to start afresh ' +
      '(established flows are then balanced again)');
  }
  if (from === LAYOUT_VERSION) {
    // A migration that recorded its version but died before removing the aside pins.
    for (const f of fs.readdirSync(dir)) if (ASIDE.test(f)) fs.rmSync(path.join(dir, f), { force: true });
    return undefined;
  }
  const changed = new Set<L.MapName>();
  for (let v = from; v < LAYOUT_VERSION; v++) for (const s of STEPS[v] ?? []) changed.add(s.map);
  const m: Migration = { dir, from, to: LAYOUT_VERSION, maps: [], copied: 0, entries: {} };
  for (const map of changed) {
    const pin = path.join(dir, map), aside = asidePin(dir, map, from);
    // An earlier attempt may have moved it already (and created the new map under its name).
    if (!fs.existsSync(aside)) {
      if (!fs.existsSync(pin)) continue;
      fs.renameSync(pin, aside);
    }
    const old = LibbpfMap.openPinned(aside);
    try { m.entries[map] = old.maxEntries; } finally { old.close(); }
    m.maps.push(map);
  }
  return m;
}

/**
 * Copy the entries of the aside maps into the new ones, converted step by step. What is already in
 * a new map is overwritten: the old programs' latest word wins until they are detached. Safe to
 * repeat. Returns the number of entries written.
 */
export function copyEntries(m: Migration, maps: Record<L.MapName, BpfMap>, maglev?: U32Region): number {
  let n = 0;
  for (const map of m.maps) {
    const aside = asidePin(m.dir, map, m.from);
    if (!fs.existsSync(aside)) continue;
    const old = LibbpfMap.openPinned(aside);
    try {
      const rebuild = stepsOf(m, map).find((s) => s.rebuild);
      if (rebuild) {
        if (m.rebuilt === undefined) {
          if (stepsOf(m, map).length > 1) throw new Error(`${map}: a map rebuilt whole takes one step of migration at a time`);
          if (!maglev) throw new Error(`${map}: rebuilding it needs the mmapped region`);
          m.rebuilt = rebuild.rebuild!(old, maps, maglev);
        }
        n += m.rebuilt;
        continue;
      }
      for (const e of old.entries()) {
        let entry: { key: Buffer; value: Buffer } | undefined = e;
        for (let v = m.from; entry && v < m.to; v++) {
          const step = STEPS[v]?.find((s) => s.map === map);
          if (step?.convert) entry = step.convert(entry.key, entry.value);
        }
        if (!entry) continue;
        try {
          maps[map].update(entry.key, entry.value);
          n++;
        } catch (err) {
          // A hash map that is full keeps what it has; the flows it lacks are balanced again.
          if ((err as { errno?: number }).errno !== E2BIG) throw err;
        }
      }
    } finally {
      old.close();
    }
  }
  m.copied = n;
  return n;
}

/** The steps that change @map on the way from m.from to m.to. */
function stepsOf(m: Migration, map: L.MapName): MapStep[] {
  const out: MapStep[] = [];
  for (let v = m.from; v < m.to; v++) out.push(...(STEPS[v] ?? []).filter((s) => s.map === map));
  return out;
}

/** After the new programs are attached everywhere: a last copy, then record the version and let the old maps go. */
export function finishMigration(m: Migration, maps: Record<L.MapName, BpfMap>, maglev?: U32Region): void {
  copyEntries(m, maps, maglev);
  recordLayoutVersion(maps.sl_meta);
  for (const map of m.maps) fs.rmSync(asidePin(m.dir, map, m.from), { force: true });
}

export function recordLayoutVersion(meta: BpfMap): void {
  meta.update(Buffer.alloc(4), L.meta.encode({ layout_version: LAYOUT_VERSION }));
}
