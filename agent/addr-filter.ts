// The address filter (sl_addr_filter, bpf/lib/addr_filter.h): one bit per hashed address
// (IPv4, or IPv6 folded to 32 bits first: the same bitmaps serve both families) that may be a frontend's (set here, before the sl_services entry that needs it) or the source of
// a REPLY conntrack entry (set by the datapath, before it writes the entry). A clear bit lets a
// packet skip every conntrack and service lookup, so a missing bit would leave a flow untranslated:
// bits are only ever added. This module is the one place the agent computes or writes them.
import os from 'node:os';
import * as L from './bpf/layout.ts';
import { ipBytes } from '../common/ip.ts';
import { PackedEntries, u32Key, type BpfMap } from './maps/map.ts';
import type { MapTransaction } from './maps/transaction.ts';

export type AddrKind = typeof L.SL_ADDR_FRONTEND | typeof L.SL_ADDR_REPLY_SRC;

const LE = os.endianness() === 'LE';
const SVC_VIP_OFFSET = L.svcKey.fields.find((f) => f.name === 'vip')!.offset;
const CT_SADDR = L.ctKey.fields.find((f) => f.name === 'saddr')!.offset;
const CT_DADDR = L.ctKey.fields.find((f) => f.name === 'daddr')!.offset;
const CT_DIR = L.ctKey.fields.find((f) => f.name === 'dir')!.offset;
const SVC6_VIP_OFFSET = L.svc6Key.fields.find((f) => f.name === 'vip')!.offset;
const CT6_SADDR = L.ct6Key.fields.find((f) => f.name === 'saddr')!.offset;
const CT6_DADDR = L.ct6Key.fields.find((f) => f.name === 'daddr')!.offset;
const CT6_DIR = L.ct6Key.fields.find((f) => f.name === 'dir')!.offset;

/** An address the filter takes: text of either family, or its bytes (4, or 16 when `v6`) at buf[off]. */
export type FilterAddr = string | { buf: Buffer; off: number; v6?: boolean };

/** Word index and bit of the address whose 4 network-order bytes start at @buf[@off], as the datapath computes them. */
export function addrSlot(kind: AddrKind, buf: Buffer, off = 0): { word: number; bit: bigint } {
  return slotBig(kind, hostU32(buf, off));
}

/**
 * Word index and bit of the IPv6 address whose 16 network-order bytes start at @buf[@off]: its four
 * __be32 words, each read as a host-order u32, XORed into one (addr_fold6() in C), then hashed as an
 * IPv4 address is.
 */
export function addrSlot6(kind: AddrKind, buf: Buffer, off = 0): { word: number; bit: bigint } {
  return slotBig(kind, fold6(buf, off));
}

/** The __be32 at @buf[@off] read as a host-order u32, as the datapath reads it. */
function hostU32(buf: Buffer, off: number): number {
  return LE ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}

function fold6(buf: Buffer, off: number): number {
  return (hostU32(buf, off) ^ hostU32(buf, off + 4) ^ hostU32(buf, off + 8) ^ hostU32(buf, off + 12)) >>> 0;
}

function slotBig(kind: AddrKind, a: number): { word: number; bit: bigint } {
  const h = hash19(a);
  return { word: kind * L.SL_ADDR_FILTER_WORDS + (h >>> 6), bit: 1n << BigInt(h & 63) };
}

/** addr_filter_slot() in C: MurmurHash3's 32-bit finalizer, its top 19 bits (word h >> 6, bit h & 63 within the kind's half). */
function hash19(a: number): number {
  let x = a >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return ((x ^ (x >>> 16)) >>> 0) >>> L.SL_ADDR_FILTER_SHIFT;
}

