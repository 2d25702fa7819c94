// BpfMap in memory, for unit tests: the kernel's semantics that Sluice relies on (update flags,
// max_entries, array maps that cannot delete, batches that stop at the failing element) and faults
// injected at the Nth write, thrown as the LibbpfError the real map would throw.
import { LibbpfError } from '../bpf/libbpf.ts';
import * as L from '../bpf/layout.ts';
import { maglevRunLookup, maglevRunWords } from '../maglev.ts';
import {
  BPF_ANY, BPF_EXIST, BPF_NOEXIST, MAP_SHAPES, perCpuValueSize, type BpfMap, type DatapathMaps, type MapEntry, type MapKind,
  type MapSizes, type U32Region, type UpdateFlag,
} from './map.ts';

export const EPERM = 1, ENOENT = 2, EEXIST = 17, EINVAL = 22, E2BIG = 7, ENOMEM = 12;

/** Which writes a fault counts: every write, updates, deletes, or updates that add a key. */
export type WriteKind = 'write' | 'update' | 'delete' | 'insert';

export interface Fault {
  /** The Nth (1-based) write of `kind` (on `map`, when given) fails; one element of a batch is one write. */
  at: number;
  errno: number;
  kind?: WriteKind;
  map?: string;
}

/** Faults shared by a set of fake maps, so "the Nth write" counts across all of them. */
export class Faults {
  #pending: Array<Fault & { seen: number }> = [];
  /** Writes seen so far (every kind, every map). */
  writes = 0;

  add(f: Fault): this {
    this.#pending.push({ ...f, seen: 0 });
    return this;
  }

  clear(): void {
    this.#pending = [];
  }

  /** Called before each element written; throws when a fault is due (once). */
  check(map: string, op: 'update' | 'delete', insert: boolean, opName: string): void {
    this.writes++;
    for (const f of this.#pending) {
      const kind = f.kind ?? 'write';
      if (f.map && f.map !== map) continue;
      if (kind !== 'write' && kind !== op && !(kind === 'insert' && insert)) continue;
      if (++f.seen === f.at) {
        this.#pending = this.#pending.filter((p) => p !== f);
        throw new LibbpfError(`${map}: ${opName}`, f.errno);
      }
    }
  }
}

/** Entries per step of FakeMap.scanSteps(). */
export const FAKE_SCAN_STEP = 1000;

export class FakeMap implements BpfMap {
  readonly name: string;
  readonly kind: MapKind;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly faults: Faults;
  /** hex key -> value, in insertion order (LRU maps evict the oldest). */
  readonly #data = new Map<string, Buffer>();

  constructor(o: { name: string; kind: MapKind; keySize: number; valueSize: number; maxEntries: number; faults?: Faults }) {
    this.name = o.name;
    this.kind = o.kind;
    this.keySize = o.keySize;
    this.valueSize = o.valueSize;
    this.maxEntries = o.maxEntries;
    this.faults = o.faults ?? new Faults();
  }

