// The address filter (sl_addr_filter, bpf/lib/addr_filter.h): one bit per hashed IPv4 address
// that may be a frontend's (set here, before the sl_services entry that needs it) or the source of
// a REPLY conntrack entry (set by the datapath, before it writes the entry). A clear bit lets a
// packet skip every conntrack and service lookup, so a missing bit would leave a flow untranslated:
// bits are only ever added. This module is the one place the agent computes or writes them.
import os from 'node:os';
import * as L from './bpf/layout.ts';
import { u32Key, type BpfMap } from './maps/map.ts';
import type { MapTransaction } from './maps/transaction.ts';

export type AddrKind = typeof L.SL_ADDR_FRONTEND | typeof L.SL_ADDR_REPLY_SRC;

const LE = os.endianness() === 'LE';
const SVC_VIP_OFFSET = L.svcKey.fields.find((f) => f.name === 'vip')!.offset;
const CT_SADDR = L.ctKey.fields.find((f) => f.name === 'saddr')!.offset;
const CT_DADDR = L.ctKey.fields.find((f) => f.name === 'daddr')!.offset;
const CT_DIR = L.ctKey.fields.find((f) => f.name === 'dir')!.offset;

/** Word index and bit of the address whose 4 network-order bytes start at @buf[@off], as the datapath computes them. */
export function addrSlot(kind: AddrKind, buf: Buffer, off = 0): { word: number; bit: bigint } {
  // The datapath reads the __be32 as a host-order u32, then Fibonacci-hashes it to 16 bits.
  const a = LE ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
  const h = Math.imul(a, 0x9e3779b1) >>> 16;
  return { word: kind * L.SL_ADDR_FILTER_WORDS + (h >>> 6), bit: 1n << BigInt(h & 63) };
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
   * Set the bits of the addresses (IPv4 strings, or 4 bytes at buf[off]) of @kind; returns the
   * words written. Through @tx when given, so a failed change undoes them with the rest.
   */
  add(kind: AddrKind, addrs: Iterable<string | { buf: Buffer; off: number }>, tx?: MapTransaction): number {
    const want = new Map<number, bigint>();
    for (const a of addrs) {
      const { word, bit } = typeof a === 'string' ? addrSlot(kind, ip4Bytes(a)) : addrSlot(kind, a.buf, a.off);
      want.set(word, (want.get(word) ?? 0n) | bit);
    }
    let written = 0;
    for (const [word, bits] of want) {
      const key = u32Key(word);
      const cur = this.#map.lookup(key)?.readBigUInt64LE(0) ?? 0n;
      if ((cur & bits) === bits) continue;
      // Read-modify-write: the datapath may OR a REPLY_SRC bit into this word meanwhile, and
      // that bit would be lost here, but it sets it again on its next flow to that backend.
      const v = Buffer.alloc(8);
      v.writeBigUInt64LE(cur | bits);
      if (tx) tx.update(this.#map, key, v);
      else this.#map.update(key, v);
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
}
