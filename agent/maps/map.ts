// The one interface every pinned map is used through: the datapath programmer, the conntrack GC
// and the CLI's readers see a BpfMap, never an fd. Two implementations: libbpf-map.ts (the kernel's
// maps) and fake-map.ts (memory, with injectable faults, for unit tests). Failures are LibbpfError
// (errno plus the operation) from both.
import * as L from '../bpf/layout.ts';

/** bpf_map_update_elem flags. */
export const BPF_ANY = 0;
/** Create only: EEXIST when the key is present. */
export const BPF_NOEXIST = 1;
/** Replace only: ENOENT when the key is absent. */
export const BPF_EXIST = 2;
export type UpdateFlag = typeof BPF_ANY | typeof BPF_NOEXIST | typeof BPF_EXIST;

export type MapKind = 'hash' | 'lru_hash' | 'array' | 'percpu_array' | 'lpm_trie';

export interface MapEntry { key: Buffer; value: Buffer }

export interface BpfMap {
  readonly name: string;
  readonly kind: MapKind;
  readonly keySize: number;
  /** Bytes of one value as lookup returns it: per-CPU maps hold one 8-aligned slot per CPU. */
  readonly valueSize: number;
  readonly maxEntries: number;
  /** The value, or undefined when the key is absent. */
  lookup(key: Buffer): Buffer | undefined;
  update(key: Buffer, value: Buffer, flags?: UpdateFlag): void;
  /** Returns false when the key was already absent. */
  delete(key: Buffer): boolean;
  /** `count` keys and values packed back to back; may have written a prefix when it throws. */
  updateBatch(keys: Buffer, values: Buffer, count: number): void;
  /** Keys already absent are fine; may have deleted a prefix when it throws. */
  deleteBatch(keys: Buffer, count: number): void;
  /** Array maps: the values of keys `first` .. `first + count - 1`, packed into `values` (one lookup_batch, not a lookup each). */
  lookupRange(first: number, count: number, values: Buffer): void;
  /** A snapshot of every entry, in the map's iteration order. */
  entries(): MapEntry[];
  /**
   * Every entry, in the map's iteration order, without a snapshot: `visit` gets views into one
   * reused buffer, valid only during the call (copy what you keep). For large maps (conntrack), where
   * entries() would allocate two Buffers per entry.
   */
  scan(visit: (key: Buffer, value: Buffer) => void): void;
  /** scan() in steps: each step of the iterator visits one batch of entries (agent/gc.ts pauses between them). */
  scanSteps(visit: (key: Buffer, value: Buffer) => void): Iterable<void>;
  /** Number of entries (array maps: max_entries). */
  count(): number;
}

/**
 * The mmapped Maglev array (sl_maglev) as 4-byte words, the unit runs are allocated and addressed
 * in (a word holds two u16 table slots or one backend id): a real mapping or plain memory. Only the
 * slots being written are mapped, and only until release(): the kernel's pages are the BPF map's
 * memory (counted there), not the agent's, so they are not kept in its address space.
 */
export interface U32Region {
  readonly slots: number;
  /** Copy `values` into words [base, base + values.length). */
  write(base: number, values: Uint32Array): void;
  /** Drop what write() mapped. */
  release(): void;
  close(): void;
}

/** Entries of the resizable maps (sl_maglev: u16 slots, not elements); sockRev: sl_sock_rev (default SL_MAX_SOCK_REV). */
export type MapSizes = { services: number; backends: number; maglev: number; ct: number; affinity: number; sockRev?: number; ct6?: number };

/** Everything the datapath programmer writes to: every pinned map, the Maglev slots, the CPU count. */
export interface DatapathMaps {
  maps: Record<L.MapName, BpfMap>;
  maglev: U32Region;
  /** Possible CPUs: the number of slots of per-CPU values. */
  cpus: number;
}

export type MapReader = Pick<BpfMap, 'lookup' | 'entries' | 'count' | 'keySize' | 'valueSize' | 'maxEntries' | 'name'>;

