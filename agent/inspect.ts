// Reads the pinned maps of a node into plain rows, without the agent: the `sluice` CLI, the
// metrics and the tests all look at the datapath through this module.
import fs from 'node:fs';
import path from 'node:path';
import * as bpf from './bpf/libbpf.ts';
import * as L from './bpf/layout.ts';
import { DEFAULT_PIN_ROOT, pinDir, readSvcStats } from './datapath.ts';

export interface ServiceRow {
  id: number;
  frontend: string;
  vip: string;
  port: number;
  protocol: string;
  type: 'ClusterIP' | 'External';
  name: string;
  affinityTimeout: number;
  maglevSize: number;
  backends: Array<{ id: number; address: string; state: 'active' | 'terminating' }>;
  stats: { connections: number; packets: number; bytes: number; rejects: number };
}

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

export class PinnedMaps {
  readonly dir: string;
  readonly #fds = new Map<L.MapName, number>();

  constructor(node: string, pinRoot = DEFAULT_PIN_ROOT) {
    this.dir = pinDir(node, pinRoot);
    if (!fs.existsSync(path.join(this.dir, 'sl_services'))) {
      throw new Error(`no Sluice maps for node ${node} under ${this.dir} (is the agent running there, with this --pin-root?)`);
    }
  }

  fd(name: L.MapName): number {
    let fd = this.#fds.get(name);
    if (fd === undefined) {
      fd = bpf.objGet(path.join(this.dir, name));
      this.#fds.set(name, fd);
    }
    return fd;
  }

  close(): void {
    for (const fd of this.#fds.values()) bpf.closeFd(fd);
    this.#fds.clear();
  }

  services(): ServiceRow[] {
    const backends = new Map<number, Array<{ id: number; b: L.Backend }>>();
    for (const { key, value } of bpf.mapDump(this.fd('sl_backends'), 4, L.backend.size)) {
      const b = L.backend.decode(value);
      const list = backends.get(b.svc_id) ?? [];
      list.push({ id: key.readUInt32LE(0), b });
      backends.set(b.svc_id, list);
    }
    const cpus = bpf.numPossibleCpus();
    const rows = bpf.mapDump(this.fd('sl_services'), L.svcKey.size, L.svcValue.size).map(({ key, value }) => {
      const k = L.svcKey.decode(key), v = L.svcValue.decode(value);
      const s = readSvcStats(this.fd('sl_svc_stats'), v.svc_id, cpus);
      return {
        id: v.svc_id, frontend: `${k.vip}:${k.port}/${L.protoName(k.proto)}`, vip: k.vip, port: k.port,
        protocol: L.protoName(k.proto), type: k.scope === L.SL_SCOPE_EXTERNAL ? 'External' as const : 'ClusterIP' as const,
        name: v.name, affinityTimeout: v.flags & L.SL_SVC_F_AFFINITY ? v.affinity_timeout : 0, maglevSize: v.maglev_size,
        backends: (backends.get(v.svc_id) ?? []).map(({ id, b }) => ({
          id, address: `${b.ip}:${b.port}`, state: b.flags & L.SL_BE_F_TERMINATING ? 'terminating' as const : 'active' as const,
        })).sort((a, b) => a.id - b.id),
        stats: { connections: Number(s.conns), packets: Number(s.packets), bytes: Number(s.bytes), rejects: Number(s.rejects) },
      };
    });
    return rows.sort((a, b) => a.id - b.id);
  }

  conntrack(): CtRow[] {
    const now = monotonicNs();
    return bpf.mapDump(this.fd('sl_ct'), L.ctKey.size, L.ctEntry.size, 1024).map(({ key, value }) => {
      const k = L.ctKey.decode(key), e = L.ctEntry.decode(value);
      return {
        direction: k.dir === L.SL_CT_DIR_REPLY ? 'reply' as const : 'service' as const, protocol: L.protoName(k.proto),
        source: `${k.saddr}:${k.sport}`, destination: `${k.daddr}:${k.dport}`, nat: `${e.nat_addr}:${e.nat_port}`,
        serviceId: e.svc_id, backendId: e.backend_id, closing: !!(e.flags & L.SL_CT_F_CLOSING),
        ageSeconds: secondsSince(now, e.created_ns), idleSeconds: secondsSince(now, e.last_seen_ns),
      };
    });
  }

  affinity(): AffinityRow[] {
    const now = monotonicNs();
    return bpf.mapDump(this.fd('sl_affinity'), L.affKey.size, L.affValue.size, 1024).map(({ key, value }) => {
      const k = L.affKey.decode(key), v = L.affValue.decode(value);
      return { serviceId: k.svc_id, client: k.client, backendId: v.backend_id, idleSeconds: secondsSince(now, v.last_used_ns) };
    });
  }

  /** Node-wide datapath counters (see SL_CNT_* in bpf/sluice_maps.h). */
  counters(): Record<(typeof L.COUNTER_NAMES)[number], number> {
    const cpus = bpf.numPossibleCpus();
    const out = {} as Record<(typeof L.COUNTER_NAMES)[number], number>;
    L.COUNTER_NAMES.forEach((name, i) => {
      const key = Buffer.alloc(4), val = Buffer.alloc(8 * cpus);
      key.writeUInt32LE(i);
      let n = 0n;
      if (bpf.mapLookup(this.fd('sl_counters'), key, val)) for (let c = 0; c < cpus; c++) n += val.readBigUInt64LE(8 * c);
      out[name] = Number(n);
    });
    return out;
  }

  /** Entries in use and capacity of every map. */
  fill(): Array<{ map: L.MapName; entries: number; capacity: number }> {
    // Array maps are always "full"; their use is what the services map says.
    const services = bpf.mapCount(this.fd('sl_services'), L.svcKey.size, L.svcValue.size);
    return L.MAP_NAMES.filter((m) => m !== 'sl_counters').map((m) => {
      const info = bpf.mapInfo(this.fd(m));
      let entries: number;
      if (m === 'sl_maglev') entries = this.services().reduce((n, s) => n + s.maglevSize, 0);
      else if (m === 'sl_svc_stats') entries = services;
      else entries = bpf.mapCount(this.fd(m), info.keySize, info.valueSize);
      const capacity = m === 'sl_maglev' ? info.maxEntries * L.SL_MAGLEV_CHUNK : info.maxEntries;
      return { map: m, entries, capacity };
    });
  }
}

/** CLOCK_MONOTONIC, the clock bpf_ktime_get_ns() reads. */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

function secondsSince(now: bigint, then: bigint): number {
  return now > then ? Math.round(Number(now - then) / 1e7) / 100 : 0;
}
