// TypeScript mirror of bpf/sluice_maps.h: one codec per struct, laid out with C's alignment rules.
// test/integration/layout.test.ts checks every struct here against the BTF clang emits.
import { bytesToIp, familyOf, ipBytes } from '../../common/ip.ts';

type Scalar = 'u8' | 'u16' | 'u32' | 'u64' | 'be16';
/**
 * `ip4`: __u8[4] address; `be32ip`: __be32 address (4-aligned); `ip6`: __u8[16] address; `be32ip6`:
 * __be32[4] address (4-aligned); `charN`: NUL-padded string; `bytesN`: __u8[N], raw. Addresses are
 * text in common/ip.ts's canonical form.
 */
type FieldType = Scalar | 'ip4' | 'be32ip' | 'ip6' | 'be32ip6' | `char${number}` | `bytes${number}`;

const SIZE: Record<Scalar | 'ip4' | 'be32ip' | 'ip6' | 'be32ip6', [size: number, align: number]> = {
  u8: [1, 1], u16: [2, 2], u32: [4, 4], u64: [8, 8], be16: [2, 2], ip4: [4, 1], be32ip: [4, 4], ip6: [16, 1], be32ip6: [16, 4],
};

function sizeAlign(t: FieldType): [number, number] {
  if (t.startsWith('char')) return [Number(t.slice(4)), 1];
  if (t.startsWith('bytes')) return [Number(t.slice(5)), 1];
  return SIZE[t as keyof typeof SIZE];
}

export interface Field {
  name: string;
  type: FieldType;
  offset: number;
  size: number;
}

type ValueOf<T extends FieldType> = T extends 'u64' ? bigint
  : T extends `bytes${number}` ? Buffer
  : T extends 'ip4' | 'be32ip' | 'ip6' | 'be32ip6' | `char${number}` ? string
  : number;

type Decoded<F extends readonly (readonly [string, FieldType])[]> = {
  [K in F[number] as K[0]]: ValueOf<K[1]>;
};

export class StructCodec<T extends Record<string, unknown>> {
  readonly name: string;
  readonly fields: Field[];
  readonly size: number;

  constructor(name: string, spec: readonly (readonly [string, FieldType])[]) {
    this.name = name;
    let off = 0;
    let maxAlign = 1;
    this.fields = spec.map(([fname, type]) => {
      const [size, align] = sizeAlign(type);
      off = Math.ceil(off / align) * align;
      const field = { name: fname, type, offset: off, size };
      off += size;
      maxAlign = Math.max(maxAlign, align);
      return field;
    });
    this.size = Math.ceil(off / maxAlign) * maxAlign;
    for (const fl of this.fields) this.#writers.push(writerOf(fl));
  }

  encode(value: Partial<T>, buf: Buffer = Buffer.alloc(this.size), base = 0): Buffer {
    const w = this.#writers;
    for (let i = 0; i < w.length; i++) {
      const fl = this.fields[i]!;
      w[i]!(buf, base + fl.offset, value[fl.name as keyof T]);
    }
    return buf;
  }

  /** One writer per field, chosen once by its type (encode() runs for every key and value a change writes). */
  readonly #writers: Array<(buf: Buffer, o: number, v: unknown) => void> = [];

  decode(buf: Buffer, base = 0): T {
    const out: Record<string, unknown> = {};
    for (const fl of this.fields) {
      const o = base + fl.offset;
      switch (fl.type) {
        case 'u8': out[fl.name] = buf.readUInt8(o); break;
        case 'u16': out[fl.name] = buf.readUInt16LE(o); break;
        case 'u32': out[fl.name] = buf.readUInt32LE(o); break;
        case 'u64': out[fl.name] = buf.readBigUInt64LE(o); break;
        case 'be16': out[fl.name] = buf.readUInt16BE(o); break;
        case 'ip4': case 'be32ip': out[fl.name] = `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}`; break;
        case 'ip6': case 'be32ip6': out[fl.name] = ip6Text(buf, o); break;
        default: if (fl.type.startsWith('bytes')) {
          out[fl.name] = Buffer.from(buf.subarray(o, o + fl.size));
        } else {
          const end = buf.indexOf(0, o);
          out[fl.name] = buf.toString('utf8', o, end < 0 || end > o + fl.size ? o + fl.size : end);
        }
      }
    }
    return out as T;
  }
}

