// The backends of one programmed frontend, compact: one Buffer of fixed-size records sorted by
// address and port (the key order), instead of a Map of an object and an "ip:port" string per
// backend. At 10,000 services x 10 endpoints the agent's view of what is programmed held 100,000
// of each (~150 bytes a backend); a record is 12 bytes (IPv4) or 24 (IPv6). Read as a
// ReadonlyMap<"ip:port", ProgrammedBackend> (objects made on demand, for people and tests); the
// datapath's diff walks the records (BackendTable.diff) without making any.
import * as L from './bpf/layout.ts';
import type { Family } from '../common/ip.ts';

/** A backend as wanted (agent/frontend.ts' Frontend holds a list of them). */
export interface Backend {
  ip: string;
  port: number;
  terminating?: boolean;
  /** Runs on this node (north-south sends it without source NAT). */
  local?: boolean;
}

/** A backend as programmed: with its id in sl_backends. */
export interface ProgrammedBackend extends Required<Backend> {
  id: number;
}

/** Record: address (4 or 16 bytes, network order), port (u16 big-endian), flags (SL_BE_F_*), pad, id (u32). */
const strideOf = (family: Family) => (family === 4 ? 12 : 24);
const keyLenOf = (family: Family) => (family === 4 ? 6 : 18);

/** Flags of @b as sl_backends holds them. */
export function backendFlags(b: { terminating?: boolean; local?: boolean }): number {
  return (b.terminating ? L.SL_BE_F_TERMINATING : 0) | (b.local ? L.SL_BE_F_LOCAL : 0);
}

/** A wanted backend set: the table (ids 0 until the datapath gives them) and where each input went. */
export interface WantedBackends {
  table: BackendTable;
  /** pos[i]: the record of input i (duplicates of an address and port share one, with the last one's flags). */
  pos: Int32Array;
}

/** What changes from one table to the next (BackendTable.diff). */
export interface BackendDiff {
  /** Records of the next table not in the current one; of the current one not in the next. */
  added: number;
  removed: number;
  /** Records in both whose flags differ. */
  flagsChanged: number;
}

export class BackendTable implements ReadonlyMap<string, ProgrammedBackend> {
  static readonly EMPTY4 = new BackendTable(4, 0, Buffer.alloc(0));
  static readonly EMPTY6 = new BackendTable(6, 0, Buffer.alloc(0));

  readonly family: Family;
  readonly size: number;
  /** The records, sorted by their key bytes (address, then port). */
  readonly records: Buffer;

  private constructor(family: Family, size: number, records: Buffer) {
    this.family = family;
    this.size = size;
    this.records = records;
  }

