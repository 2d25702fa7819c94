// Loads the datapath's BPF objects (one per attach point: bpf/sluice_pod.c, bpf/sluice_ext.c,
// bpf/sluice_sock.c) as one datapath. Every object declares every map (bpf/lib/maps.h); each map
// is given the same size in all of them and pinned by name under the node's directory. The first
// object loaded creates the pins (or reuses those an earlier agent left), the others reuse them,
// so all programs share one set of maps.
import fs from 'node:fs';
import path from 'node:path';
import * as bpf from './libbpf.ts';
import * as L from './layout.ts';

/** The compiled datapath, in load order: what `make build` puts in build/bpf/. */
export const DATAPATH_OBJECTS = ['sluice_pod.o', 'sluice_ext.o', 'sluice_sock.o'] as const;
export const DEFAULT_BPF_DIR = new URL('../../build/bpf/', import.meta.url).pathname;

/** Paths of the datapath objects in `dir`. */
export function datapathObjects(dir = DEFAULT_BPF_DIR): string[] {
  return DATAPATH_OBJECTS.map((o) => path.join(dir, o));
}

/**
 * Tail-call tables (program arrays) of an object: not datapath state, but pinned all the same. The
 * kernel empties a program array when the last user-space reference to it goes, so an unpinned one
 * would be emptied when the agent exits, while its attached programs run on (an agent killed or
 * being upgraded): IPv6 packets would then pass untranslated. Pinned, a newer object reuses the
 * table, and loading it points the running programs at its own (libbpf fills it).
 */
export const PROGRAM_ARRAYS = ['sl_pod6_progs', 'sl_ext6_tc_progs', 'sl_ext6_xdp_progs'] as const;

/**
 * Arrays whose size follows an enum of the header and whose content can be lost, so a pin of
 * another size is replaced rather than refused (running programs keep the old one until the new
 * ones are attached): per-reason counters (new reasons change max_entries, not the layout; their
 * counts restart), and the address filter, which the agent covers again from sl_services(6) and
 * sl_ct(6) when it opens the maps and once more after attaching (Datapath.finishMigration()).
 */
export const RESIZED_BY_REPLACING: ReadonlySet<string> = new Set(['sl_drops', 'sl_addr_filter']);

export interface LoadedObjects {
  /** Map fds by map name, valid until close(). */
  maps: Record<L.MapName, number>;
  /** Program fds by program (C function) name, valid until close(). */
  programs: Record<string, number>;
  /** True when pinned maps from an earlier run were found and reused. */
  adopted: boolean;
  /** max_entries of every map as loaded: a pinned map keeps the size it was created with. */
  entries: Record<L.MapName, number>;
  /** Pins of RESIZED_BY_REPLACING found at another size and replaced by this load. */
  replaced: string[];
  /** Fds of maps private to one object (not pinned, as sl_nh_config of sluice_ext.o), by name. */
  privateMaps: Partial<Record<PrivateMapName, number>>;
  close(): void;
}

/**
 * Maps an object keeps to itself (by name: the object that declares it): created empty at each
 * load, never pinned, so no layout to keep across agents. The next-hop cache (bpf/lib/next_hop.h)
 * and its switch, one u32 of enum nh_flag (agent/next-hop-cache.ts).
 */
export const PRIVATE_MAPS = { sl_nh_config: 'sluice_ext.o', sl_nh_cache: 'sluice_ext.o' } as const;
export type PrivateMapName = keyof typeof PRIVATE_MAPS;

/**
 * Open and load the objects at `paths` with their maps pinned under `pinDir`. `entries` sizes maps
 * created now (by name; others keep the objects' defaults). Throws, leaving no object open and no
 * pin it created, when an object cannot be loaded; when pins of another layout are the reason,
 * the error names their directory and the remedy.
 */