  #isArray(): boolean {
    return this.kind === 'array' || this.kind === 'percpu_array';
  }

  #key(key: Buffer, op: string): string {
    if (key.length < this.keySize) throw new LibbpfError(`${this.name}: ${op}`, EINVAL);
    return key.subarray(0, this.keySize).toString('hex');
  }

  /** Array index of a key, or -1 past the end. */
  #index(key: Buffer): number {
    const i = key.readUInt32LE(0);
    return i < this.maxEntries ? i : -1;
  }

  lookup(key: Buffer): Buffer | undefined {
    if (this.#isArray()) {
      if (this.#index(key) < 0) return undefined;
      return Buffer.from(this.#data.get(this.#key(key, 'map lookup')) ?? Buffer.alloc(this.valueSize));
    }
    const v = this.#data.get(this.#key(key, 'map lookup'));
    return v && Buffer.from(v);
  }

  update(key: Buffer, value: Buffer, flags: UpdateFlag = BPF_ANY): void {
    this.#update(key, value, flags, 'map update');
  }

  #update(key: Buffer, value: Buffer, flags: UpdateFlag, op: string): void {
    const k = this.#key(key, op);
    if (value.length < this.valueSize) throw new LibbpfError(`${this.name}: ${op}`, EINVAL);
    const present = this.#isArray() ? this.#index(key) >= 0 : this.#data.has(k);
    this.faults.check(this.name, 'update', !present, op);
    if (this.#isArray() && !present) throw new LibbpfError(`${this.name}: ${op}`, E2BIG);
    if (flags === BPF_NOEXIST && present) throw new LibbpfError(`${this.name}: ${op}`, EEXIST);
    if (flags === BPF_EXIST && !present) throw new LibbpfError(`${this.name}: ${op}`, ENOENT);
    if (!present && this.#data.size >= this.maxEntries) {
      if (this.kind !== 'lru_hash') throw new LibbpfError(`${this.name}: ${op}`, E2BIG);
      this.#data.delete(this.#data.keys().next().value!);
    }
    this.#data.set(k, Buffer.from(value.subarray(0, this.valueSize)));
  }

  delete(key: Buffer): boolean {
    return this.#delete(key, 'map delete');
  }

  #delete(key: Buffer, op: string): boolean {
    const k = this.#key(key, op);
    this.faults.check(this.name, 'delete', false, op);
    if (this.#isArray()) throw new LibbpfError(`${this.name}: ${op}`, EINVAL);
    return this.#data.delete(k);
  }

  updateBatch(keys: Buffer, values: Buffer, count: number): void {
    for (let i = 0; i < count; i++) {
      this.#update(keys.subarray(i * this.keySize, (i + 1) * this.keySize),
        values.subarray(i * this.valueSize, (i + 1) * this.valueSize), BPF_ANY, 'map update batch');
    }
  }

  deleteBatch(keys: Buffer, count: number): void {
    for (let i = 0; i < count; i++) this.#delete(keys.subarray(i * this.keySize, (i + 1) * this.keySize), 'map delete batch');
  }

  lookupRange(first: number, count: number, values: Buffer): void {
    if (this.kind !== 'array') throw new Error(`${this.name}: lookupRange reads array maps only`);
    if (first < 0 || first + count > this.maxEntries) throw new RangeError(`${this.name}: keys ${first}..${first + count - 1} are outside its ${this.maxEntries}`);
    const key = Buffer.alloc(4);
    for (let i = 0; i < count; i++) {
      key.writeUInt32LE(first + i);
      this.lookup(key)!.copy(values, i * this.valueSize);
    }
  }

  entries(): MapEntry[] {
    if (this.#isArray()) {
      return Array.from({ length: this.maxEntries }, (_, i) => {
        const key = Buffer.alloc(4);
        key.writeUInt32LE(i);
        return { key, value: this.lookup(key)! };
      });
    }
    return [...this.#data].map(([k, v]) => ({ key: Buffer.from(k, 'hex'), value: Buffer.from(v) }));
  }

  scan(visit: (key: Buffer, value: Buffer) => void): void {
    if (this.#isArray()) {
      const key = Buffer.alloc(4);
      for (let i = 0; i < this.maxEntries; i++) { key.writeUInt32LE(i); visit(key, this.lookup(key)!); }
      return;
    }
    for (const [k, v] of [...this.#data]) visit(Buffer.from(k, 'hex'), v);
  }

  /** scan() in steps of FAKE_SCAN_STEP entries (as the kernel's batches), over the entries at the start. */
  *scanSteps(visit: (key: Buffer, value: Buffer) => void): Generator<void> {
    const entries: Array<[Buffer, Buffer]> = [];
    this.scan((k, v) => entries.push([Buffer.from(k), Buffer.from(v)]));
    for (let i = 0; i < entries.length; i++) {
      visit(entries[i]![0], entries[i]![1]);
      if ((i + 1) % FAKE_SCAN_STEP === 0) yield;
    }
  }

  count(): number {
    return this.#isArray() ? this.maxEntries : this.#data.size;
  }
}

/**
 * The backend id of each slot of the run at word `base` with table size `size` in `view` (a
 * memoryRegion's words): the layout-2 table of ids that the run of indexes stands for, for tests.
 */
export function maglevIds(view: Uint32Array, base: number, size: number): Uint32Array {
  const run = view.subarray(base, base + maglevRunWords(size, 0) + 65536);
  return Uint32Array.from({ length: size }, (_, slot) => maglevRunLookup(run, size, slot));
}

/** Plain memory standing in for the mmapped Maglev array, in 4-byte words; `view` is all of it, for tests. */
export function memoryRegion(words: number): U32Region & { view: Uint32Array } {
  const slots = words;
  const view = new Uint32Array(slots);
  return {
    slots, view,
    write: (base, values) => {
      if (base < 0 || base + values.length > slots) throw new RangeError(`slots ${base}..${base + values.length} are outside the region's ${slots}`);
      view.set(values, base);
    },
    release: () => undefined, close: () => undefined,
  };
}

/** A full set of fake datapath maps sharing one Faults, sized like Datapath.open would size them. */
export function fakeMaps(sizes: MapSizes, cpus = 2, faults = new Faults()): DatapathMaps & { faults: Faults; maps: Record<L.MapName, FakeMap>; maglev: { view: Uint32Array } } {
  const entries: Record<L.MapName, number> = {
    sl_services: sizes.services, sl_backends: sizes.backends, sl_maglev: Math.ceil(sizes.maglev / L.SL_MAGLEV_CHUNK),
    sl_ct: sizes.ct, sl_affinity: sizes.affinity, sl_svc_stats: sizes.services, sl_counters: L.COUNTER_NAMES.length, sl_config: 1, sl_meta: 1,
    sl_src_ranges: sizes.services, sl_drops: L.DROP_NAMES.length,
    sl_sock_config: 1, sl_sock_rev: sizes.sockRev ?? L.SL_MAX_SOCK_REV, sl_sock_stats: sizes.services,
    sl_frags: L.SL_MAX_FRAGS,
    sl_addr_filter: 2 * L.SL_ADDR_FILTER_WORDS,
    sl_services6: sizes.services, sl_backends6: sizes.backends, sl_ct6: sizes.ct6 ?? L.SL_MAX_CT6, sl_src_ranges6: sizes.services,
    sl_config6: 1, sl_frags6: L.SL_MAX_FRAGS, sl_sock_rev6: sizes.sockRev ?? L.SL_MAX_SOCK_REV,
  };
  const maps = Object.fromEntries(L.MAP_NAMES.map((name) => {
    const s = MAP_SHAPES[name];
    const valueSize = s.kind === 'percpu_array' ? perCpuValueSize(s.valueSize, cpus) : s.valueSize;
    return [name, new FakeMap({ name, kind: s.kind, keySize: s.keySize, valueSize, maxEntries: entries[name], faults })];
  })) as Record<L.MapName, FakeMap>;
  return { maps, maglev: memoryRegion(Math.floor(sizes.maglev / 2)), cpus, faults };
}