  /**
   * The table of @list (each address of @family; checked by the caller), sorted and without
   * duplicates: a later duplicate's flags (and id, if given) win, as a Map's set would.
   */
  static wanted(family: Family, list: ReadonlyArray<Backend & { id?: number }>): WantedBackends {
    const n = list.length, stride = strideOf(family);
    const pos = new Int32Array(n);
    if (!n) return { table: family === 4 ? BackendTable.EMPTY4 : BackendTable.EMPTY6, pos };
    const tmp = scratch(n * stride);
    for (let i = 0; i < n; i++) writeRecord(tmp, i * stride, family, list[i]!, list[i]!.id ?? 0);
    const order = sortedOrder(tmp, n, family);
    // Runs of equal keys (in input order within a run: the sort is stable) become one record. The
    // unsorted records are in a reused scratch buffer, so the tables made one after another fill
    // Buffer's pool slabs with nothing else between them.
    const out = Buffer.allocUnsafe(n * stride);
    const klen = keyLenOf(family);
    let m = -1;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      if (m < 0 || cmpKey(tmp, i * stride, out, m * stride, klen) !== 0) m++;
      for (let b = 0; b < stride; b++) out[m * stride + b] = tmp[i * stride + b]!;
      pos[i] = m;
    }
    const size = m + 1;
    return { table: new BackendTable(family, size, size === n ? out : Buffer.from(out.subarray(0, size * stride))), pos };
  }

  /** Backend ids, in key order. */
  ids(): Uint32Array {
    const out = new Uint32Array(this.size), s = strideOf(this.family), o = s - 4;
    for (let r = 0; r < this.size; r++) out[r] = this.records.readUInt32LE(r * s + o);
    return out;
  }

  idAt(r: number): number {
    const s = strideOf(this.family);
    return this.records.readUInt32LE(r * s + s - 4);
  }

  /** Only while the datapath builds a table (before it is published in its view). */
  setIdAt(r: number, id: number): void {
    const s = strideOf(this.family);
    this.records.writeUInt32LE(id, r * s + s - 4);
  }

  flagsAt(r: number): number {
    return this.records[r * strideOf(this.family) + keyLenOf(this.family)]!;
  }

  ipAt(r: number): string {
    const off = r * strideOf(this.family);
    if (this.family === 6) return L.ip6Text(this.records, off);
    const b = this.records;
    return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  }

  portAt(r: number): number {
    return this.records.readUInt16BE(r * strideOf(this.family) + keyLenOf(this.family) - 2);
  }

  /** The record with the key of @b, or -1. */
  indexOf(b: { ip: string; port: number }): number {
    const s = strideOf(this.family), klen = keyLenOf(this.family);
    const key = Buffer.allocUnsafe(s);
    try { writeRecord(key, 0, this.family, b, 0); } catch { return -1; }
    let lo = 0, hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1, c = cmpKey(this.records, mid * s, key, 0, klen);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Walks @cur (may be undefined: nothing programmed) against @next, both sorted: gives every
   * record of `next` also in `cur` cur's id, marks in @state what each `next` record is (0 new,
   * 1 same, 2 flags changed), calls @gone with the id and record of each `cur` record not in `next`.
   */
  static diff(cur: BackendTable | undefined, next: BackendTable, state?: Uint8Array, gone?: (id: number, record: number) => void): BackendDiff {
    const d: BackendDiff = { added: 0, removed: 0, flagsChanged: 0 };
    if (!cur || !cur.size) {
      d.added = next.size;
      if (state) state.fill(0, 0, next.size);
      return d;
    }
    if (cur.family !== next.family) throw new Error('backend tables of different families');
    const s = strideOf(next.family), klen = keyLenOf(next.family), a = cur.records, b = next.records;
    let i = 0, j = 0;
    while (i < cur.size || j < next.size) {
      const c = i >= cur.size ? 1 : j >= next.size ? -1 : cmpKey(a, i * s, b, j * s, klen);
      if (c < 0) { d.removed++; gone?.(a.readUInt32LE(i * s + s - 4), i); i++; continue; }
      if (c > 0) { d.added++; if (state) state[j] = 0; j++; continue; }
      const same = a[i * s + klen] === b[j * s + klen];
      if (!same) d.flagsChanged++;
      if (state) { state[j] = same ? 1 : 2; b.writeUInt32LE(a.readUInt32LE(i * s + s - 4), j * s + s - 4); }
      i++; j++;
    }
    return d;
  }

  /**
   * Record @r as sl_backends (sl_backends6, by the table's family) holds it, with @proto (IPPROTO_*)
   * and @svcId, into @out at @off: what the datapath writes for it, without parsing its address again.
   */
  writeValue(r: number, proto: number, svcId: number, out: Buffer, off: number): void {
    const s = strideOf(this.family), k = keyLenOf(this.family), v = this.family === 4 ? VALUE4 : VALUE6, src = r * s;
    const rec = this.records;
    for (let i = 0; i < k - 2; i++) out[off + v.ip + i] = rec[src + i]!;
    out.writeUInt16LE(this.records.readUInt16BE(src + k - 2), off + v.port);
    out[off + v.proto] = proto;
    out[off + v.flags] = this.records[src + k]!;
    out.writeUInt32LE(svcId >>> 0, off + v.svcId);
  }

  get(key: string): ProgrammedBackend | undefined {
    const at = key.lastIndexOf(':');
    const r = at < 0 ? -1 : this.indexOf({ ip: key.slice(0, at), port: Number(key.slice(at + 1)) });
    return r < 0 ? undefined : this.#backend(r);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  *keys(): MapIterator<string> {
    for (let r = 0; r < this.size; r++) yield `${this.ipAt(r)}:${this.portAt(r)}`;
  }

  *values(): MapIterator<ProgrammedBackend> {
    for (let r = 0; r < this.size; r++) yield this.#backend(r);
  }

  *entries(): MapIterator<[string, ProgrammedBackend]> {
    for (let r = 0; r < this.size; r++) { const b = this.#backend(r); yield [`${b.ip}:${b.port}`, b]; }
  }

  [Symbol.iterator](): MapIterator<[string, ProgrammedBackend]> {
    return this.entries();
  }

  forEach(fn: (value: ProgrammedBackend, key: string, map: ReadonlyMap<string, ProgrammedBackend>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }

  #backend(r: number): ProgrammedBackend {
    const f = this.flagsAt(r);
    return { id: this.idAt(r), ip: this.ipAt(r), port: this.portAt(r), terminating: !!(f & L.SL_BE_F_TERMINATING), local: !!(f & L.SL_BE_F_LOCAL) };
  }
}

