// Programs frontends (service address:port/protocol) into the pinned BPF maps and keeps an
// in-memory copy of what is there. Each frontend changes atomically from the datapath's view:
// new backends, then a fresh Maglev run, then one write of the service entry that publishes both;
// what the old entry referenced is removed last. Capacity is checked for a whole change before
// anything is written, so a change that does not fit is refused; every write goes through an undo
// log, so a write failing in the middle (EPERM, ENOMEM, a map filled by another writer) is undone
// and the change is refused too: never half-applied. The maps are a DatapathMaps bundle (libbpf's
// in the agent, fakes in unit tests).
//
// IP families: a frontend's vip picks its maps (sl_services / sl_backends / sl_src_ranges for IPv4,
// their IPv6 twins sl_services6 / sl_backends6 / sl_src_ranges6); everything else is shared: service
// ids (sl_svc_stats, sl_sock_stats), backend ids (one id space, so sl_maglev holds ids of either
// family), the Maglev slots and the capacity they are checked against. IPv4 frontends are written
// exactly as before IPv6 existed.
import fs from 'node:fs';
import path from 'node:path';
import * as bpf from './bpf/libbpf.ts';
import * as L from './bpf/layout.ts';
import { AddrFilter, type FilterWords } from './addr-filter.ts';
import { canonicalIp, cidrText, familyOf, parseCidr, type Family } from '../common/ip.ts';
import { copyEntries, finishMigration, prepareMigration, recordLayoutVersion, type Migration } from './bpf/migrate.ts';
import { datapathObjects, openObjects, type LoadedObjects } from './bpf/objects.ts';
import { BackendTable, type WantedBackends } from './backend-table.ts';
import { decodeBackend, decodeFrontend, dropsWhenEmpty, frontendKey, shortCircuitKey, shortCircuitOf, type Backend, type Frontend, type ProgrammedBackend, type ProgrammedFrontend, type Proto } from './frontend.ts';
import { MAGLEV_MAX_BACKENDS, maglevRunWords, maglevSize, writeMaglevRun } from './maglev.ts';
import type { PortRange } from './masquerade-ports.ts';
import { libbpfMaps } from './maps/libbpf-map.ts';
import { PackedEntries, sumPerCpu, typedMaps, u32Key, type BpfMap, type DatapathMaps, type MapReader, type MapSizes } from './maps/map.ts';
import { MapTransaction, MapWriteError } from './maps/transaction.ts';
import { SlotAllocator, type AllocatorCheckpoint } from './slot-allocator.ts';

export { frontendKey, type Backend, type Frontend, type ProgrammedFrontend } from './frontend.ts';
/** Earlier names of Frontend and Backend. */
export type FrontendSpec = Frontend;
export type BackendSpec = Backend;

export class CapacityError extends Error {
  readonly map: string;
  constructor(map: string, needed: number, available: number) {
    super(`${map} is full: this change needs ${needed} more entries, ${available} are free`);
    this.name = 'CapacityError';
    this.map = map;
  }
}

export type { MapSizes } from './maps/map.ts';

export const DEFAULT_SIZES: MapSizes = L.DEFAULT_SIZES;

/** sl_maglev holds SL_MAGLEV_CHUNK u16 slots per element. */
const maglevElems = (slots: number) => Math.ceil(slots / L.SL_MAGLEV_CHUNK);
/** Runs are allocated and addressed (sl_svc_value.maglev_base) in 4-byte words of two slots. */
const maglevWords = (slots: number) => Math.floor(slots / 2);

const SIZE_OF: Record<keyof MapSizes, L.MapName[]> = {
  services: ['sl_services', 'sl_svc_stats', 'sl_src_ranges', 'sl_sock_stats', 'sl_services6', 'sl_src_ranges6'],
  backends: ['sl_backends', 'sl_backends6'], maglev: ['sl_maglev'],
  ct: ['sl_ct'], affinity: ['sl_affinity'], sockRev: ['sl_sock_rev', 'sl_sock_rev6'], ct6: ['sl_ct6'],
};

export const DEFAULT_PIN_ROOT = '/sys/fs/bpf/sluice';

/**
 * The node's pin directory. bpffs refuses names with a dot, and node names are often FQDNs
 * (ip-10-0-1-5.ec2.internal): dots become underscores, which a DNS-1123 name never holds.
 */
export function pinDir(node: string, pinRoot = DEFAULT_PIN_ROOT): string {
  if (!/^[A-Za-z0-9._-]+$/.test(node)) throw new Error(`node name ${JSON.stringify(node)} is not usable as a directory name`);
  return path.join(pinRoot, node.replaceAll('.', '_'));
}

export interface OpenOptions {
  node: string;
  pinRoot?: string;
  /** Directory of the compiled datapath objects (default: build/bpf of this checkout). */
  objectDir?: string;
  /** Sizes for maps created now; pinned maps keep the size they were created with. */
  sizes?: Partial<MapSizes>;
  warn?: (msg: string, fields?: Record<string, unknown>) => void;
}

interface ViewCheckpoint {
  /** Frontends this change replaced or removed, as they were (undefined: it did not exist). */
  frontends: Map<string, ProgrammedFrontend | undefined>;
  alloc: AllocatorCheckpoint;
  nextBackendId: number;
  freeSvcIds: number[];
  nextSvcId: number;
  backendCount: number;
}

/** Program fds of a datapath built from maps alone (no object loaded): none. */
const NO_PROGRAMS = { fromPod: -1, toPod: -1, extXdp: -1, extTc: -1, extEgress: -1 };
const NO_SOCK_PROGRAMS = { connect4: -1, sendmsg4: -1, recvmsg4: -1, getpeername4: -1, connect6: -1, sendmsg6: -1, recvmsg6: -1, getpeername6: -1 };