/** The host-order u32 the datapath hashes for an address given as text of either family or as bytes. */
function hashInput(a: FilterAddr): number {
  if (typeof a !== 'string') return a.v6 ? fold6(a.buf, a.off) : hostU32(a.buf, a.off);
  if (a.includes(':')) return fold6(ipBytes(a), 0);
  // Network order (a << 24 | ...) as parsed; the datapath's host-order read of those bytes is its byte swap on LE.
  const n = L.ipToU32(a);
  return LE ? (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0 : n;
}

export function ip4Bytes(ip: string): Buffer {
  const b = Buffer.from(ip.split('.').map(Number));
  if (b.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  return b;
}

/**
 * Fewer words than this to read: a lookup each; more: the whole half of their kind with one
 * lookup_batch (8,192 words, a few ms: once per change, whatever its parts).
 */
const READ_BATCH_MIN = 32;

/**
 * One kind's words as a change has read or written them (FilterWords), as two u32 halves each
 * (the u64's low and high 32 bits), and what is known of each: 0 not read, 1 read, 2 written by
 * this change (logged for undo). Kept by the AddrFilter and shared by its changes: an entry counts
 * for the change whose generation its stamp holds (a change starts with nothing known, without
 * clearing or allocating 72 KiB: a one-service delta pays for what it touches).
 */
interface KindWords { lo: Uint32Array; hi: Uint32Array; state: Uint8Array; stamp: Uint32Array }

/**
 * The words a change (a MapTransaction) has read or written so far, carried from one AddrFilter.add()
 * to the next when a change sets bits in parts (a snapshot's parts): each word is read from the map
 * and logged for undo once per change, not once per part. From AddrFilter.begin(); one change at a
 * time (the datapath makes one at a time): beginning the next one forgets this one's words.
 */
export class FilterWords {
  readonly gen: number;

  constructor(gen: number) {
    this.gen = gen;
  }
}

// Per add(): the bits wanted in each word of a kind (reused; cleared word by word after each call).
const wantLo = new Uint32Array(L.SL_ADDR_FILTER_WORDS), wantHi = new Uint32Array(L.SL_ADDR_FILTER_WORDS);

/**
 * The filter as the agent writes it: bits gathered per word, the words it does not know yet read
 * with one lookup_batch (a few: a lookup each), each changed word written once per call, all of them
 * in one update_batch.
 */
export class AddrFilter {
  readonly #map: BpfMap;
  readonly #kinds: Array<KindWords | undefined> = [];
  #gen = 0;

  constructor(map: BpfMap) {
    this.#map = map;
  }

  /** A change's FilterWords: nothing read or written yet. */
  begin(): FilterWords {
    this.#gen = (this.#gen + 1) >>> 0 || 1;
    if (this.#gen === 1) for (const k of this.#kinds) k?.stamp.fill(0);
    return new FilterWords(this.#gen);
  }

  #of(kind: AddrKind): KindWords {
    let k = this.#kinds[kind];
    if (!k) {
      const n = L.SL_ADDR_FILTER_WORDS;
      k = this.#kinds[kind] = { lo: new Uint32Array(n), hi: new Uint32Array(n), state: new Uint8Array(n), stamp: new Uint32Array(n) };
    }
    return k;
  }

  /**
   * Set the bits of the addresses (text of either family, or bytes: FilterAddr) of @kind; returns
   * the words written. Through @tx when given, so a failed change undoes them with the rest.
   * @words: what this change (@tx) has read or written so far (FilterWords), carried from one call
   * to the next when a change sets bits in parts.
   */
  add(kind: AddrKind, addrs: Iterable<FilterAddr>, tx?: MapTransaction, words = this.begin()): number {
    if (words.gen !== this.#gen) throw new Error('these address filter words belong to a change that is over');
    const kw = this.#of(kind), { lo, hi, state, stamp } = kw, g = words.gen;
    // The words this call touches, and of those the ones not read yet.
    const touched: number[] = [], unread: number[] = [];
    for (const a of addrs) {
      const h = hash19(hashInput(a)), w = h >>> 6, b = h & 63;
      if (!wantLo[w] && !wantHi[w]) { touched.push(w); if (stamp[w] !== g) unread.push(w); }
      if (b < 32) wantLo[w] = wantLo[w]! | (1 << b); else wantHi[w] = wantHi[w]! | (1 << (b - 32));
    }
    try {
      this.#read(kind, kw, g, unread);
      const base = kind * L.SL_ADDR_FILTER_WORDS;
      // First writes of this change (logged with the value read) and words it wrote before (not logged again).
      const first = new PackedEntries(4, 8, Math.max(1, touched.length)), again = new PackedEntries(4, 8, 1);
      const prevs = Buffer.allocUnsafe(8 * touched.length);
      for (const w of touched) {
        const nlo = (lo[w]! | wantLo[w]!) >>> 0, nhi = (hi[w]! | wantHi[w]!) >>> 0;
        if (nlo === lo[w] && nhi === hi[w]) continue;
        // Read-modify-write: the datapath may OR a REPLY_SRC bit into this word meanwhile, and
        // that bit would be lost here, but it sets it again on its next flow to that backend.
        const out = state[w] === 2 && tx ? again : first;
        if (out === first) { prevs.writeUInt32LE(lo[w]!, 8 * first.count); prevs.writeUInt32LE(hi[w]!, 8 * first.count + 4); }
        const i = out.add();
        out.keys.writeUInt32LE(base + w, out.keyAt(i));
        out.values.writeUInt32LE(nlo, out.valueAt(i));
        out.values.writeUInt32LE(nhi, out.valueAt(i) + 4);
        lo[w] = nlo; hi[w] = nhi;
        if (tx) state[w] = 2;
      }
      if (tx) {
        tx.updateBatch(this.#map, first.keys, first.values, first.count, prevs);
        tx.overwriteBatch(this.#map, again.keys, again.values, again.count);
      } else if (first.count) {
        this.#map.updateBatch(first.keys, first.values, first.count);
      }
      return first.count + again.count;
    } finally {
      for (const w of touched) { wantLo[w] = 0; wantHi[w] = 0; }
    }
  }

  /** Reads the words @unread (indexes within @kind's half) into @kw: a lookup each when few, else the whole half with one lookup_batch. */
  #read(kind: AddrKind, kw: KindWords, g: number, unread: number[]): void {
    if (!unread.length) return;
    const base = kind * L.SL_ADDR_FILTER_WORDS;
    const set = (w: number, v: Buffer | undefined, off: number) => {
      kw.lo[w] = v ? v.readUInt32LE(off) : 0; kw.hi[w] = v ? v.readUInt32LE(off + 4) : 0; kw.state[w] = 1; kw.stamp[w] = g;
    };
    if (unread.length < READ_BATCH_MIN) {
      for (const w of unread) set(w, this.#map.lookup(u32Key(base + w)), 0);
      return;
    }
    const n = L.SL_ADDR_FILTER_WORDS, values = Buffer.allocUnsafe(8 * n);
    this.#map.lookupRange(base, n, values);
    // Words this change already knows keep what it knows (it may have written them).
    for (let w = 0; w < n; w++) if (kw.stamp[w] !== g) set(w, values, 8 * w);
  }

  /**
   * Make the filter cover what the maps already hold (pins of an agent from before the filter, or
   * entries copied by a migration): every frontend address of sl_services, the destination of
   * every SERVICE and the source of every REPLY conntrack entry.
   */
  cover(services: BpfMap, ct: BpfMap): { frontends: number; replySources: number } {
    const fe: Array<{ buf: Buffer; off: number }> = [], rs: Array<{ buf: Buffer; off: number }> = [];
    for (const { key } of services.entries()) fe.push({ buf: key, off: SVC_VIP_OFFSET });
    for (const { key } of ct.entries()) {
      if (key[CT_DIR] === L.SL_CT_DIR_REPLY) rs.push({ buf: key, off: CT_SADDR });
      else fe.push({ buf: key, off: CT_DADDR });
    }
    this.add(L.SL_ADDR_FRONTEND, fe);
    this.add(L.SL_ADDR_REPLY_SRC, rs);
    return { frontends: fe.length, replySources: rs.length };
  }

  /** cover() for the IPv6 twins: every frontend of sl_services6, and sl_ct6's entries. */
  cover6(services6: BpfMap, ct6: BpfMap): { frontends: number; replySources: number } {
    const fe: FilterAddr[] = [], rs: FilterAddr[] = [];
    for (const { key } of services6.entries()) fe.push({ buf: key, off: SVC6_VIP_OFFSET, v6: true });
    for (const { key } of ct6.entries()) {
      if (key[CT6_DIR] === L.SL_CT_DIR_REPLY) rs.push({ buf: key, off: CT6_SADDR, v6: true });
      else fe.push({ buf: key, off: CT6_DADDR, v6: true });
    }
    this.add(L.SL_ADDR_FRONTEND, fe);
    this.add(L.SL_ADDR_REPLY_SRC, rs);
    return { frontends: fe.length, replySources: rs.length };
  }
}