/** Per-CPU maps store each CPU's value 8-byte aligned. */
export function perCpuValueSize(valueSize: number, cpus: number): number {
  return Math.ceil(valueSize / 8) * 8 * cpus;
}

export function u32Key(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/**
 * Entries collected for one batch operation, packed back to back as it takes them: the caller
 * encodes each key and value in place at keyAt()/valueAt() (no Buffer per entry). Grows by doubling.
 */
const EMPTY = Buffer.alloc(0);

export class PackedEntries {
  readonly keySize: number;
  readonly valueSize: number;
  keys: Buffer = EMPTY;
  values: Buffer = EMPTY;
  count = 0;
  readonly #capacity: number;

  /** Nothing is allocated until the first add(): a change collects eight of these and most stay empty. */
  constructor(keySize: number, valueSize: number, capacity = 64) {
    this.keySize = keySize;
    this.valueSize = valueSize;
    this.#capacity = capacity;
  }

  /** Room for one more entry; returns its index. */
  add(): number {
    if ((this.count + 1) * this.keySize > this.keys.length) {
      const n = Math.max(this.#capacity, 2 * this.count);
      const keys = Buffer.alloc(this.keySize * n), values = Buffer.alloc(this.valueSize * n);
      this.keys.copy(keys);
      this.values.copy(values);
      this.keys = keys;
      this.values = values;
    }
    return this.count++;
  }

  keyAt(i: number): number {
    return i * this.keySize;
  }

  valueAt(i: number): number {
    return i * this.valueSize;
  }
}

/** Keys and values packed back to back, as the batch operations take them. */
export function packed(items: Buffer[], size: number): Buffer {
  const out = Buffer.alloc(items.length * size);
  items.forEach((b, i) => b.copy(out, i * size));
  return out;
}

/** Sizes and kinds of the maps in bpf/lib/maps.h; entries of the resizable ones come from MapSizes. */
export const MAP_SHAPES: Record<L.MapName, { kind: MapKind; keySize: number; valueSize: number }> = {
  sl_services: { kind: 'hash', keySize: L.svcKey.size, valueSize: L.svcValue.size },
  sl_backends: { kind: 'hash', keySize: 4, valueSize: L.backend.size },
  sl_maglev: { kind: 'array', keySize: 4, valueSize: L.maglevChunk.size },
  sl_ct: { kind: 'lru_hash', keySize: L.ctKey.size, valueSize: L.ctEntry.size },
  sl_affinity: { kind: 'lru_hash', keySize: L.affKey.size, valueSize: L.affValue.size },
  sl_svc_stats: { kind: 'percpu_array', keySize: 4, valueSize: L.svcStats.size },
  sl_counters: { kind: 'percpu_array', keySize: 4, valueSize: 8 },
  sl_config: { kind: 'array', keySize: 4, valueSize: L.config.size },
  sl_meta: { kind: 'array', keySize: 4, valueSize: L.meta.size },
  sl_src_ranges: { kind: 'lpm_trie', keySize: L.srcRangeKey.size, valueSize: 1 },
  sl_drops: { kind: 'percpu_array', keySize: 4, valueSize: 8 },
  sl_sock_config: { kind: 'array', keySize: 4, valueSize: L.sockConfig.size },
  sl_sock_rev: { kind: 'lru_hash', keySize: L.sockRevKey.size, valueSize: L.sockRevValue.size },
  sl_sock_stats: { kind: 'percpu_array', keySize: 4, valueSize: L.sockStats.size },
  sl_frags: { kind: 'lru_hash', keySize: L.fragKey.size, valueSize: L.fragPorts.size },
  sl_addr_filter: { kind: 'array', keySize: 4, valueSize: 8 },
  sl_services6: { kind: 'hash', keySize: L.svc6Key.size, valueSize: L.svcValue.size },
  sl_backends6: { kind: 'hash', keySize: 4, valueSize: L.backend6.size },
  sl_ct6: { kind: 'lru_hash', keySize: L.ct6Key.size, valueSize: L.ct6Entry.size },
  sl_src_ranges6: { kind: 'lpm_trie', keySize: L.srcRange6Key.size, valueSize: 1 },
  sl_config6: { kind: 'array', keySize: 4, valueSize: L.config6.size },
  sl_frags6: { kind: 'lru_hash', keySize: L.frag6Key.size, valueSize: L.fragPorts.size },
  sl_sock_rev6: { kind: 'lru_hash', keySize: L.sockRev6Key.size, valueSize: L.sockRev6Value.size },
};

/** Encodes and decodes one key or value; layout.ts's StructCodecs are Codecs. */
export interface Codec<T> {
  readonly size: number;
  encode(value: NoInfer<T>, buf?: Buffer, base?: number): Buffer;
  decode(buf: Buffer, base?: number): T;
}

/** A u32 key (array index, backend id). */
export const u32: Codec<number> = {
  size: 4,
  encode: (n, buf = Buffer.alloc(4), base = 0) => { buf.writeUInt32LE(n >>> 0, base); return buf; },
  decode: (buf, base = 0) => buf.readUInt32LE(base),
};

/** A BpfMap seen through the codecs of its key and value structs. */
export class TypedMap<K, V> {
  readonly raw: BpfMap;
  readonly key: Codec<K>;
  readonly value: Codec<V>;

  constructor(raw: BpfMap, key: Codec<K>, value: Codec<V>) {
    this.raw = raw;
    this.key = key;
    this.value = value;
  }

  get(k: K): V | undefined {
    const v = this.raw.lookup(this.key.encode(k));
    return v && this.value.decode(v);
  }

  set(k: K, v: V, flags: UpdateFlag = BPF_ANY): void {
    this.raw.update(this.key.encode(k), this.value.encode(v), flags);
  }

  delete(k: K): boolean {
    return this.raw.delete(this.key.encode(k));
  }

  entries(): Array<{ key: K; value: V; rawKey: Buffer }> {
    return this.raw.entries().map((e) => ({ key: this.key.decode(e.key), value: this.value.decode(e.value), rawKey: e.key }));
  }
}

/** The typed views of the maps the agent and the CLI decode. */
export function typedMaps(map: (name: L.MapName) => BpfMap) {
  return {
    services: new TypedMap(map('sl_services'), L.svcKey, L.svcValue),
    backends: new TypedMap(map('sl_backends'), u32, L.backend),
    ct: new TypedMap(map('sl_ct'), L.ctKey, L.ctEntry),
    affinity: new TypedMap(map('sl_affinity'), L.affKey, L.affValue),
    config: new TypedMap(map('sl_config'), u32, L.config),
  };
}

/** The typed views of the IPv6 twins (opened apart: pins of an agent from before IPv6 lack them). */
export function typedMaps6(map: (name: L.MapName) => BpfMap) {
  return {
    services: new TypedMap(map('sl_services6'), L.svc6Key, L.svcValue),
    backends: new TypedMap(map('sl_backends6'), u32, L.backend6),
    ct: new TypedMap(map('sl_ct6'), L.ct6Key, L.ct6Entry),
    config: new TypedMap(map('sl_config6'), u32, L.config6),
  };
}

/** Per-CPU u64-field structs summed over CPUs (svc stats, counters). */
export function sumPerCpu<T extends Record<string, bigint>>(value: Buffer | undefined, codec: Codec<T>, cpus: number, zero: T): T {
  const sum = { ...zero };
  if (!value) return sum;
  const stride = Math.ceil(codec.size / 8) * 8;
  for (let c = 0; c < cpus; c++) {
    const v = codec.decode(value, c * stride);
    for (const k of Object.keys(sum) as Array<keyof T>) sum[k] = ((sum[k] as bigint) + (v[k] as bigint)) as T[keyof T];
  }
  return sum;
}