export class Datapath {
  readonly node: string;
  readonly pinDir: string;
  readonly maps: Record<L.MapName, BpfMap>;
  readonly sizes: MapSizes;
  /** Program fds, valid until close(). */
  readonly programs: { fromPod: number; toPod: number; extXdp: number; extTc: number; extEgress: number };
  /** The socket-level programs (bpf/sluice_sock.c) by cgroup attach point; fds valid until close(). */
  readonly sockPrograms: Record<bpf.CgroupAttachPoint, number>;
  /** True when pinned maps from an earlier run were found and adopted. */
  readonly adopted: boolean;
  /** Pins of an older layout being converted: finishMigration() once the programs are attached. */
  readonly migration: Migration | undefined;
  #objs: LoadedObjects | undefined;
  #maglev: DatapathMaps['maglev'];
  #scratch = new Uint32Array(0);
  #state = new Uint8Array(64);
  #typed: ReturnType<typeof typedMaps>;
  #frontends = new Map<string, ProgrammedFrontend>();
  #alloc: SlotAllocator;
  #nextBackendId = 1;
  #freeSvcIds: number[] = [];
  #nextSvcId = 1;
  #backendCount = 0;
  /** UDP backends the running apply() removed: their flows are to be forgotten (gc.ts forgetRemovedUdp). */
  #goneUdpBackends = 0;
  #addrFilter: AddrFilter;
  /** Each family's frontend maps and codecs (familyMaps()). */
  readonly #fam: Record<Family, FamilyMaps>;
  /** Backends deleted by this process so far, any protocol (sockets may still point at them). */
  #backendsRemoved = 0;
  /** While apply() runs: what to put back if it fails. */
  #undo: ViewCheckpoint | undefined;
  readonly #cpus: number;

  private constructor(o: { node: string; pinRoot?: string }, maps: DatapathMaps, sizes: MapSizes, adopted: boolean, objs?: LoadedObjects,
    migration?: Migration) {
    this.node = o.node;
    this.migration = migration;
    this.pinDir = pinDir(o.node, o.pinRoot);
    this.#objs = objs;
    this.sizes = sizes;
    this.adopted = adopted;
    this.#cpus = maps.cpus;
    this.maps = maps.maps;
    this.#typed = typedMaps((m) => maps.maps[m]);
    const prog = (name: string) => {
      const fd = objs!.programs[name];
      if (fd === undefined) throw new Error(`program ${name} is in none of the datapath objects`);
      return fd;
    };
    this.programs = objs ? {
      fromPod: prog('sl_from_pod'), toPod: prog('sl_to_pod'), extXdp: prog('sl_ext_xdp'),
      extTc: prog('sl_ext_tc'), extEgress: prog('sl_ext_egress'),
    } : NO_PROGRAMS;
    this.sockPrograms = objs ? {
      connect4: prog('sl_sock_connect4'), sendmsg4: prog('sl_sock_sendmsg4'), recvmsg4: prog('sl_sock_recvmsg4'),
      getpeername4: prog('sl_sock_getpeername4'), connect6: prog('sl_sock_connect6'), sendmsg6: prog('sl_sock_sendmsg6'),
      recvmsg6: prog('sl_sock_recvmsg6'), getpeername6: prog('sl_sock_getpeername6'),
    } : NO_SOCK_PROGRAMS;
    this.#maglev = maps.maglev;
    this.#alloc = new SlotAllocator(maglevWords(sizes.maglev));
    this.#addrFilter = new AddrFilter(this.maps.sl_addr_filter);
    this.#fam = { 4: familyMaps(this.maps, 4), 6: familyMaps(this.maps, 6) };
    this.#adopt();
  }

  /**
   * A datapath over maps that already exist (fakes in unit tests): no object is loaded and no
   * program attached. Entries already in the maps are adopted as open() adopts pinned ones.
   */
  static fromMaps(maps: DatapathMaps, o: { node: string; sizes: MapSizes; pinRoot?: string }): Datapath {
    return new Datapath(o, maps, o.sizes, maps.maps.sl_services.count() > 0 || maps.maps.sl_services6.count() > 0);
  }

  /**
   * Load the BPF objects with their maps pinned under <pinRoot>/<node>/. Maps pinned by an earlier
   * agent are reused as they are (with their entries), so a restart never interrupts traffic; pins
   * of an older layout are converted (agent/bpf/migrate.ts): call finishMigration() after attaching.
   */
  static open(o: OpenOptions): Datapath {
    const dir = pinDir(o.node, o.pinRoot);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    const want: Required<MapSizes> = { ...DEFAULT_SIZES, ...o.sizes } as Required<MapSizes>;
    want.sockRev ??= L.SL_MAX_SOCK_REV;
    want.maglev = maglevElems(want.maglev) * L.SL_MAGLEV_CHUNK;
    const sizeOf = Object.entries(SIZE_OF) as [keyof MapSizes, L.MapName[]][];
    const entries: Partial<Record<L.MapName, number>> = {};
    for (const [k, maps] of sizeOf) for (const m of maps) entries[m] = m === 'sl_maglev' ? maglevElems(want[k]) : want[k];
    const migration = prepareMigration(dir);
    Object.assign(entries, migration?.entries);
    const objs = openObjects(datapathObjects(o.objectDir), dir, entries);
    try {
      const sizes = { ...want };
      for (const [k, maps] of sizeOf) {
        for (const m of maps) {
          const n = objs.entries[m] * (m === 'sl_maglev' ? L.SL_MAGLEV_CHUNK : 1);
          if (n !== want[k]) o.warn?.('pinned map keeps its size', { map: m, pinned: n, requested: want[k] });
          sizes[k] = n;
        }
      }
      const maps = libbpfMaps((m) => objs.maps[m], maglevWords(sizes.maglev));
      // The old programs still run on the aside maps: carry what they hold now, the rest in
      // finishMigration(). Before the view is adopted: a rebuilt Maglev map may move runs.
      if (migration) copyEntries(migration, maps.maps, maps.maglev);
      const dp = new Datapath(o, maps, sizes, objs.adopted, objs, migration);
      if (!migration && !objs.adopted) recordLayoutVersion(dp.maps.sl_meta);
      if (migration) dp.#coverAddrFilter();
      return dp;
    } catch (e) {
      objs.close();
      throw e;
    }
  }