export function openObjects(paths: string[], pinDir: string, entries: Partial<Record<L.MapName | L.EventMapName | L.SocketStorageMapName, number>> = {}): LoadedObjects {
  const objs: bpf.BpfObject[] = [];
  const close = () => { for (const o of objs) o.close(); };
  let adopted = false;
  const replaced: string[] = [];
  try {
    for (const p of paths) objs.push(bpf.BpfObject.open(p));
    if (!objs[0]) throw new Error('no datapath object to load');
    const sizes = {} as Record<L.MapName, number>;
    for (const m of L.PINNED_MAP_NAMES) {
      // An object older than a map (only a test's layout-2 fixture) leaves it out; one the agent
      // needs and does not find still fails below (mapFd).
      if (!objs[0].hasMap(m)) continue;
      const pin = path.join(pinDir, m);
      let n = entries[m] ?? objs[0].maxEntries(m);
      // RESIZED_BY_REPLACING: a pin of the old size is replaced rather than refused.
      if (RESIZED_BY_REPLACING.has(m) && fs.existsSync(pin) && pinnedEntries(pin) !== n) {
        fs.rmSync(pin);
        replaced.push(m);
      }
      if (fs.existsSync(pin)) {
        adopted = true;
        if (entries[m] !== undefined) n = pinnedEntries(pin);
      }
      if (m in L.MAPS) sizes[m as L.MapName] = n;
      for (const o of objs) {
        o.setMaxEntries(m, n);
        o.setPinPath(m, pin);
      }
    }
    for (const m of PROGRAM_ARRAYS) for (const o of objs) if (o.hasMap(m)) o.setPinPath(m, path.join(pinDir, m));
    for (const o of objs) load(o, adopted, pinDir);
    for (const m of L.PINNED_MAP_NAMES) if (fs.existsSync(path.join(pinDir, m))) fs.chmodSync(path.join(pinDir, m), 0o600);
    for (const m of PROGRAM_ARRAYS) if (fs.existsSync(path.join(pinDir, m))) fs.chmodSync(path.join(pinDir, m), 0o600);

    const programs: Record<string, number> = {};
    for (const o of objs) {
      for (const name of o.programNames()) {
        if (name in programs) throw new Error(`program ${name} is in more than one datapath object (${o.path})`);
        programs[name] = o.programFd(name);
      }
    }
    const first = objs[0];
    const maps = Object.fromEntries(L.MAP_NAMES.map((m) => [m, first.mapFd(m)])) as Record<L.MapName, number>;
    const privateMaps: LoadedObjects['privateMaps'] = {};
    for (const [m, file] of Object.entries(PRIVATE_MAPS) as [PrivateMapName, string][]) {
      const o = objs.find((x) => path.basename(x.path) === file);
      if (o) privateMaps[m] = o.mapFd(m);
    }
    return { maps, programs, adopted, entries: sizes, replaced, privateMaps, close };
  } catch (e) {
    close();
    // Pins this call created (an object loaded before another failed) would be adopted next time.
    if (!adopted) for (const m of [...L.PINNED_MAP_NAMES, ...PROGRAM_ARRAYS]) fs.rmSync(path.join(pinDir, m), { force: true });
    throw e;
  }
}

function pinnedEntries(pin: string): number {
  const fd = bpf.objGet(pin);
  try {
    return bpf.mapInfo(fd).maxEntries;
  } finally {
    bpf.closeFd(fd);
  }
}

function load(obj: bpf.BpfObject, adopted: boolean, dir: string): void {
  try {
    obj.load();
  } catch (e) {
    if (adopted && e instanceof bpf.LibbpfError && /reuse pinned map|incompatible/i.test(e.libbpfLog)) {
      throw new Error(`the maps pinned under ${dir} have another layout than this agent's datapath (an upgrade that changed ` +
        `bpf/sluice_maps.h). Remove that directory to start afresh; established flows are then balanced again.\n${e.message}`);
    }
    throw e;
  }
}
