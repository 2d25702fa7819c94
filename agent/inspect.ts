// Reads the pinned maps of a node into plain rows, without the agent: the `sluice` CLI, the
// metrics and the tests all look at the datapath through this module.
import fs from 'node:fs';
import path from 'node:path';
import * as bpf from './bpf/libbpf.ts';
import * as L from './bpf/layout.ts';
import { maglevRunWords } from './maglev.ts';
import { DEFAULT_PIN_ROOT, pinDir, readSockStats, readSvcStats } from './datapath.ts';
import { decodeFrontend, type FrontendRow } from './frontend.ts';
import { formatAddrPort } from '../common/ip.ts';
import { LibbpfMap } from './maps/libbpf-map.ts';
import { sumPerCpu, typedMaps, typedMaps6, u32Key, type BpfMap } from './maps/map.ts';

export type { FrontendRow } from './frontend.ts';

export interface CtRow {
  direction: 'service' | 'reply';
  protocol: string;
  source: string;
  destination: string;
  nat: string;
  serviceId: number;
  backendId: number;
  closing: boolean;
  ageSeconds: number;
  idleSeconds: number;
}

export interface AffinityRow { serviceId: number; client: string; backendId: number; idleSeconds: number }

/** Node-wide counters: enum sl_counter's, then enum sl_drop's as drop_<reason>. */
export type CounterName = (typeof L.COUNTER_NAMES)[number] | `drop_${(typeof L.DROP_NAMES)[number]}`;

/** Rows for people from a node's maps, however they are reached (pinned maps, or fakes in tests). */
export class MapRows {
  readonly #map: (name: L.MapName) => BpfMap;
  readonly #cpus: number;

  constructor(map: (name: L.MapName) => BpfMap, cpus: number) {
    this.#map = map;
    this.#cpus = cpus;
  }

  #typed() {
    return typedMaps(this.#map);
  }

  /** The IPv6 twins; undefined when the pins have none (an agent from before IPv6). */
  #typed6() {
    try {
      return typedMaps6(this.#map);
    } catch (e) {
      if ((e as { errno?: number }).errno === ENOENT) return undefined;
      throw e;
    }
  }

  /** Frontends of both families (sl_services, sl_services6), by id. */
  services(): FrontendRow[] {
    const t = this.#typed(), t6 = this.#typed6();
    const backends = new Map<number, Array<{ id: number; b: L.Backend }>>();
    for (const { key: id, value: b } of [...t.backends.entries(), ...t6?.backends.entries() ?? []]) {
      const list = backends.get(b.svc_id) ?? [];
      list.push({ id, b });
      backends.set(b.svc_id, list);
    }
    const rows = [...t.services.entries(), ...t6?.services.entries() ?? []].map(({ key, value }): FrontendRow => {
      const fe = decodeFrontend(key, value);
      const s = readSvcStats(this.#map('sl_svc_stats'), fe.svcId, this.#cpus);
      const sk = readSockStats(this.#map('sl_sock_stats'), fe.svcId, this.#cpus);
      return {
        id: fe.svcId, frontend: `${formatAddrPort(fe.vip, fe.port)}/${fe.proto}`, vip: fe.vip, port: fe.port, family: fe.vip.includes(':') ? 'ipv6' : 'ipv4',
        protocol: fe.proto, type: fe.scope === L.SL_SCOPE_CLUSTER ? 'ClusterIP' : 'External',
        name: fe.name, affinityTimeout: fe.affinityTimeout, maglevSize: fe.maglevSize,
        backends: (backends.get(fe.svcId) ?? []).map(({ id, b }) => ({
          id, address: formatAddrPort(b.ip, b.port), state: b.flags & L.SL_BE_F_TERMINATING ? 'terminating' as const : 'active' as const,
        })).sort((a, b) => a.id - b.id),
        stats: {
          connections: Number(s.conns), packets: Number(s.packets), bytes: Number(s.bytes), rejects: Number(s.rejects),
          socketTranslations: Number(sk.translations), socketRejects: Number(sk.rejects),
        },
      };
    });
    return rows.sort((a, b) => a.id - b.id);
  }

  /** Flows of both families (sl_ct, then sl_ct6). */
  conntrack(): CtRow[] {
    const now = monotonicNs();
    const entries: Array<{ key: L.CtKey; value: Pick<L.CtEntry, 'nat_addr' | 'nat_port' | 'svc_id' | 'backend_id' | 'flags' | 'created_ns' | 'last_seen_ns'> }> =
      [...this.#typed().ct.entries(), ...this.#typed6()?.ct.entries() ?? []];
    return entries.map(({ key: k, value: e }) => ({
      direction: k.dir === L.SL_CT_DIR_REPLY ? 'reply' as const : 'service' as const, protocol: L.protoName(k.proto),
      source: formatAddrPort(k.saddr, k.sport), destination: formatAddrPort(k.daddr, k.dport), nat: formatAddrPort(e.nat_addr, e.nat_port),
      serviceId: e.svc_id, backendId: e.backend_id, closing: !!(e.flags & L.SL_CT_F_CLOSING),
      ageSeconds: secondsSince(now, e.created_ns), idleSeconds: secondsSince(now, e.last_seen_ns),
    }));
  }

  affinity(): AffinityRow[] {
    const now = monotonicNs();
    return this.#typed().affinity.entries().map(({ key: k, value: v }) => (
      { serviceId: k.svc_id, client: L.affClient(k), backendId: v.backend_id, idleSeconds: secondsSince(now, v.last_used_ns) }));
  }

  /** loadBalancerSourceRanges as programmed (sl_src_ranges, sl_src_ranges6): frontend id and CIDR. */
  sourceRanges(): Array<{ serviceId: number; cidr: string }> {
    const rows = (map: L.MapName, codec: typeof L.srcRangeKey) => this.#map(map).entries().map(({ key }) => {
      const k = codec.decode(key);
      return { serviceId: k.svc_id, cidr: `${k.addr}/${k.prefixlen - 32}` };
    });
    return [...rows('sl_src_ranges', L.srcRangeKey), ...this.#typed6() ? rows('sl_src_ranges6', L.srcRange6Key) : []];
  }