/** Field offsets of struct sl_backend and sl_backend6 (agent/bpf/layout.ts). */
function valueOffsets(c: typeof L.backend | typeof L.backend6) {
  const at = (name: string) => c.fields.find((f) => f.name === name)!.offset;
  return { ip: at('ip'), port: at('port'), proto: at('proto'), flags: at('flags'), svcId: at('svc_id') };
}
const VALUE4 = valueOffsets(L.backend), VALUE6 = valueOffsets(L.backend6);

let scratchBuf = Buffer.allocUnsafeSlow(4096);

/** A reused buffer of at least @n bytes (the unsorted records of the table being built). */
function scratch(n: number): Buffer {
  if (scratchBuf.length < n) scratchBuf = Buffer.allocUnsafeSlow(Math.max(n, 2 * scratchBuf.length));
  return scratchBuf;
}

function writeRecord(buf: Buffer, off: number, family: Family, b: Backend, id: number): void {
  if (family === 4) L.writeIp(b.ip, buf, off); else L.writeIp6(b.ip, buf, off);
  const k = keyLenOf(family);
  buf.writeUInt16BE(b.port, off + k - 2);
  buf[off + k] = backendFlags(b);
  buf[off + k + 1] = 0;
  buf.writeUInt32LE(id, off + k + 2);
}

/** Compares @n key bytes of @a at @ao with @b at @bo (a JavaScript loop: a few bytes, no native call). */
function cmpKey(a: Buffer, ao: number, b: Buffer, bo: number, n: number): number {
  for (let k = 0; k < n; k++) {
    const d = a[ao + k]! - b[bo + k]!;
    if (d) return d;
  }
  return 0;
}

/** Record indices of @buf in key order, equal keys in input order. */
function sortedOrder(buf: Buffer, n: number, family: Family): Int32Array {
  const s = strideOf(family), klen = keyLenOf(family);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (n <= 32) {
    // Insertion sort: a service's few backends, stable.
    for (let i = 1; i < n; i++) {
      const x = order[i]!;
      let j = i;
      while (j > 0 && cmpKey(buf, order[j - 1]! * s, buf, x * s, klen) > 0) { order[j] = order[j - 1]!; j--; }
      order[j] = x;
    }
    return order;
  }
  return Int32Array.from([...order].sort((x, y) => cmpKey(buf, x * s, buf, y * s, klen) || x - y));
}