  /**
   * After the programs are attached: the last copy of a migration, then the new layout is recorded;
   * or, when this load replaced the address filter's pin (a new size), covering it once more, for
   * the conntrack entries the old programs wrote on the old filter until they were swapped out.
   */
  finishMigration(): void {
    if (!this.migration) {
      if (this.#objs?.replaced.includes('sl_addr_filter')) this.#coverAddrFilter();
      return;
    }
    finishMigration(this.migration, this.maps, this.#maglev);
    this.#coverAddrFilter();
  }

  /** The address filter made to cover every frontend and conntrack entry the maps hold (agent/addr-filter.ts). */
  #coverAddrFilter(): void {
    this.#addrFilter.cover(this.maps.sl_services, this.maps.sl_ct);
    this.#addrFilter.cover6(this.maps.sl_services6, this.maps.sl_ct6);
  }

  close(): void {
    this.#maglev.close();
    this.#objs?.close();
  }

  get frontends(): ReadonlyMap<string, ProgrammedFrontend> {
    return this.#frontends;
  }

  /** Backends deleted (or about to be) by this process so far: sockets may still point at them. */
  get backendsRemoved(): number {
    return this.#backendsRemoved;
  }

  get backendCount(): number {
    return this.#backendCount;
  }

  /** Rebuild the in-memory view from the pinned maps; drop backends no frontend owns. */
  #adopt(): void {
    // Pins from before the filter existed, or a filter that lost a bit: nothing programmed goes unseen.
    this.#coverAddrFilter();
    const bySvc = new Map<number, ProgrammedFrontend>();
    const runs: Array<{ start: number; len: number }> = [];
    const fams = [this.#fam[4], this.#fam[6]];
    for (const f of fams) {
      for (const { key, value } of f.services.entries()) {
        const fe = decodeFrontend(f.svcKey.decode(key), L.svcValue.decode(value));
        this.#frontends.set(fe.key, fe);
        bySvc.set(fe.svcId, fe);
        if (fe.maglevSize) runs.push({ start: fe.maglevBase, len: fe.maglevWords });
        this.#nextSvcId = Math.max(this.#nextSvcId, fe.svcId + 1);
      }
    }
    for (let id = 1; id < this.#nextSvcId; id++) if (!bySvc.has(id)) this.#freeSvcIds.push(id);
    this.#alloc = SlotAllocator.fromUsed(maglevWords(this.sizes.maglev), runs);
    for (const f of fams) {
      const orphans: Buffer[] = [];
      const found = new Map<ProgrammedFrontend, ProgrammedBackend[]>();
      for (const { key, value } of f.backends.entries()) {
        const id = key.readUInt32LE(0), b = f.backend.decode(value);
        this.#nextBackendId = Math.max(this.#nextBackendId, id + 1);
        const fe = bySvc.get(b.svc_id);
        // A backend of the other family than its frontend's cannot come from this agent: dropped too.
        if (!fe || fe.vip.includes(':') !== (f.family === 6)) { orphans.push(key); continue; }
        let list = found.get(fe);
        if (!list) found.set(fe, list = []);
        list.push(decodeBackend(id, b));
        this.#backendCount++;
      }
      for (const [fe, list] of found) fe.backends = BackendTable.wanted(f.family, list).table;
      for (const k of orphans) f.backends.delete(k);
      for (const { key } of f.srcRanges.entries()) {
        const r = f.srcRangeKey.decode(key);
        const fe = bySvc.get(r.svc_id);
        if (fe && fe.vip.includes(':') === (f.family === 6)) fe.sourceRanges.push(`${r.addr}/${r.prefixlen - 32}`);
        else f.srcRanges.delete(key);
      }
    }
  }

  /**
   * Program `set` (add or replace) and remove the frontends named in `remove`, all or nothing.
   * Throws CapacityError before writing anything when the result would not fit the maps. When a
   * write fails, every write made so far is undone (newest first) and the in-memory view, the
   * Maglev allocator and the id counters are put back; the MapWriteError thrown names the map and
   * the operation.
   */
  apply(set: Frontend[], remove: string[] = []): ApplyResult {
    const specs = this.#specs(set);
    // A frontend's short-circuit companion goes with it, or when it no longer has that set.
    const companions = [...remove, ...set.map(frontendKey)].flatMap((k) => shortCircuitKey(k) ?? []);
    const removeKeys = [...new Set([...remove, ...companions])].filter((k) => this.#frontends.has(k) && !specs.has(k));
    this.#checkCapacity(specs, removeKeys);
    const ch = this.#open();
    return this.#guard(ch, () => {
      this.#remove(ch, removeKeys);
      this.#write(ch, specs);
      return this.#commit(ch);
    });
  }

  /**
   * A change made in parts (a snapshot applied a batch of services at a time, so that what it holds
   * at once is bounded): each set() checks its part against the maps' capacity as they are then (the
   * change's removals are not made yet), programs and writes it; commit() removes the frontends it
   * names that no part programmed, with their short-circuit companions, and keeps everything. All
   * or nothing as apply(): a part that does not fit or a write that fails undoes every part before
   * it (the maps and the view are as before begin()) and the change is over; abort() undoes it too.
   * Packets see each frontend change whole, as with apply(); frontends of later parts change after
   * those of earlier ones, and the removals come last.
   */
  begin(): DatapathChange {
    const ch = this.#open();
    let over = false;
    const live = () => { if (over) throw new Error('this datapath change is over'); };
    return {
      set: (frontends) => {
        live();
        let specs: Map<string, Spec>;
        try {
          // A frontend the maps cannot hold, or a part that does not fit: nothing of this part is written.
          specs = this.#specs(frontends);
          this.#checkCapacity(specs, []);
        } catch (e) {
          over = true;
          this.#rollback(ch);
          throw e;
        }
        for (const k of specs.keys()) ch.touched.add(k);
        const before = ch.changed;
        this.#guard(ch, () => this.#write(ch, specs), () => { over = true; });
        return ch.changed - before;
      },
      commit: (remove) => {
        live();
        over = true;
        return this.#guard(ch, () => {
          const keys = new Set<string>();
          for (const k of remove) { keys.add(k); const c = shortCircuitKey(k); if (c) keys.add(c); }
          for (const k of ch.touched) { const c = shortCircuitKey(k); if (c) keys.add(c); }
          this.#remove(ch, [...keys].filter((k) => this.#frontends.has(k) && !ch.touched.has(k)));
          return this.#commit(ch);
        });
      },
      abort: () => {
        if (over) return;
        over = true;
        this.#rollback(ch);
      },
    };
  }

  /** @set with short-circuit companions, by key, each with its wanted backends. */
  #specs(set: Frontend[]): Map<string, Spec> {
    const specs = new Map<string, Spec>();
    for (const f of set) {
      for (const s of [f, shortCircuitOf(f)]) {
        if (!s) continue;
        normalise(s);
        specs.set(frontendKey(s), { s, want: BackendTable.wanted(s.vip.includes(':') ? 6 : 4, s.backends) });
      }
    }
    return specs;
  }

  #open(): Change {
    if (this.#undo) throw new Error('a datapath change is already in progress');
    this.#goneUdpBackends = 0;
    this.#undo = this.#checkpoint();
    return { tx: new MapTransaction(), saved: this.#undo, freed: new Set(), touched: new Set(), changed: 0, removed: 0, filterWords: this.#addrFilter.begin() };
  }

  /** Programs @specs (IPv4 first: a load from nothing gives them the ids and Maglev runs they would have without IPv6 ones) and writes them. */
  #write(ch: Change, specs: Map<string, Spec>): void {
    const w = this.#writes(ch.freed);
    for (const [k, s] of specs) if (!s.s.vip.includes(':') && this.#program(ch.tx, w, k, s)) ch.changed++;
    for (const [k, s] of specs) if (s.s.vip.includes(':') && this.#program(ch.tx, w, k, s)) ch.changed++;
    this.#flush(ch.tx, w, ch.filterWords);
  }

  #commit(ch: Change): ApplyResult {
    ch.tx.commit();
    this.#undo = undefined;
    this.#maglev.release();
    return { changed: ch.changed, removed: ch.removed, udpBackendsGone: this.#goneUdpBackends };
  }

  /** Runs @fn; when it throws, the change is undone and the error, annotated, thrown. */
  #guard<T>(ch: Change, fn: () => T, onFail?: () => void): T {
    try {
      return fn();
    } catch (e) {
      onFail?.();
      const notUndone = this.#rollback(ch);
      if (notUndone.length) {
        throw new Error(`${(e as Error).message}; rollback incomplete, the maps differ from the agent's view: ${notUndone.join('; ')}`, { cause: e });
      }
      if (e instanceof MapWriteError) e.message += '; the change was undone, the previous state is kept';
      throw e;
    }
  }

  /** Undoes every write of @ch and puts the view back; returns what could not be undone. */
  #rollback(ch: Change): string[] {
    try {
      const notUndone = ch.tx.rollback();
      this.#restore(ch.saved);
      return notUndone;
    } finally {
      this.#undo = undefined;
      this.#maglev.release();
    }
  }

  /** A reused array of @n per-record states for #program. */
  #stateScratch(n: number): Uint8Array {
    if (this.#state.length < n) this.#state = new Uint8Array(Math.max(n, 2 * this.#state.length));
    return this.#state;
  }

  /** A reused buffer of @words words to build one Maglev run in before it is copied into sl_maglev. */
  #maglevScratch(words: number): Uint32Array {
    if (this.#scratch.length < words) this.#scratch = new Uint32Array(words);
    return this.#scratch.subarray(0, words);
  }

  /** What apply() changes besides the maps, to put back when a change is undone. */
  #checkpoint(): ViewCheckpoint {
    return {
      frontends: new Map(), alloc: this.#alloc.checkpoint(), nextBackendId: this.#nextBackendId,
      freeSvcIds: [...this.#freeSvcIds], nextSvcId: this.#nextSvcId, backendCount: this.#backendCount,
    };
  }

  #restore(c: ViewCheckpoint): void {
    for (const [k, fe] of c.frontends) {
      if (fe) this.#frontends.set(k, fe); else this.#frontends.delete(k);
    }
    this.#alloc.restore(c.alloc);
    this.#nextBackendId = c.nextBackendId;
    this.#freeSvcIds = c.freeSvcIds;
    this.#nextSvcId = c.nextSvcId;
    this.#backendCount = c.backendCount;
  }

  #checkCapacity(specs: Map<string, Spec>, removeKeys: string[]): void {
    let services = this.#frontends.size - removeKeys.length;
    let backends = this.#backendCount;
    let slots = 0;
    for (const k of removeKeys) backends -= this.#frontends.get(k)!.backends.size;
    for (const [k, { want }] of specs) {
      const cur = this.#frontends.get(k);
      const n = want.table.size;
      if (!cur) {
        // A new frontend (most of a load from nothing): all its backends and a table are new.
        services++;
        backends += n;
        slots += n ? maglevRunWords(tableSize(undefined, n), n) : 0;
        continue;
      }
      const d = BackendTable.diff(cur.backends, want.table);
      backends += d.added - d.removed;
      if (d.added || d.removed) slots += n ? maglevRunWords(tableSize(cur, n), n) : 0;
    }
    // Service ids index the per-CPU stats array and 0 is reserved; both families take ids (and
    // backend ids) from one space, so their sum is what must fit (each family's map is as large).
    if (services > this.sizes.services - 1) throw new CapacityError('sl_services', services - this.#frontends.size, this.sizes.services - 1 - this.#frontends.size);
    if (backends > this.sizes.backends) throw new CapacityError('sl_backends', backends - this.#backendCount, this.sizes.backends - this.#backendCount);
    let free = this.#alloc.available;
    if (slots > free && slots <= free + this.#alloc.quarantined) {
      this.#alloc.settle();
      free = this.#alloc.available;
    }
    if (slots > free) throw new CapacityError('sl_maglev', slots, free);
  }

  /**
   * Remove the frontends @keys (all in the view): their service entries first, one batch per family
   * (packets stop using what they referenced), then their backends, one batch per family, logged for
   * undo with the values the view says they hold (what this agent wrote: sl_backends is written by
   * the agent alone), not a lookup each; then their source ranges. Their runs, ids and view go.
   */
  #remove(ch: Change, keys: readonly string[]): void {
    if (!keys.length) return;
    const tx = ch.tx, gone = keys.map((k) => this.#frontends.get(k)!);
    for (const f of [this.#fam[4], this.#fam[6]]) {
      const mine = gone.filter((fe) => this.#famOf(fe.vip) === f);
      if (!mine.length) continue;
      const ks = f.services.keySize, svc = Buffer.alloc(ks * mine.length);
      mine.forEach((fe, i) => f.svcKey.encode(svcKeyOf(fe), svc, i * ks));
      // Looked up for undo: the entry as the maps hold it (an adopted one may say more than the view).
      tx.deleteBatch(f.services, svc, mine.length);
    }
    for (const f of [this.#fam[4], this.#fam[6]]) {
      let n = 0, udp = 0;
      for (const fe of gone) if (this.#famOf(fe.vip) === f) n += fe.backends.size;
      const out = new PackedEntries(4, f.backends.valueSize, Math.max(1, n));
      for (const fe of gone) {
        if (this.#famOf(fe.vip) !== f || !fe.backends.size) continue;
        const proto = L.IPPROTO[fe.proto];
        for (let r = 0; r < fe.backends.size; r++) {
          const i = out.add();
          out.keys.writeUInt32LE(fe.backends.idAt(r), out.keyAt(i));
          fe.backends.writeValue(r, proto, fe.svcId, out.values, out.valueAt(i));
        }
        if (fe.proto === 'UDP') udp += fe.backends.size;
      }
      this.#deleteBackends(tx, f, out, udp);
    }
    for (const fe of gone) {
      const f = this.#famOf(fe.vip);
      for (const r of fe.sourceRanges) tx.delete(f.srcRanges, srcRangeKey(f, fe.svcId, r));
      this.#backendCount -= fe.backends.size;
      this.#alloc.free(fe.maglevBase, fe.maglevWords);
      this.#freeSvcIds.push(fe.svcId);
      ch.freed.add(fe.svcId);
      this.#setFrontend(fe.key, undefined);
      ch.removed++;
    }
  }

  /** The map writes of a change's programmed frontends, collected to be made a batch per map and step. */
  #writes(freed: Set<number>): Writes {
    return {
      4: familyWrites(this.#fam[4]), 6: familyWrites(this.#fam[6]), stats: [], freed, goneRanges: [], vips: [],
    };
  }

  /** The maps of @vip's family (an IPv6 address has a colon, an IPv4 one never). */
  #famOf(vip: string): FamilyMaps {
    return this.#fam[vip.includes(':') ? 6 : 4];
  }

  /**
   * Write what #program collected, in the order that keeps every frontend consistent for packets
   * (each step for all frontends at once, one batch per map): backends, then fresh counters, then
   * the service entries that publish them (the Maglev runs are already written), then what the old
   * entries referenced. Keys the view does not hold (new backend ids, new frontends) are inserted
   * without a lookup each.
   */
  #flush(tx: MapTransaction, w: Writes, filterWords: Change['filterWords']): void {
    const m = this.maps;
    // Each filter word written once for the whole change (a load from nothing: ~1,000 words for
    // 10,000 frontends, not a read and a write per frontend).
    if (w.vips.length) this.#addrFilter.add(L.SL_ADDR_FRONTEND, w.vips, tx, filterWords);
    const fams = [w[4], w[6]];
    for (const f of fams) {
      tx.insertBatch(f.maps.backends, f.newBackends.keys, f.newBackends.values, f.newBackends.count);
      if (f.backends.count) tx.updateBatch(f.maps.backends, f.backends.keys, f.backends.values, f.backends.count);
    }
    // Counters of ids freed by this change are logged (undone, the removed frontend's come back);
    // the others belong to no frontend before or after a rollback: reset without reading them first.
    for (const [ids, write] of [[w.stats.filter((id) => w.freed.has(id)), 'updateBatch'], [w.stats.filter((id) => !w.freed.has(id)), 'resetBatch']] as const) {
      if (!ids.length) continue;
      const keys = Buffer.allocUnsafe(4 * ids.length);
      for (let i = 0; i < ids.length; i++) keys.writeUInt32LE(ids[i]!, 4 * i);
      for (const map of [m.sl_svc_stats, m.sl_sock_stats]) tx[write](map, keys, Buffer.alloc(map.valueSize * ids.length), ids.length);
    }
    for (const f of fams) {
      tx.insertBatch(f.maps.services, f.newServices.keys, f.newServices.values, f.newServices.count);
      if (f.services.count) tx.updateBatch(f.maps.services, f.services.keys, f.services.values, f.services.count);
    }
    for (const f of fams) this.#deleteBackends(tx, f.maps, f.goneBackends, f.goneUdp);
    for (const g of w.goneRanges) tx.delete(g.fam.srcRanges, g.key);
  }

  /** Returns false when the frontend was already programmed exactly so; the map writes go to `w`. */
  #program(tx: MapTransaction, w: Writes, key: string, { s, want }: Spec): boolean {
    const cur = this.#frontends.get(key);
    const backends = want.table, n = backends.size;
    // Ids of the backends kept; what each record is (0 new, 1 same, 2 flags changed).
    const state = this.#stateScratch(n);
    // Records of the current table not in the next (their backends are deleted after the new entry is published).
    const gone: number[] = [];
    const d = BackendTable.diff(cur?.backends, backends, state, (_id, r) => gone.push(r));
    const tableChanged = !cur || d.added > 0 || d.removed > 0;
    const whenEmpty = dropsWhenEmpty(s) ? 'drop' as const : 'reject' as const;
    const ranges = s.sourceRanges?.length ? [...new Set(s.sourceRanges.map((r) => normaliseRange(s, r)))].sort() : NO_RANGES;
    if (cur && !tableChanged && !d.flagsChanged && cur.name === s.name && cur.affinityTimeout === s.affinityTimeout && cur.localOnly === !!s.localOnly &&
        cur.whenEmpty === whenEmpty && cur.sourceRanges.join() === ranges.join()) {
      return false;
    }

    const svcId = cur?.svcId ?? this.#takeSvcId();
    const fam = this.#famOf(s.vip), fw = w[fam.family];
    const proto = L.IPPROTO[s.proto];
    // Maglev's names ("ip:port"), by record, when the table is rebuilt.
    const names: string[] | undefined = tableChanged && n ? new Array<string>(n) : undefined;
    // In the order given (new ids as the backends come), each record once.
    for (let i = 0; i < s.backends.length; i++) {
      const r = want.pos[i]!, st = state[r]!;
      if (st === 3) continue;
      state[r] = 3;
      const b = s.backends[i]!;
      if (names) names[r] = beKey(b);
      if (st === 1) continue;
      // Ids are never reused, so a new one is in no map yet.
      let id: number;
      if (st === 0) { id = this.#nextBackendId++; backends.setIdAt(r, id); } else id = backends.idAt(r);
      const out = st === 2 ? fw.backends : fw.newBackends;
      const j = out.add();
      out.keys.writeUInt32LE(id, out.keyAt(j));
      backends.writeValue(r, proto, svcId, out.values, out.valueAt(j));
    }

    let base = cur?.maglevBase ?? 0, size = cur?.maglevSize ?? 0, words = cur?.maglevWords ?? 0;
    if (tableChanged) {
      size = n ? tableSize(cur, n) : 0;
      words = maglevRunWords(size, n);
      base = 0;
      if (size) {
        base = this.#alloc.alloc(words);
        if (base < 0) throw new CapacityError('sl_maglev', words, this.#alloc.available);
        const ids = backends.ids();
        // Built into a scratch run (table of indexes, then the ids), copied into the words just
        // allocated, referenced by no service entry until the publishing write: nothing to save for undo.
        const run = this.#maglevScratch(words);
        writeMaglevRun(names!, size, ids, run);
        tx.writeRegion(this.#maglev, base, run);
      }
    }

    const fe: ProgrammedFrontend = {
      key, vip: s.vip, port: s.port, proto: s.proto, scope: s.scope ?? 0, name: s.name.slice(0, L.SL_NAME_LEN - 1),
      svcId, maglevBase: base, maglevSize: size, maglevWords: words, affinityTimeout: s.affinityTimeout, localOnly: !!s.localOnly, backends,
      whenEmpty, sourceRanges: ranges as string[],
    };
    if (!cur) w.stats.push(svcId);
    // Ranges before the entry that turns their check on; stale ones after it no longer needs them.
    for (const r of ranges) if (!cur?.sourceRanges.includes(r)) tx.update(fam.srcRanges, srcRangeKey(fam, svcId, r), Buffer.from([1]));
    // Its address in the filter first (#flush sets every frontend's bit before the service entries):
    // packets to an address without its bit skip the lookup. Kept when the frontend goes (its flows'
    // SERVICE entries may outlive it; a stale bit only costs a lookup). Either family: IPv6 folded.
    w.vips.push(fe.vip);
    // The publishing write (in #flush, after every backend): from then on, packets use the new backends and table.
    const out = cur ? fw.services : fw.newServices;
    const i = out.add();
    fam.svcKey.encode(svcKeyOf(fe), out.keys, out.keyAt(i));
    L.svcValue.encode({
      svc_id: svcId, maglev_base: base, maglev_size: size, count: n,
      flags: (s.affinityTimeout > 0 ? L.SL_SVC_F_AFFINITY : 0) | (s.localOnly ? L.SL_SVC_F_LOCAL : 0) |
        (whenEmpty === 'drop' ? L.SL_SVC_F_DROP : 0) | (ranges.length ? L.SL_SVC_F_SRC_RANGES : 0),
      affinity_timeout: s.affinityTimeout,
      name: fe.name,
    }, out.values, out.valueAt(i));

    if (cur) {
      if (tableChanged) this.#alloc.free(cur.maglevBase, cur.maglevWords);
      if (gone.length) {
        const out = fw.goneBackends, p = L.IPPROTO[cur.proto];
        for (const r of gone) {
          const i = out.add();
          out.keys.writeUInt32LE(cur.backends.idAt(r), out.keyAt(i));
          cur.backends.writeValue(r, p, cur.svcId, out.values, out.valueAt(i));
        }
        if (cur.proto === 'UDP') fw.goneUdp += gone.length;
      }
      for (const r of cur.sourceRanges) if (!ranges.includes(r)) w.goneRanges.push({ fam, key: srcRangeKey(fam, svcId, r) });
    }
    this.#backendCount += n - (cur?.backends.size ?? 0);
    this.#setFrontend(key, fe);
    return true;
  }

  /** Changes the in-memory view, remembering the first value of each key for #restore. */
  #setFrontend(key: string, fe: ProgrammedFrontend | undefined): void {
    const undo = this.#undo!.frontends;
    if (!undo.has(key)) undo.set(key, this.#frontends.get(key));
    if (fe) this.#frontends.set(key, fe); else this.#frontends.delete(key);
  }

  #takeSvcId(): number {
    return this.#freeSvcIds.pop() ?? this.#nextSvcId++;
  }

  /**
   * Delete the backends packed in @gone (ids, with the values they hold: logged for undo as they
   * are, no lookup each); counted for the stale-socket sweep, and @udp of them for the UDP conntrack flush.
   */
  #deleteBackends(tx: MapTransaction, fam: FamilyMaps, gone: PackedEntries, udp: number): void {
    tx.deleteBatch(fam.backends, gone.keys, gone.count, gone.values);
    this.#backendsRemoved += gone.count;
    this.#goneUdpBackends += udp;
  }

  /**
   * The node's own address, the source of masqueraded flows, and the source ports they take
   * (agent/masquerade-ports.ts; none: the datapath's fixed 32768–60999).
   */
  setNodeIp(ip: string, ports?: PortRange): void {
    this.#typed.config.set(0, { node_ip: ip, snat_port_min: ports?.min ?? 0, snat_port_max: ports?.max ?? 0 });
  }

  /**
   * The node's own IPv6 address, the source of masqueraded IPv6 flows (sl_config6; ports: the
   * range setNodeIp() set). Undefined clears it: the datapath then drops IPv6 flows needing one.
   */
  setNodeIp6(ip: string | undefined): void {
    if (ip !== undefined && (familyOf(ip) !== 6 || canonicalIp(ip) !== ip)) throw new Error(`node IPv6 address: ${JSON.stringify(ip)} is not an IPv6 address in canonical form`);
    this.maps.sl_config6.update(u32Key(0), L.config6.encode({ node_ip: ip ?? '::' }));
  }

  /**
   * How sl_ext_xdp keys its next-hop cache (bpf/lib/next_hop.h, agent/next-hop-cache.ts): false
   * when no datapath object is loaded (maps only).
   */
  setNextHopCache(flags: number): boolean {
    const fd = this.#objs?.privateMaps.sl_nh_config;
    if (fd === undefined) return false;
    bpf.mapUpdate(fd, u32Key(0), u32Key(flags));
    return true;
  }

  /** Which sockets the socket-level programs translate (sl_sock_config): all, or the node's own. */
  setSocketScope(mode: number, hostNetnsCookie: bigint): void {
    this.maps.sl_sock_config.update(u32Key(0), L.sockConfig.encode({ host_netns_cookie: hostNetnsCookie, mode }));
  }

  /** Per-service counters summed over CPUs. */
  stats(svcId: number): L.SvcStats {
    return readSvcStats(this.maps.sl_svc_stats, svcId, this.#cpus);
  }
}

/** The maps and codecs holding one family's frontends (the IPv6 structs are the IPv4 ones with 16-byte addresses). */
interface FamilyMaps {
  family: Family;
  services: BpfMap;
  backends: BpfMap;
  srcRanges: BpfMap;
  svcKey: typeof L.svcKey;
  backend: typeof L.backend;
  srcRangeKey: typeof L.srcRangeKey;
  /** Bits of an address: 32 or 128. */
  bits: number;
}

function familyMaps(m: Record<L.MapName, BpfMap>, family: Family): FamilyMaps {
  return family === 4
    ? { family, services: m.sl_services, backends: m.sl_backends, srcRanges: m.sl_src_ranges, svcKey: L.svcKey, backend: L.backend, srcRangeKey: L.srcRangeKey, bits: 32 }
    : { family, services: m.sl_services6, backends: m.sl_backends6, srcRanges: m.sl_src_ranges6, svcKey: L.svc6Key, backend: L.backend6, srcRangeKey: L.srcRange6Key, bits: 128 };
}

/** One family's writes of a change. */
interface FamilyWrites {
  maps: FamilyMaps;
  /** Backends with new ids; and backends whose flags changed. */
  newBackends: PackedEntries;
  backends: PackedEntries;
  /** Entries of frontends the view does not hold; and of frontends it does. */
  newServices: PackedEntries;
  services: PackedEntries;
  /** What the replaced entries referenced and the new ones do not: backend ids, with the values they hold. */
  goneBackends: PackedEntries;
  /** How many of goneBackends are UDP. */
  goneUdp: number;
}

function familyWrites(f: FamilyMaps): FamilyWrites {
  return {
    maps: f, newBackends: new PackedEntries(4, f.backends.valueSize), backends: new PackedEntries(4, f.backends.valueSize),
    newServices: new PackedEntries(f.services.keySize, f.services.valueSize), services: new PackedEntries(f.services.keySize, f.services.valueSize),
    goneBackends: new PackedEntries(4, f.backends.valueSize, 1), goneUdp: 0,
  };
}

/** A frontend to program, with its backends as a table (ids given by #program). */
interface Spec {
  s: Frontend;
  want: WantedBackends;
}

export interface ApplyResult { changed: number; removed: number; udpBackendsGone: number }

/** A change made in parts (Datapath.begin()). */
export interface DatapathChange {
  /** Programs these frontends (and their short-circuit companions) now; returns how many changed. */
  set(frontends: Frontend[]): number;
  /** Removes the frontends of @remove no part programmed, with their companions, and keeps everything. */
  commit(remove: Iterable<string>): ApplyResult;
  /** Undoes every part (nothing if the change is already over). */
  abort(): void;
}

/** A change in progress: its undo log, checkpoint and counts. */
interface Change {
  tx: MapTransaction;
  saved: ViewCheckpoint;
  /** Service ids this change's removals gave up. */
  freed: Set<number>;
  /** Frontends programmed (or found unchanged) by this change. */
  touched: Set<string>;
  changed: number;
  removed: number;
  /** Address filter words read or written so far (AddrFilter.add): each read and logged once per change. */
  filterWords: FilterWords;
}

/** A change's writes collected by #program, made by #flush. */
interface Writes {
  4: FamilyWrites;
  6: FamilyWrites;
  /** Service ids of new frontends: their counters start from zero. */
  stats: number[];
  /** Service ids this change's removals gave up (a new frontend may take one). */
  freed: Set<number>;
  /** Source ranges the replaced entries had and the new ones do not. */
  goneRanges: Array<{ fam: FamilyMaps; key: Buffer }>;
  /** Addresses of the programmed frontends, for the address filter. */
  vips: string[];
}

/** The source ranges of the frontends that have none, shared (one empty array each is 3 MiB at 100,000). */
const NO_RANGES: readonly string[] = Object.freeze([]);

const NO_STATS: L.SvcStats = { conns: 0n, packets: 0n, bytes: 0n, rejects: 0n };

function checkIp6(name: string, field: string, ip: string): void {
  if (familyOf(ip) !== 6 || canonicalIp(ip) !== ip) {
    throw new Error(`${name}: ${field} ${JSON.stringify(ip)} is not an IPv6 address in canonical form${familyOf(ip) === 4 ? ' (an IPv6 frontend takes IPv6 backends)' : ''}`);
  }
}

export function readSvcStats(map: MapReader, svcId: number, cpus: number): L.SvcStats {
  return sumPerCpu(map.lookup(u32Key(svcId)), L.svcStats, cpus, NO_STATS);
}

export function readSockStats(map: MapReader, svcId: number, cpus: number): L.SockStats {
  return sumPerCpu(map.lookup(u32Key(svcId)), L.sockStats, cpus, { translations: 0n, rejects: 0n });
}

function beKey(b: { ip: string; port: number }): string {
  return `${b.ip}:${b.port}`;
}

function svcKeyOf(f: { vip: string; port: number; proto: Proto; scope?: number }) {
  return { vip: f.vip, port: f.port, proto: L.IPPROTO[f.proto], scope: f.scope ?? 0 };
}

/**
 * Keep the current table size while it still gives every backend 100 slots and is not wastefully
 * large, so adding or removing a backend disturbs only that backend's share of flows.
 */
function tableSize(cur: ProgrammedFrontend | undefined, n: number): number {
  const want = maglevSize(n);
  if (cur && cur.maglevSize >= want && cur.maglevSize <= 4 * want) return cur.maglevSize;
  return want;
}

/** "a.b.c.d/n" with the host bits cleared; throws on anything else. */
export function normaliseCidr(cidr: string): string {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const len = Number(m?.[2] ?? -1);
  if (!m || len > 32) throw new Error(`${JSON.stringify(cidr)} is not an IPv4 CIDR`);
  const addr = L.ipToBytes(m[1]!).readUInt32BE(0);
  const masked = len ? (addr & (~0 << (32 - len))) >>> 0 : 0;
  return `${[24, 16, 8, 0].map((s) => (masked >>> s) & 255).join('.')}/${len}`;
}

/** "addr/n" (IPv6) with the host bits cleared, canonical; throws on anything else. */
function normaliseCidr6(cidr: string): string {
  const c = parseCidr(cidr);
  if (c?.family !== 6) throw new Error(`${JSON.stringify(cidr)} is not an IPv6 CIDR`);
  return cidrText(c);
}

/** A source range of frontend @s, normalised; of the frontend's family (its map holds that family's addresses). */
function normaliseRange(s: Frontend, cidr: string): string {
  if (!s.vip.includes(':')) return normaliseCidr(cidr);
  return normaliseCidr6(cidr);
}

/** sl_src_ranges' (or sl_src_ranges6') key for range @cidr (normalised) of frontend @svcId. */
function srcRangeKey(f: FamilyMaps, svcId: number, cidr: string): Buffer {
  const [addr, len] = cidr.split('/');
  return f.srcRangeKey.encode({ prefixlen: 32 + Number(len), svc_id: svcId, addr: addr! });
}

/** Checks what the maps cannot hold. IPv4 as before; IPv6 addresses canonical, a backend of the vip's family. */
function normalise(s: Frontend): Frontend {
  const v6 = s.vip.includes(':');
  if (v6) checkIp6(s.name, 'vip', s.vip);
  else L.ipToU32(s.vip);
  for (const b of s.backends) {
    // An IPv4 backend's address is parsed (and refused) as its table is built (BackendTable.wanted).
    if (v6) checkIp6(s.name, 'backend', b.ip);
    if (!Number.isInteger(b.port) || b.port < 1 || b.port > 65535) throw new Error(`${s.name}: backend port ${b.port} is out of range`);
  }
  if (s.backends.length > MAGLEV_MAX_BACKENDS) {
    throw new Error(`${s.name}: ${s.backends.length} backends exceed the ${MAGLEV_MAX_BACKENDS} one frontend can hold (a Maglev slot names its backend in 16 bits)`);
  }
  return s;
}