  /** Node-wide datapath counters (see SL_CNT_* in bpf/sluice_maps.h). */
  counters(): Record<CounterName, number> {
    const out = {} as Record<CounterName, number>;
    L.COUNTER_NAMES.forEach((name, i) => {
      out[name] = Number(sumPerCpu(this.#map('sl_counters').lookup(u32Key(i)), COUNTER, this.#cpus, { n: 0n }).n);
    });
    L.DROP_NAMES.forEach((name, i) => {
      out[`drop_${name}`] = Number(sumPerCpu(this.#map('sl_drops').lookup(u32Key(i)), COUNTER, this.#cpus, { n: 0n }).n);
    });
    return out;
  }

  /** Entries in use and capacity of every map. */
  fill(): Array<{ map: L.MapName; entries: number; capacity: number }> {
    // Array maps are always "full"; their use is what the services maps say.
    const has6 = !!this.#typed6();
    const services = this.#map('sl_services').count() + (has6 ? this.#map('sl_services6').count() : 0);
    return L.MAP_NAMES.filter((m) => m !== 'sl_counters' && m !== 'sl_drops' && (has6 || !V6_ONLY.has(m))).map((m) => {
      const map = this.#map(m);
      let entries: number;
      // u16 slots of the runs: each table, rounded to a word, and two per backend id.
      if (m === 'sl_maglev') entries = this.services().reduce((n, s) => n + 2 * maglevRunWords(s.maglevSize, s.backends.length), 0);
      else if (m === 'sl_svc_stats' || m === 'sl_sock_stats') entries = services;
      else entries = map.count();
      const capacity = m === 'sl_maglev' ? map.maxEntries * L.SL_MAGLEV_CHUNK : map.maxEntries;
      return { map: m, entries, capacity };
    });
  }
}

/** Maps an agent from before IPv6 did not pin. */
const V6_ONLY = new Set<L.MapName>(['sl_services6', 'sl_backends6', 'sl_ct6', 'sl_src_ranges6', 'sl_config6', 'sl_frags6', 'sl_sock_rev6']);
const ENOENT = 2;

/** One u64 per CPU. */
const COUNTER = { size: 8, encode: () => Buffer.alloc(8), decode: (b: Buffer, o = 0) => ({ n: b.readBigUInt64LE(o) }) };

/** The pinned maps of a node, opened as they are first read. */
export class PinnedMaps extends MapRows {
  readonly dir: string;
  readonly #maps: Map<L.MapName, LibbpfMap>;

  constructor(node: string, pinRoot = DEFAULT_PIN_ROOT) {
    const dir = pinDir(node, pinRoot);
    if (!fs.existsSync(path.join(dir, 'sl_services'))) {
      throw new Error(`no Sluice maps for node ${node} under ${dir} (is the agent running there, with this --pin-root?)`);
    }
    const maps = new Map<L.MapName, LibbpfMap>();
    const cpus = bpf.numPossibleCpus();
    super((name) => {
      let m = maps.get(name);
      if (!m) maps.set(name, m = LibbpfMap.openPinned(path.join(dir, name), cpus));
      return m;
    }, cpus);
    this.dir = dir;
    this.#maps = maps;
  }

  close(): void {
    for (const m of this.#maps.values()) m.close();
    this.#maps.clear();
  }
}

/** CLOCK_MONOTONIC, the clock bpf_ktime_get_ns() reads. */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

function secondsSince(now: bigint, then: bigint): number {
  return now > then ? Math.round(Number(now - then) / 1e7) / 100 : 0;
}
