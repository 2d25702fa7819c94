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
import { LibbpfMap } from '../maps/libbpf-map.ts';
import type { BpfMap } from '../maps/map.ts';

const E2BIG = 7;

/** How the entries of one map are carried from layout v to v + 1. */
interface MapStep {
  map: L.MapName;
  /** The entry in the next layout; undefined drops it. */
  convert(key: Buffer, value: Buffer): { key: Buffer; value: Buffer } | undefined;
}

/**
 * STEPS[v]: what changes from layout v to v + 1; maps not named keep their layout and their pins.
 * 1 -> 2: the affinity key names its client by kind in 16 bytes (an IPv4 address today, a network
 * namespace cookie for socket-level balancing and an IPv6 address next).
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
};

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
export function copyEntries(m: Migration, maps: Record<L.MapName, BpfMap>): number {
  let n = 0;
  for (const map of m.maps) {
    const aside = asidePin(m.dir, map, m.from);
    if (!fs.existsSync(aside)) continue;
    const old = LibbpfMap.openPinned(aside);
    try {
      for (const e of old.entries()) {
        let entry: { key: Buffer; value: Buffer } | undefined = e;
        for (let v = m.from; entry && v < m.to; v++) {
          const step = STEPS[v]?.find((s) => s.map === map);
          if (step) entry = step.convert(entry.key, entry.value);
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

/** After the new programs are attached everywhere: a last copy, then record the version and let the old maps go. */
export function finishMigration(m: Migration, maps: Record<L.MapName, BpfMap>): void {
  copyEntries(m, maps);
  recordLayoutVersion(maps.sl_meta);
  for (const map of m.maps) fs.rmSync(asidePin(m.dir, map, m.from), { force: true });
}

export function recordLayoutVersion(meta: BpfMap): void {
  meta.update(Buffer.alloc(4), L.meta.encode({ layout_version: LAYOUT_VERSION }));
}