/** How encode() writes field @fl at a byte offset: what a switch over its type did per call, decided once. */
function writerOf(fl: Field): (buf: Buffer, o: number, v: unknown) => void {
  const size = fl.size;
  switch (fl.type) {
    case 'u8': return (buf, o, v) => { buf.writeUInt8(Number(v ?? 0), o); };
    case 'u16': return (buf, o, v) => { buf.writeUInt16LE(Number(v ?? 0), o); };
    case 'u32': return (buf, o, v) => { buf.writeUInt32LE(Number(v ?? 0) >>> 0, o); };
    case 'u64': return (buf, o, v) => { buf.writeBigUInt64LE(BigInt((v as bigint | number | undefined) ?? 0), o); };
    case 'be16': return (buf, o, v) => { buf.writeUInt16BE(Number(v ?? 0), o); };
    case 'ip4': case 'be32ip': return (buf, o, v) => { writeIp(String(v ?? '0.0.0.0'), buf, o); };
    case 'ip6': case 'be32ip6': return (buf, o, v) => { writeIp6(String(v ?? '::'), buf, o); };
  }
  if (fl.type.startsWith('bytes')) {
    return (buf, o, v) => {
      buf.fill(0, o, o + size);
      (v as Buffer | undefined)?.copy(buf, o, 0, size);
    };
  }
  return (buf, o, v) => {
    const text = String(v ?? '');
    // ASCII (names are): written a byte at a time, NUL-padded; anything else through utf8 as before.
    let i = 0;
    for (const n = Math.min(text.length, size - 1); i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      buf[o + i] = c;
    }
    if (i < text.length && i < size - 1) {
      buf.fill(0, o, o + size);
      buf.write(text.slice(0, size - 1), o, 'utf8');
      return;
    }
    buf.fill(0, o + i, o + size);
  };
}

function codec<const F extends readonly (readonly [string, FieldType])[]>(name: string, spec: F) {
  return new StructCodec<Decoded<F>>(name, spec);
}

export function ipToBytes(ip: string): Buffer {
  return writeIp(ip, Buffer.alloc(4), 0);
}

/** The address as a u32 in network order (a.b.c.d -> a << 24 | ...); throws as ipToBytes does. */
export function ipToU32(ip: string): number {
  const v = dottedQuad(ip);
  return v >= 0 ? v : slowIpToBytes(ip).readUInt32BE(0);
}

/** Write `ip`'s four bytes at `off` of `buf` without allocating (codecs encode many addresses). */
export function writeIp(ip: string, buf: Buffer, off: number): Buffer {
  const v = dottedQuad(ip);
  if (v >= 0) buf.writeUInt32BE(v, off);
  else slowIpToBytes(ip).copy(buf, off);
  return buf;
}

/** Plain "a.b.c.d" (decimal, 1-3 digits each, <= 255) as a u32, or -1 for anything else. */
function dottedQuad(ip: string): number {
  let v = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46 && digits && dots < 3) {
      v = v * 256 + part; part = 0; digits = 0; dots++;
    } else {
      return -1;
    }
  }
  return dots === 3 && digits ? v * 256 + part : -1;
}

/** Write IPv6 address `ip`'s 16 bytes at `off` of `buf`; throws when it is no IPv6 address. */
export function writeIp6(ip: string, buf: Buffer, off: number): Buffer {
  if (familyOf(ip) !== 6) throw new Error(`not an IPv6 address: ${JSON.stringify(ip)}`);
  ipBytes(ip).copy(buf, off);
  return buf;
}

/** The 16 bytes at `off` as canonical IPv6 text (RFC 5952, common/ip.ts). */
export function ip6Text(buf: Buffer, off = 0): string {
  return bytesToIp(buf.subarray(off, off + 16));
}

