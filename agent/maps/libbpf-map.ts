// BpfMap over a kernel map's fd, through agent/bpf/libbpf.ts (the only FFI module). Errors are
// LibbpfError with the map's name in the operation.
import path from 'node:path';
import * as bpf from '../bpf/libbpf.ts';
import * as L from '../bpf/layout.ts';
import { BPF_ANY, perCpuValueSize, type BpfMap, type DatapathMaps, type MapEntry, type MapKind, type U32Region, type UpdateFlag } from './map.ts';

// enum bpf_map_type
const KINDS: Record<number, MapKind> = { 1: 'hash', 2: 'array', 6: 'percpu_array', 9: 'lru_hash', 11: 'lpm_trie' };

export class LibbpfMap implements BpfMap {
  readonly name: string;
  readonly kind: MapKind;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly fd: number;
  readonly #owned: boolean;

  /** `owned`: close() closes the fd (maps opened from a pin); otherwise the BPF object owns it. */
  constructor(name: string, fd: number, cpus: number, owned = false) {
    const info = bpf.mapInfo(fd);
    const kind = KINDS[info.type];
    if (!kind) throw new Error(`map ${name}: type ${info.type} is not one Sluice uses`);
    this.name = name;
    this.fd = fd;
    this.kind = kind;
    this.keySize = info.keySize;
    this.valueSize = kind === 'percpu_array' ? perCpuValueSize(info.valueSize, cpus) : info.valueSize;
    this.maxEntries = info.maxEntries;
    this.#owned = owned;
  }

  /** Open a pinned map by path. */
  static openPinned(pin: string, cpus = bpf.numPossibleCpus()): LibbpfMap {
    const fd = bpf.objGet(pin);
    try {
      return new LibbpfMap(path.basename(pin), fd, cpus, true);
    } catch (e) {
      bpf.closeFd(fd);
      throw e;
    }
  }

  #named<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof bpf.LibbpfError) throw new bpf.LibbpfError(`${this.name}: ${e.op}`, e.errno, e.libbpfLog);
      throw e;
    }
  }

  lookup(key: Buffer): Buffer | undefined {
    const value = Buffer.alloc(this.valueSize);
    return this.#named(() => bpf.mapLookup(this.fd, key, value)) ? value : undefined;
  }

  update(key: Buffer, value: Buffer, flags: UpdateFlag = BPF_ANY): void {
    this.#named(() => bpf.mapUpdate(this.fd, key, value, BigInt(flags)));
  }

  delete(key: Buffer): boolean {
    return this.#named(() => bpf.mapDelete(this.fd, key));
  }

  updateBatch(keys: Buffer, values: Buffer, count: number): void {
    if (count) this.#named(() => bpf.mapUpdateBatch(this.fd, keys, values, count));
  }

  deleteBatch(keys: Buffer, count: number): void {
    if (count) this.#named(() => bpf.mapDeleteBatch(this.fd, keys, count));
  }

  entries(): MapEntry[] {
    return this.#named(() => bpf.mapDump(this.fd, this.keySize, this.valueSize, 4096));
  }

  count(): number {
    if (this.kind === 'array' || this.kind === 'percpu_array') return this.maxEntries;
    return this.#named(() => bpf.mapCount(this.fd, this.keySize, this.valueSize));
  }

  close(): void {
    if (this.#owned) bpf.closeFd(this.fd);
  }
}

/** The mmapped sl_maglev array: `slots` u32s shared with the kernel. */
export function mmapRegion(map: LibbpfMap, slots: number): U32Region {
  const m = bpf.mmapArrayU32(map.fd, slots);
  return { view: m.view, close: () => m.unmap() };
}

/** The datapath's maps over the fds of a loaded object (which keeps owning the fds). */
export function libbpfMaps(fdOf: (name: L.MapName) => number, maglevSlots: number): DatapathMaps {
  const cpus = bpf.numPossibleCpus();
  const maps = Object.fromEntries(L.MAP_NAMES.map((m) => [m, new LibbpfMap(m, fdOf(m), cpus)])) as Record<L.MapName, LibbpfMap>;
  return { maps, maglev: mmapRegion(maps.sl_maglev, maglevSlots), cpus };
}
