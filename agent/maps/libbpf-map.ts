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
 * Words a change writes with bpf() array updates before it maps a window instead. One service's
 * change (a run of ~500 words at 10 endpoints) costs two or three bpf() calls this way, where a
 * window costs an mmap, a page fault and a munmap whose TLB flush reaches every CPU (~0.2 ms on
 * a 2-CPU VM, measured with bench/programming.ts --changes); a snapshot's thousands of runs are
 * copied through windows, one mmap per 1 MiB.
 */
const SYSCALL_WORDS = 8192;

/**
 * The sl_maglev array as `slots` 4-byte words (each two u16 table slots or one backend id of a
 * run, bpf/sluice_maps.h sl_maglev_chunk), shared with the kernel. A change's first few runs are
 * written with bpf() updates of the array elements they cover; past SYSCALL_WORDS words it maps a
 * window at a time (mmap), unmapped by release(), so the agent's resident memory holds none of the
 * table between changes (a mapping of the whole array would count all of it, 21 MiB at 10,000
 * services of 10 endpoints, in the agent's RSS besides the map's own). Writes are copies into the
 * mapping (memcpy): no JavaScript view of it is ever made, so nothing can touch it once unmapped.
 */
export function mmapRegion(map: LibbpfMap, slots: number, syscallWords = SYSCALL_WORDS): U32Region {
  const page = bpf.PAGE_SIZE, slotsPerPage = page / 4;
  const pages = Math.ceil((slots * 4) / page);
  const elemWords = map.valueSize / 4;
  let cur: { first: number; end: number; m: bpf.MappedWindow } | undefined;
  let viaSyscalls = 0;
  const release = () => { cur?.m.unmap(); cur = undefined; viaSyscalls = 0; };
  /** Words [base, base + len) as whole array elements: the partly covered first and last are read first. */
  const update = (base: number, values: Uint32Array) => {
    const len = values.length;
    const first = Math.floor(base / elemWords), last = Math.floor((base + len - 1) / elemWords);
    const n = last - first + 1;
    const buf = Buffer.alloc(n * map.valueSize);
    const keys = Buffer.alloc(n * 4);
    for (let i = 0; i < n; i++) keys.writeUInt32LE(first + i, i * 4);
    if (base % elemWords) map.lookup(keys.subarray(0, 4))!.copy(buf, 0);
    if ((base + len) % elemWords && (n > 1 || base % elemWords === 0)) map.lookup(keys.subarray((n - 1) * 4))!.copy(buf, (n - 1) * map.valueSize);
    buf.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), (base - first * elemWords) * 4);
    map.updateBatch(keys, buf, n);
  };
  return {
    slots,
    write(base, values) {
      const len = values.length;
      if (base < 0 || base + len > slots) throw new RangeError(`sl_maglev: slots ${base}..${base + len} are outside its ${slots}`);
      if (!len) return;
      if (!cur && viaSyscalls + len <= syscallWords) {
        viaSyscalls += len;
        update(base, values);
        return;
      }
      if (!cur || base < cur.first * slotsPerPage || base + len > cur.end * slotsPerPage) {
        cur?.m.unmap();
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