/** Everything else: parsed as before (and refused when it is no address). */
function slowIpToBytes(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${JSON.stringify(ip)}`);
  }
  return Buffer.from(parts);
}

// --- the structs of bpf/sluice_maps.h, in the same order and with the same names ---

/** The enums of bpf/sluice_maps.h by C name, each constant with its value; checked against BTF. */
export const ENUMS = {
  sl_layout: { SL_LAYOUT_VERSION: 3 },
  sl_aff_client: { SL_AFF_CLIENT_ADDR4: 0, SL_AFF_CLIENT_NETNS: 1, SL_AFF_CLIENT_ADDR6: 2 },
  sl_size: {
    SL_MAX_SERVICES: 16384, SL_MAX_BACKENDS: 122880, SL_MAGLEV_SLOTS: 10816000, SL_MAGLEV_CHUNK: 32, SL_MAX_CT: 131072,
    SL_MAX_AFFINITY: 16384, SL_NAME_LEN: 44,
  },
  sl_scope: { SL_SCOPE_CLUSTER: 0, SL_SCOPE_EXTERNAL: 1, SL_SCOPE_SHORT: 2 },
  sl_svc_flag: { SL_SVC_F_AFFINITY: 1 << 0, SL_SVC_F_LOCAL: 1 << 1, SL_SVC_F_DROP: 1 << 2, SL_SVC_F_SRC_RANGES: 1 << 3 },
  sl_be_flag: { SL_BE_F_TERMINATING: 1 << 0, SL_BE_F_LOCAL: 1 << 1 },
  sl_ct_dir: { SL_CT_DIR_SERVICE: 0, SL_CT_DIR_REPLY: 1 },
  sl_ct_flag: { SL_CT_F_CLOSING: 1 << 0, SL_CT_F_SNAT: 1 << 1, SL_CT_F_REPLIED: 1 << 2 },
  sl_event_type: { SL_EV_DROP: 1, SL_EV_REJECT: 2, SL_EV_FLOW: 3, SL_EV_AFFINITY: 4 },
  sl_event_config_flag: { SL_EVC_F_FLOW: 1 << 0, SL_EVC_F_AFFINITY: 1 << 1 },
  sl_event_size: { SL_EVENTS_BYTES: 1 << 20 },
  sl_sock_mode: { SL_SOCK_ALL: 0, SL_SOCK_HOST_ONLY: 1 },
  sl_sock_size: { SL_MAX_SOCK_REV: 8192 },
  sl_frag_size: { SL_MAX_FRAGS: 8192 },
  sl_addr_kind: { SL_ADDR_FRONTEND: 0, SL_ADDR_REPLY_SRC: 1 },
  sl_addr_filter_size: { SL_ADDR_FILTER_WORDS: 8192, SL_ADDR_FILTER_BITS: 524288, SL_ADDR_FILTER_SHIFT: 13 },
  sl_size6: { SL_MAX_CT6: 32768 },
} as const;

export const { SL_MAX_SERVICES, SL_MAX_BACKENDS, SL_MAGLEV_SLOTS, SL_MAGLEV_CHUNK, SL_MAX_CT, SL_MAX_AFFINITY, SL_NAME_LEN } = ENUMS.sl_size;
export const { SL_LAYOUT_VERSION } = ENUMS.sl_layout;
export const { SL_AFF_CLIENT_ADDR4, SL_AFF_CLIENT_NETNS, SL_AFF_CLIENT_ADDR6 } = ENUMS.sl_aff_client;
export const { SL_MAX_CT6 } = ENUMS.sl_size6;
export const { SL_SCOPE_CLUSTER, SL_SCOPE_EXTERNAL, SL_SCOPE_SHORT } = ENUMS.sl_scope;
export const { SL_SVC_F_AFFINITY, SL_SVC_F_LOCAL, SL_SVC_F_DROP, SL_SVC_F_SRC_RANGES } = ENUMS.sl_svc_flag;
export const { SL_BE_F_TERMINATING, SL_BE_F_LOCAL } = ENUMS.sl_be_flag;
export const { SL_CT_DIR_SERVICE, SL_CT_DIR_REPLY } = ENUMS.sl_ct_dir;
export const { SL_CT_F_CLOSING, SL_CT_F_SNAT, SL_CT_F_REPLIED } = ENUMS.sl_ct_flag;
export const { SL_EVC_F_FLOW, SL_EVC_F_AFFINITY } = ENUMS.sl_event_config_flag;
export const { SL_SOCK_ALL, SL_SOCK_HOST_ONLY } = ENUMS.sl_sock_mode;
export const { SL_MAX_SOCK_REV } = ENUMS.sl_sock_size;
export const { SL_MAX_FRAGS } = ENUMS.sl_frag_size;
export const { SL_ADDR_FRONTEND, SL_ADDR_REPLY_SRC } = ENUMS.sl_addr_kind;
export const { SL_ADDR_FILTER_WORDS, SL_ADDR_FILTER_SHIFT } = ENUMS.sl_addr_filter_size;

/** enum sl_counter (indexes of sl_counters) in order, lower-cased without SL_CNT_; SL_CNT_MAX is their count. */
export const COUNTER_NAMES = ['ct_create_fail', 'no_backend_entry', 'reject', 'reject_fail', 'ext_no_local', 'ext_snat_fail', 'ext_fib_fail'] as const;
/** enum sl_drop (indexes of sl_drops) in order, lower-cased without SL_DROP_, as `drop_<reason>` counters. */
export const DROP_NAMES = ['empty', 'src_range', 'frag_no_first'] as const;

/** Default map sizes (the agent's --max-* flags; SL_MAX_* in C). */
export const DEFAULT_SIZES = {
  services: SL_MAX_SERVICES, backends: SL_MAX_BACKENDS, maglev: SL_MAGLEV_SLOTS, ct: SL_MAX_CT, affinity: SL_MAX_AFFINITY,
  sockRev: SL_MAX_SOCK_REV, ct6: SL_MAX_CT6,
};

export const meta = codec('sl_meta', [['layout_version', 'u32'], ['pad', 'u32']] as const);

export const svcKey = codec('sl_svc_key', [
  ['vip', 'ip4'], ['port', 'u16'], ['proto', 'u8'], ['scope', 'u8'],
] as const);

export const svcValue = codec('sl_svc_value', [
  ['svc_id', 'u32'], ['maglev_base', 'u32'], ['maglev_size', 'u32'], ['count', 'u16'],
  ['flags', 'u16'], ['affinity_timeout', 'u32'], ['name', `char${SL_NAME_LEN}`],
] as const);

/** 32 u16 slots: table slots (backend indexes) and, two slots each, the run's backend ids. */
export const maglevChunk = codec('sl_maglev_chunk', [
  ...Array.from({ length: SL_MAGLEV_CHUNK }, (_, i) => [`slot${i}`, 'u16'] as const),
] as const);

export const backend = codec('sl_backend', [
  ['ip', 'ip4'], ['port', 'u16'], ['proto', 'u8'], ['flags', 'u8'], ['svc_id', 'u32'],
] as const);

export const ctKey = codec('sl_ct_key', [
  ['saddr', 'be32ip'], ['daddr', 'be32ip'], ['sport', 'be16'], ['dport', 'be16'],
  ['proto', 'u8'], ['dir', 'u8'], ['pad', 'u16'],
] as const);

export const ctEntry = codec('sl_ct_entry', [
  ['nat_addr', 'be32ip'], ['nat_port', 'be16'], ['flags', 'u16'], ['rev_addr', 'be32ip'], ['rev_port', 'be16'], ['pad', 'u16'], ['svc_id', 'u32'],
  ['backend_id', 'u32'], ['created_ns', 'u64'], ['last_seen_ns', 'u64'],
] as const);

export const affKey = codec('sl_aff_key', [['svc_id', 'u32'], ['kind', 'u8'], ['pad', 'bytes3'], ['client', 'bytes16']] as const);
export const AFF_CLIENT_OFFSET = affKey.fields.find((f) => f.name === 'client')!.offset;

/** The affinity key's client for people: an IPv4 or IPv6 address, or the network namespace's cookie. */
export function affClient(k: { kind: number; client: Buffer }): string {
  if (k.kind === SL_AFF_CLIENT_ADDR4) return `${k.client[0]}.${k.client[1]}.${k.client[2]}.${k.client[3]}`;
  if (k.kind === SL_AFF_CLIENT_ADDR6) return ip6Text(k.client, 0);
  return `netns:${k.client.readBigUInt64LE(0)}`;
}

export const affValue = codec('sl_aff_value', [
  ['backend_id', 'u32'], ['pad', 'u32'], ['last_used_ns', 'u64'],
] as const);

export const config = codec('sl_config', [['node_ip', 'be32ip'], ['snat_port_min', 'u16'], ['snat_port_max', 'u16']] as const);

export const svcStats = codec('sl_svc_stats', [
  ['conns', 'u64'], ['packets', 'u64'], ['bytes', 'u64'], ['rejects', 'u64'],
] as const);

/** enum sl_event_type by value, lower-cased without SL_EV_. */
export const EVENT_TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(ENUMS.sl_event_type).map(([k, v]) => [v, k.slice('SL_EV_'.length).toLowerCase()]));

/**
 * enum sl_event_reason in order, lower-cased without SL_EV_REASON_ (SL_EV_REASON_MAX is their
 * count). A new reason goes here too, in the header's order: the layout test holds the two together.
 */
export const EVENT_REASONS = ['none', 'no_endpoints', 'no_local_endpoint', 'no_backend_entry', 'snat_fail', 'no_usable_endpoint', 'source_range', 'frag_no_first'] as const;

export const event = codec('sl_event', [
  ['ts_ns', 'u64'], ['saddr', 'be32ip'], ['daddr', 'be32ip'], ['sport', 'be16'], ['dport', 'be16'],
  ['proto', 'u8'], ['type', 'u8'], ['reason', 'u8'], ['pad', 'u8'], ['svc_id', 'u32'], ['backend_id', 'u32'],
] as const);

export const eventConfig = codec('sl_event_config', [['flags', 'u32'], ['sample', 'u32']] as const);

export const srcRangeKey = codec('sl_src_range_key', [['prefixlen', 'u32'], ['svc_id', 'u32'], ['addr', 'ip4']] as const);

export const sockConfig = codec('sl_sock_config', [['host_netns_cookie', 'u64'], ['mode', 'u32'], ['pad', 'u32']] as const);

export const sockRevKey = codec('sl_sock_rev_key', [
  ['cookie', 'u64'], ['backend_addr', 'be32ip'], ['backend_port', 'be16'], ['pad', 'u16'],
] as const);

export const sockRevValue = codec('sl_sock_rev_value', [
  ['svc_addr', 'be32ip'], ['svc_port', 'be16'], ['pad', 'u16'], ['svc_id', 'u32'], ['backend_id', 'u32'],
] as const);

/**
 * A connected TCP socket's reverse translation, kept in the socket itself (sl_sock_peer, socket-local
 * storage): an IPv4 peer is held IPv4-mapped. Only the datapath reads it; the agent never does.
 */
export const sockPeer = codec('sl_sock_peer', [
  ['backend_addr', 'be32ip6'], ['svc_addr', 'be32ip6'], ['backend_port', 'be16'], ['svc_port', 'be16'],
  ['svc_id', 'u32'], ['backend_id', 'u32'],
] as const);

export const sockStats = codec('sl_sock_stats', [['translations', 'u64'], ['rejects', 'u64']] as const);

/** IP fragments: a datagram (addresses, IP id, protocol) and the ports its first fragment carried. */
export const fragKey = codec('sl_frag_key', [
  ['saddr', 'be32ip'], ['daddr', 'be32ip'], ['id', 'be16'], ['proto', 'u8'], ['pad', 'u8'],
] as const);
export const fragPorts = codec('sl_frag_ports', [['sport', 'be16'], ['dport', 'be16']] as const);

// IPv6 (sluice_maps.h): the address-holding maps' twins; everything else is shared.
export const svc6Key = codec('sl_svc6_key', [
  ['vip', 'ip6'], ['port', 'u16'], ['proto', 'u8'], ['scope', 'u8'],
] as const);

export const backend6 = codec('sl_backend6', [
  ['ip', 'ip6'], ['port', 'u16'], ['proto', 'u8'], ['flags', 'u8'], ['svc_id', 'u32'],
] as const);

export const ct6Key = codec('sl_ct6_key', [
  ['saddr', 'be32ip6'], ['daddr', 'be32ip6'], ['sport', 'be16'], ['dport', 'be16'],
  ['proto', 'u8'], ['dir', 'u8'], ['pad', 'u16'],
] as const);

export const ct6Entry = codec('sl_ct6_entry', [
  ['nat_addr', 'be32ip6'], ['rev_addr', 'be32ip6'], ['nat_port', 'be16'], ['rev_port', 'be16'], ['flags', 'u16'], ['pad', 'u16'],
  ['svc_id', 'u32'], ['backend_id', 'u32'], ['created_ns', 'u64'], ['last_seen_ns', 'u64'],
] as const);

export const srcRange6Key = codec('sl_src_range6_key', [['prefixlen', 'u32'], ['svc_id', 'u32'], ['addr', 'ip6']] as const);

export const config6 = codec('sl_config6', [['node_ip', 'ip6']] as const);

export const frag6Key = codec('sl_frag6_key', [
  ['saddr', 'be32ip6'], ['daddr', 'be32ip6'], ['id', 'u32'], ['proto', 'u8'], ['pad', 'bytes3'],
] as const);

export const sockRev6Key = codec('sl_sock_rev6_key', [
  ['cookie', 'u64'], ['backend_addr', 'be32ip6'], ['backend_port', 'be16'], ['pad', 'u16'],
] as const);

export const sockRev6Value = codec('sl_sock_rev6_value', [
  ['svc_addr', 'be32ip6'], ['svc_port', 'be16'], ['pad', 'u16'], ['svc_id', 'u32'], ['backend_id', 'u32'],
] as const);

/** A ring-buffer record about an IPv6 packet; sl_event's fields, told apart by size. */
export const event6 = codec('sl_event6', [
  ['ts_ns', 'u64'], ['saddr', 'be32ip6'], ['daddr', 'be32ip6'], ['sport', 'be16'], ['dport', 'be16'],
  ['proto', 'u8'], ['type', 'u8'], ['reason', 'u8'], ['pad', 'u8'], ['svc_id', 'u32'], ['backend_id', 'u32'], ['pad2', 'u32'],
] as const);

export type SvcKey = ReturnType<typeof svcKey.decode>;
export type SvcValue = ReturnType<typeof svcValue.decode>;
export type Backend = ReturnType<typeof backend.decode>;
export type CtKey = ReturnType<typeof ctKey.decode>;
export type CtEntry = ReturnType<typeof ctEntry.decode>;
export type AffKey = ReturnType<typeof affKey.decode>;
export type AffValue = ReturnType<typeof affValue.decode>;
export type SvcStats = ReturnType<typeof svcStats.decode>;
export type DatapathEvent = ReturnType<typeof event.decode>;
export type SockStats = ReturnType<typeof sockStats.decode>;

export const ALL_STRUCTS = [meta, svcKey, svcValue, maglevChunk, backend, ctKey, ctEntry, affKey, affValue, svcStats, config,
  srcRangeKey, event, eventConfig, sockConfig, sockRevKey, sockRevValue, sockPeer, sockStats, fragKey, fragPorts,
  svc6Key, backend6, ct6Key, ct6Entry, srcRange6Key, config6, frag6Key, sockRev6Key, sockRev6Value, event6];

/**
 * Map names as pinned (bpf/lib/maps.h), with the key/value codecs each uses (u32 key, u64 value
 * where null) and max_entries as compiled, before the agent resizes them.
 */
export const MAPS = {
  sl_services: { key: svcKey, value: svcValue, entries: SL_MAX_SERVICES },
  sl_backends: { key: null, value: backend, entries: SL_MAX_BACKENDS },
  sl_maglev: { key: null, value: maglevChunk, entries: SL_MAGLEV_SLOTS / SL_MAGLEV_CHUNK },
  sl_ct: { key: ctKey, value: ctEntry, entries: SL_MAX_CT },
  sl_affinity: { key: affKey, value: affValue, entries: SL_MAX_AFFINITY },
  sl_svc_stats: { key: null, value: svcStats, entries: SL_MAX_SERVICES },
  sl_counters: { key: null, value: null, entries: COUNTER_NAMES.length },
  sl_config: { key: null, value: config, entries: 1 },
  sl_meta: { key: null, value: meta, entries: 1 },
  sl_src_ranges: { key: srcRangeKey, value: { size: 1 }, entries: SL_MAX_SERVICES },
  sl_drops: { key: null, value: null, entries: DROP_NAMES.length },
  sl_sock_config: { key: null, value: sockConfig, entries: 1 },
  sl_sock_rev: { key: sockRevKey, value: sockRevValue, entries: SL_MAX_SOCK_REV },
  sl_sock_stats: { key: null, value: sockStats, entries: SL_MAX_SERVICES },
  sl_frags: { key: fragKey, value: fragPorts, entries: SL_MAX_FRAGS },
  sl_addr_filter: { key: null, value: null, entries: 2 * ENUMS.sl_addr_filter_size.SL_ADDR_FILTER_WORDS },
  sl_services6: { key: svc6Key, value: svcValue, entries: SL_MAX_SERVICES },
  sl_backends6: { key: null, value: backend6, entries: SL_MAX_BACKENDS },
  sl_ct6: { key: ct6Key, value: ct6Entry, entries: SL_MAX_CT6 },
  sl_src_ranges6: { key: srcRange6Key, value: { size: 1 }, entries: SL_MAX_SERVICES },
  sl_config6: { key: null, value: config6, entries: 1 },
  sl_frags6: { key: frag6Key, value: fragPorts, entries: SL_MAX_FRAGS },
  sl_sock_rev6: { key: sockRev6Key, value: sockRev6Value, entries: SL_MAX_SOCK_REV },
} as const;
export type MapName = keyof typeof MAPS;
export const MAP_NAMES = Object.keys(MAPS) as MapName[];

/**
 * The event maps (bpf/lib/events.h), pinned beside MAPS but outside the map layer: only
 * `sluice monitor` reads them. sl_events is a ring buffer (no key or value; entries: its bytes).
 */
export const EVENT_MAPS = {
  sl_events: { key: null, value: null, entries: ENUMS.sl_event_size.SL_EVENTS_BYTES, ringbuf: true },
  sl_event_config: { key: null, value: eventConfig, entries: 1, ringbuf: false },
} as const;
export type EventMapName = keyof typeof EVENT_MAPS;
/**
 * Socket-local storage (BPF_MAP_TYPE_SK_STORAGE), pinned beside MAPS but outside the map layer: its
 * elements live in sockets (created by the datapath, freed with the socket), it has no size
 * (max_entries 0) and cannot be walked. Pinned so that the next agent's programs find what earlier
 * ones stored in sockets still open.
 */
export const SOCKET_STORAGE_MAPS = {
  sl_sock_peer: { key: null, value: sockPeer, entries: 0 },
} as const;
export type SocketStorageMapName = keyof typeof SOCKET_STORAGE_MAPS;
/** Every map pinned under a node's directory. */
export const PINNED_MAP_NAMES: Array<MapName | EventMapName | SocketStorageMapName> = [
  ...MAP_NAMES, ...Object.keys(EVENT_MAPS) as EventMapName[], ...Object.keys(SOCKET_STORAGE_MAPS) as SocketStorageMapName[],
];

export const IPPROTO = { TCP: 6, UDP: 17 } as const;
export function protoName(p: number): string {
  return p === 6 ? 'TCP' : p === 17 ? 'UDP' : String(p);
}
