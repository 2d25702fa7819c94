// The address filter (sl_addr_filter, bpf/lib/addr_filter.h): one bit per hashed address
// (IPv4, or IPv6 folded to 32 bits first: the same bitmaps serve both families) that may be a frontend's (set here, before the sl_services entry that needs it) or the source of
// a REPLY conntrack entry (set by the datapath, before it writes the entry). A clear bit lets a
// packet skip every conntrack and service lookup, so a missing bit would leave a flow untranslated:
// bits are only ever added. This module is the one place the agent computes or writes them.
import os from 'node:os';
import * as L from './bpf/layout.ts';
import { ipBytes } from '../common/ip.ts';
import { u32Key, type BpfMap } from './maps/map.ts';
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
  // The datapath reads the __be32 as a host-order u32, then hashes it to 19 bits (slotOf()).
  const a = LE ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
  return slotOf(kind, a);
}

/**
 * Word index and bit of the IPv6 address whose 16 network-order bytes start at @buf[@off]: its four
 * __be32 words, each read as a host-order u32, XORed into one (addr_fold6() in C), then hashed as an
 * IPv4 address is.
 */
export function addrSlot6(kind: AddrKind, buf: Buffer, off = 0): { word: number; bit: bigint } {
  const w = (i: number) => (LE ? buf.readUInt32LE(off + 4 * i) : buf.readUInt32BE(off + 4 * i));
  return slotOf(kind, (w(0) ^ w(1) ^ w(2) ^ w(3)) >>> 0);
}

/** addr_filter_slot() in C: MurmurHash3's 32-bit finalizer, its top 19 bits. */
function slotOf(kind: AddrKind, a: number): { word: number; bit: bigint } {
  let x = a >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  const h = ((x ^ (x >>> 16)) >>> 0) >>> L.SL_ADDR_FILTER_SHIFT;
  return { word: kind * L.SL_ADDR_FILTER_WORDS + (h >>> 6), bit: 1n << BigInt(h & 63) };
}

/** The slot of an address given as text of either family or as bytes. */
function slotOfAddr(kind: AddrKind, a: FilterAddr): { word: number; bit: bigint } {
  if (typeof a !== 'string') return a.v6 ? addrSlot6(kind, a.buf, a.off) : addrSlot(kind, a.buf, a.off);
  return a.includes(':') ? addrSlot6(kind, ipBytes(a)) : addrSlot(kind, ip4Bytes(a));
}

export function ip4Bytes(ip: string): Buffer {
  const b = Buffer.from(ip.split('.').map(Number));
  if (b.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  return b;
}

/** The filter as the agent writes it: bits gathered per word, each changed word written once. */
export class AddrFilter {
  readonly #map: BpfMap;

  constructor(map: BpfMap) {
    this.#map = map;
  }

  /**
   * Set the bits of the addresses (text of either family, or bytes: FilterAddr) of @kind; returns
   * the words written. Through @tx when given, so a failed change undoes them with the rest.
   * @words: the words this change (@tx) has read or written so far, carried from one call to the
   * next when a change sets bits in parts (a snapshot's parts): a word is read from the map and
   * logged for undo once per change, not once per part.
   */
  add(kind: AddrKind, addrs: Iterable<FilterAddr>, tx?: MapTransaction, words?: Map<number, { v: bigint; logged: boolean }>): number {
    const want = new Map<number, bigint>();
    for (const a of addrs) {
      const { word, bit } = slotOfAddr(kind, a);
      want.set(word, (want.get(word) ?? 0n) | bit);
    }
    let written = 0;
    for (const [word, bits] of want) {
      const key = u32Key(word);
      const known = words?.get(word);
      const cur = known?.v ?? this.#map.lookup(key)?.readBigUInt64LE(0) ?? 0n;
      if ((cur & bits) === bits) { if (!known) words?.set(word, { v: cur, logged: false }); continue; }
      // Read-modify-write: the datapath may OR a REPLY_SRC bit into this word meanwhile, and
      // that bit would be lost here, but it sets it again on its next flow to that backend.
      const v = Buffer.alloc(8);
      v.writeBigUInt64LE(cur | bits);
      if (tx && known?.logged) tx.overwrite(this.#map, key, v);
      else if (tx) tx.update(this.#map, key, v);
      else this.#map.update(key, v);
      words?.set(word, { v: cur | bits, logged: !!tx });
      written++;
    }
    return written;
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
