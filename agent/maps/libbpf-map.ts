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

  lookupRange(first: number, count: number, values: Buffer): void {
    if (this.kind !== 'array') throw new Error(`${this.name}: lookupRange reads array maps only`);
    if (first < 0 || first + count > this.maxEntries) throw new RangeError(`${this.name}: keys ${first}..${first + count - 1} are outside its ${this.maxEntries}`);
    if (count) this.#named(() => bpf.mapLookupRange(this.fd, first, count, this.valueSize, values));
  }

  entries(): MapEntry[] {
    return this.#named(() => bpf.mapDump(this.fd, this.keySize, this.valueSize, 4096));
  }

  scan(visit: (key: Buffer, value: Buffer) => void): void {
    this.#named(() => bpf.mapScan(this.fd, this.keySize, this.valueSize, visit));
  }

  /** One lookup_batch of SCAN_STEP_ENTRIES per step (smaller than scan()'s: each step is a pause's worth of work). */
  *scanSteps(visit: (key: Buffer, value: Buffer) => void): Generator<void> {
    const steps = bpf.mapScanSteps(this.fd, this.keySize, this.valueSize, visit, SCAN_STEP_ENTRIES);
    for (;;) {
      const r = this.#named(() => steps.next());
      if (r.done) return;
      yield;
    }
  }

  count(): number {
    if (this.kind === 'array' || this.kind === 'percpu_array') return this.maxEntries;
    return this.#named(() => bpf.mapCount(this.fd, this.keySize, this.valueSize));
  }

  close(): void {
    if (this.#owned) bpf.closeFd(this.fd);
  }
}

/** Entries per batch of scanSteps(). */
const SCAN_STEP_ENTRIES = 1024;

/** Pages mapped at least at once by a window (fewer mmap calls when a change writes many runs). */
const WINDOW_PAGES = 256;

/**
 * The mmapped sl_maglev array as `slots` 4-byte words (each two u16 table slots or one backend id
 * of a run, bpf/sluice_maps.h sl_maglev_chunk) shared with the kernel, mapped a window at a time
 * while a change writes its runs and unmapped by release(), so the agent's resident memory holds
 * none of the table between changes (a mapping of the whole array would count all of it, 21 MiB at
 * 10,000 services of 10 endpoints, in the agent's RSS besides the map's own). Writes are copies into the
 * mapping (memcpy): no JavaScript view of it is ever made, so nothing can touch it once unmapped.
 */
export function mmapRegion(map: LibbpfMap, slots: number): U32Region {
  const page = bpf.PAGE_SIZE, slotsPerPage = page / 4;
  const pages = Math.ceil((slots * 4) / page);
  let cur: { first: number; end: number; m: bpf.MappedWindow } | undefined;
  const release = () => { cur?.m.unmap(); cur = undefined; };
  return {
    slots,
    write(base, values) {
      const len = values.length;
      if (base < 0 || base + len > slots) throw new RangeError(`sl_maglev: slots ${base}..${base + len} are outside its ${slots}`);
      if (!cur || base < cur.first * slotsPerPage || base + len > cur.end * slotsPerPage) {
        release();
        const first = Math.floor(base / slotsPerPage);
        const end = Math.min(pages, Math.max(Math.ceil((base + len) / slotsPerPage), first + WINDOW_PAGES));
        cur = { first, end, m: bpf.mmapWindow(map.fd, first, end - first) };
      }
      cur.m.write((base - cur.first * slotsPerPage) * 4, values);
    },
    release,
    close: release,
  };
}

/** The datapath's maps over the fds of a loaded object (which keeps owning the fds). */
export function libbpfMaps(fdOf: (name: L.MapName) => number, maglevWords: number): DatapathMaps {
  const cpus = bpf.numPossibleCpus();
  const maps = Object.fromEntries(L.MAP_NAMES.map((m) => [m, new LibbpfMap(m, fdOf(m), cpus)])) as Record<L.MapName, LibbpfMap>;
  return { maps, maglev: mmapRegion(maps.sl_maglev, maglevWords), cpus };
}
