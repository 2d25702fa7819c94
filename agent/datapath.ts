// Programs frontends (service address:port/protocol) into the pinned BPF maps and keeps an
// in-memory copy of what is there. Each frontend changes atomically from the datapath's view:
// new backends, then a fresh Maglev run, then one write of the service entry that publishes both;
// what the old entry referenced is removed last. Capacity is checked for a whole change before
// anything is written, so a change that does not fit is refused, not half-applied.
import fs from 'node:fs';
import path from 'node:path';
import * as bpf from './bpf/libbpf.ts';
import * as L from './bpf/layout.ts';
import { datapathObjects, openObjects, type LoadedObjects } from './bpf/objects.ts';
import { buildMaglev, maglevSize } from './maglev.ts';
import { SlotAllocator } from './slot-allocator.ts';

export interface BackendSpec {
  ip: string;
  port: number;
  terminating?: boolean;
  /** Runs on this node (north-south sends it without source NAT). */
  local?: boolean;
}

export interface FrontendSpec {
  vip: string;
  port: number;
  proto: 'TCP' | 'UDP';
  scope?: number;
  /** For people: "namespace/name:port", truncated to fit the map. */
  name: string;
  /** sessionAffinity ClientIP timeout in seconds; 0 when there is no affinity. */
  affinityTimeout: number;
  /** externalTrafficPolicy Local: backends are this node's, and none means drop. */
  localOnly?: boolean;
  backends: BackendSpec[];
}

export interface ProgrammedFrontend {
  key: string;
  vip: string;
  port: number;
  proto: 'TCP' | 'UDP';
  scope: number;
  name: string;
  svcId: number;
  maglevBase: number;
  maglevSize: number;
  affinityTimeout: number;
  localOnly: boolean;
  /** "ip:port" -> backend id and state. */
  backends: Map<string, { id: number; ip: string; port: number; terminating: boolean; local: boolean }>;
}

export class CapacityError extends Error {
  readonly map: string;
  constructor(map: string, needed: number, available: number) {
    super(`${map} is full: this change needs ${needed} more entries, ${available} are free`);
    this.name = 'CapacityError';
    this.map = map;
  }
}

export type MapSizes = { services: number; backends: number; maglev: number; ct: number; affinity: number };

export const DEFAULT_SIZES: MapSizes = L.DEFAULT_SIZES;

/** sl_maglev holds SL_MAGLEV_CHUNK slots per element. */
const maglevElems = (slots: number) => Math.ceil(slots / L.SL_MAGLEV_CHUNK);

const SIZE_OF: Record<keyof MapSizes, L.MapName[]> = {
  services: ['sl_services', 'sl_svc_stats'], backends: ['sl_backends'], maglev: ['sl_maglev'],
  ct: ['sl_ct'], affinity: ['sl_affinity'],
};

export const DEFAULT_PIN_ROOT = '/sys/fs/bpf/sluice';

export function frontendKey(f: { vip: string; port: number; proto: string; scope?: number }): string {
  return `${f.vip}:${f.port}/${f.proto}${f.scope ? '/external' : ''}`;
}

export function pinDir(node: string, pinRoot = DEFAULT_PIN_ROOT): string {
  if (!/^[A-Za-z0-9._-]+$/.test(node)) throw new Error(`node name ${JSON.stringify(node)} is not usable as a directory name`);
  return path.join(pinRoot, node);
}

export interface OpenOptions {
  node: string;
  pinRoot?: string;
  /** Directory of the compiled datapath objects (default: build/bpf of this checkout). */
  objectDir?: string;
  /** Sizes for maps created now; pinned maps keep the size they were created with. */
  sizes?: Partial<MapSizes>;
  warn?: (msg: string, fields?: Record<string, unknown>) => void;
}

export class Datapath {
  readonly node: string;
  readonly pinDir: string;
  readonly fds: Record<L.MapName, number>;
  readonly sizes: MapSizes;
  /** Program fds, valid until close(). */
  readonly programs: { fromPod: number; toPod: number; extXdp: number; extTc: number; extEgress: number };
  /** True when pinned maps from an earlier run were found and adopted. */
  readonly adopted: boolean;
  #objs: LoadedObjects;
  #maglev: bpf.MappedArray;
  #frontends = new Map<string, ProgrammedFrontend>();
  #alloc: SlotAllocator;
  #nextBackendId = 1;
  #freeSvcIds: number[] = [];
  #nextSvcId = 1;
  #backendCount = 0;
  readonly #cpus: number;

  private constructor(o: OpenOptions, objs: LoadedObjects, sizes: MapSizes) {
    this.node = o.node;
    this.pinDir = pinDir(o.node, o.pinRoot);
    this.#objs = objs;
    this.sizes = sizes;
    this.adopted = objs.adopted;
    this.#cpus = bpf.numPossibleCpus();
    this.fds = objs.maps;
    const prog = (name: string) => {
      const fd = objs.programs[name];
      if (fd === undefined) throw new Error(`program ${name} is in none of the datapath objects`);
      return fd;
    };
    this.programs = {
      fromPod: prog('sl_from_pod'), toPod: prog('sl_to_pod'), extXdp: prog('sl_ext_xdp'),
      extTc: prog('sl_ext_tc'), extEgress: prog('sl_ext_egress'),
    };
    this.#maglev = bpf.mmapArrayU32(this.fds.sl_maglev, sizes.maglev);
    this.#alloc = new SlotAllocator(sizes.maglev);
    this.#adopt();
  }

  /**
   * Load the BPF objects with their maps pinned under <pinRoot>/<node>/. Maps pinned by an earlier
   * agent are reused as they are (with their entries), so a restart never interrupts traffic.
   */
  static open(o: OpenOptions): Datapath {
    const dir = pinDir(o.node, o.pinRoot);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    const want: MapSizes = { ...DEFAULT_SIZES, ...o.sizes };
    want.maglev = maglevElems(want.maglev) * L.SL_MAGLEV_CHUNK;
    const sizeOf = Object.entries(SIZE_OF) as [keyof MapSizes, L.MapName[]][];
    const entries: Partial<Record<L.MapName, number>> = {};
    for (const [k, maps] of sizeOf) for (const m of maps) entries[m] = m === 'sl_maglev' ? maglevElems(want[k]) : want[k];
    const objs = openObjects(datapathObjects(o.objectDir), dir, entries);
    try {
      const sizes = { ...want };
      for (const [k, maps] of sizeOf) {
        for (const m of maps) {
          const n = objs.entries[m] * (m === 'sl_maglev' ? L.SL_MAGLEV_CHUNK : 1);
          if (n !== want[k]) o.warn?.('pinned map keeps its size', { map: m, pinned: n, requested: want[k] });
          sizes[k] = n;
        }
      }
      return new Datapath(o, objs, sizes);
    } catch (e) {
      objs.close();
      throw e;
    }
  }

  close(): void {
    this.#maglev.unmap();
    this.#objs.close();
  }

  get frontends(): ReadonlyMap<string, ProgrammedFrontend> {
    return this.#frontends;
  }

  get backendCount(): number {
    return this.#backendCount;
  }

  /** Rebuild the in-memory view from the pinned maps; drop backends no frontend owns. */
  #adopt(): void {
    const bySvc = new Map<number, ProgrammedFrontend>();
    const runs: Array<{ start: number; len: number }> = [];
    for (const { key, value } of bpf.mapDump(this.fds.sl_services, L.svcKey.size, L.svcValue.size)) {
      const k = L.svcKey.decode(key), v = L.svcValue.decode(value);
      const proto = L.protoName(k.proto) as 'TCP' | 'UDP';
      const fe: ProgrammedFrontend = {
        key: frontendKey({ vip: k.vip, port: k.port, proto, scope: k.scope }), vip: k.vip, port: k.port, proto,
        scope: k.scope, name: v.name, svcId: v.svc_id, maglevBase: v.maglev_base, maglevSize: v.maglev_size,
        affinityTimeout: v.flags & L.SL_SVC_F_AFFINITY ? v.affinity_timeout : 0, localOnly: !!(v.flags & L.SL_SVC_F_LOCAL), backends: new Map(),
      };
      this.#frontends.set(fe.key, fe);
      bySvc.set(fe.svcId, fe);
      if (fe.maglevSize) runs.push({ start: fe.maglevBase, len: fe.maglevSize });
      this.#nextSvcId = Math.max(this.#nextSvcId, fe.svcId + 1);
    }
    for (let id = 1; id < this.#nextSvcId; id++) if (!bySvc.has(id)) this.#freeSvcIds.push(id);
    this.#alloc = SlotAllocator.fromUsed(this.sizes.maglev, runs);
    const orphans: Buffer[] = [];
    for (const { key, value } of bpf.mapDump(this.fds.sl_backends, 4, L.backend.size)) {
      const id = key.readUInt32LE(0), b = L.backend.decode(value);
      this.#nextBackendId = Math.max(this.#nextBackendId, id + 1);
      const fe = bySvc.get(b.svc_id);
      if (!fe) { orphans.push(key); continue; }
      fe.backends.set(`${b.ip}:${b.port}`, { id, ip: b.ip, port: b.port, terminating: !!(b.flags & L.SL_BE_F_TERMINATING), local: !!(b.flags & L.SL_BE_F_LOCAL) });
      this.#backendCount++;
    }
    for (const k of orphans) bpf.mapDelete(this.fds.sl_backends, k);
  }

  /**
   * Program `set` (add or replace) and remove the frontends named in `remove`. Throws
   * CapacityError before writing anything when the result would not fit the maps.
   */
  apply(set: FrontendSpec[], remove: string[] = []): { changed: number; removed: number } {
    const specs = new Map(set.map((s) => [frontendKey(s), normalise(s)]));
    const removeKeys = remove.filter((k) => this.#frontends.has(k) && !specs.has(k));
    this.#checkCapacity(specs, removeKeys);

    let removed = 0, changed = 0;
    for (const k of removeKeys) { this.#remove(k); removed++; }
    for (const [k, s] of specs) if (this.#program(k, s)) changed++;
    return { changed, removed };
  }

  #checkCapacity(specs: Map<string, FrontendSpec>, removeKeys: string[]): void {
    let services = this.#frontends.size - removeKeys.length;
    let backends = this.#backendCount;
    let slots = 0;
    for (const k of removeKeys) backends -= this.#frontends.get(k)!.backends.size;
    for (const [k, s] of specs) {
      const cur = this.#frontends.get(k);
      if (!cur) services++;
      const keys = new Set(s.backends.map(beKey));
      backends += [...keys].filter((b) => !cur?.backends.has(b)).length;
      backends -= cur ? [...cur.backends.keys()].filter((b) => !keys.has(b)).length : 0;
      if (!cur || !sameKeys(cur.backends, keys)) slots += keys.size ? tableSize(cur, keys.size) : 0;
    }
    // Service ids index the per-CPU stats array and 0 is reserved.
    if (services > this.sizes.services - 1) throw new CapacityError('sl_services', services - this.#frontends.size, this.sizes.services - 1 - this.#frontends.size);
    if (backends > this.sizes.backends) throw new CapacityError('sl_backends', backends - this.#backendCount, this.sizes.backends - this.#backendCount);
    let free = this.#alloc.available;
    if (slots > free && slots <= free + this.#alloc.quarantined) {
      this.#alloc.settle();
      free = this.#alloc.available;
    }
    if (slots > free) throw new CapacityError('sl_maglev', slots, free);
  }

  #remove(key: string): void {
    const fe = this.#frontends.get(key)!;
    bpf.mapDelete(this.fds.sl_services, L.svcKey.encode(svcKeyOf(fe)));
    this.#deleteBackends([...fe.backends.values()].map((b) => b.id));
    this.#backendCount -= fe.backends.size;
    this.#alloc.free(fe.maglevBase, fe.maglevSize);
    this.#freeSvcIds.push(fe.svcId);
    this.#frontends.delete(key);
  }

  /** Returns false when the frontend was already programmed exactly so. */
  #program(key: string, s: FrontendSpec): boolean {
    const cur = this.#frontends.get(key);
    const wanted = new Map(s.backends.map((b) => [beKey(b), b]));
    const tableChanged = !cur || !sameKeys(cur.backends, new Set(wanted.keys()));
    if (cur && !tableChanged && cur.name === s.name && cur.affinityTimeout === s.affinityTimeout && cur.localOnly === !!s.localOnly &&
        [...wanted].every(([k, b]) => sameBackendFlags(cur.backends.get(k)!, b))) {
      return false;
    }

    const svcId = cur?.svcId ?? this.#takeSvcId();
    const backends: ProgrammedFrontend['backends'] = new Map();
    const writes: Array<[number, BackendSpec]> = [];
    for (const [k, b] of wanted) {
      const old = cur?.backends.get(k);
      const id = old?.id ?? this.#nextBackendId++;
      backends.set(k, { id, ip: b.ip, port: b.port, terminating: !!b.terminating, local: !!b.local });
      if (!old || !sameBackendFlags(old, b)) writes.push([id, b]);
    }
    this.#writeBackends(writes, svcId, s.proto);

    let base = cur?.maglevBase ?? 0, size = cur?.maglevSize ?? 0;
    if (tableChanged) {
      size = wanted.size ? tableSize(cur, wanted.size) : 0;
      base = 0;
      if (size) {
        base = this.#alloc.alloc(size);
        if (base < 0) throw new CapacityError('sl_maglev', size, this.#alloc.available);
        const names = [...wanted.keys()];
        const ids = names.map((n) => backends.get(n)!.id);
        const table = buildMaglev(names, size);
        const run = this.#maglev.view.subarray(base, base + size);
        for (let i = 0; i < size; i++) run[i] = ids[table[i]!]!;
      }
    }

    const value = L.svcValue.encode({
      svc_id: svcId, maglev_base: base, maglev_size: size, count: wanted.size,
      flags: (s.affinityTimeout > 0 ? L.SL_SVC_F_AFFINITY : 0) | (s.localOnly ? L.SL_SVC_F_LOCAL : 0), affinity_timeout: s.affinityTimeout,
      name: s.name.slice(0, L.SL_NAME_LEN - 1),
    });
    const fe: ProgrammedFrontend = {
      key, vip: s.vip, port: s.port, proto: s.proto, scope: s.scope ?? 0, name: s.name.slice(0, L.SL_NAME_LEN - 1),
      svcId, maglevBase: base, maglevSize: size, affinityTimeout: s.affinityTimeout, localOnly: !!s.localOnly, backends,
    };
    if (!cur) this.#resetStats(svcId);
    // The publishing write: from here on, packets use the new backends and table.
    bpf.mapUpdate(this.fds.sl_services, L.svcKey.encode(svcKeyOf(fe)), value);

    if (cur) {
      if (tableChanged) this.#alloc.free(cur.maglevBase, cur.maglevSize);
      const gone = [...cur.backends].filter(([k]) => !wanted.has(k)).map(([, b]) => b.id);
      this.#deleteBackends(gone);
    }
    this.#backendCount += backends.size - (cur?.backends.size ?? 0);
    this.#frontends.set(key, fe);
    return true;
  }

  #takeSvcId(): number {
    return this.#freeSvcIds.pop() ?? this.#nextSvcId++;
  }

  #writeBackends(writes: Array<[number, BackendSpec]>, svcId: number, proto: 'TCP' | 'UDP'): void {
    if (!writes.length) return;
    const keys = Buffer.alloc(4 * writes.length), values = Buffer.alloc(L.backend.size * writes.length);
    writes.forEach(([id, b], i) => {
      keys.writeUInt32LE(id, 4 * i);
      const flags = (b.terminating ? L.SL_BE_F_TERMINATING : 0) | (b.local ? L.SL_BE_F_LOCAL : 0);
      L.backend.encode({ ip: b.ip, port: b.port, proto: L.IPPROTO[proto], flags, svc_id: svcId }, values, i * L.backend.size);
    });
    bpf.mapUpdateBatch(this.fds.sl_backends, keys, values, writes.length);
  }

  #deleteBackends(ids: number[]): void {
    if (!ids.length) return;
    const keys = Buffer.alloc(4 * ids.length);
    ids.forEach((id, i) => keys.writeUInt32LE(id, 4 * i));
    bpf.mapDeleteBatch(this.fds.sl_backends, keys, ids.length);
  }

  #resetStats(svcId: number): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(svcId);
    bpf.mapUpdate(this.fds.sl_svc_stats, key, Buffer.alloc(L.svcStats.size * this.#cpus));
  }

  /** The node's own address, used as the source of north-south flows sent to other nodes. */
  setNodeIp(ip: string): void {
    bpf.mapUpdate(this.fds.sl_config, Buffer.alloc(4), L.config.encode({ node_ip: ip }));
  }

  /** Per-service counters summed over CPUs. */
  stats(svcId: number): L.SvcStats {
    return readSvcStats(this.fds.sl_svc_stats, svcId, this.#cpus);
  }
}

export function readSvcStats(fd: number, svcId: number, cpus = bpf.numPossibleCpus()): L.SvcStats {
  const key = Buffer.alloc(4), buf = Buffer.alloc(L.svcStats.size * cpus);
  key.writeUInt32LE(svcId);
  const sum: L.SvcStats = { conns: 0n, packets: 0n, bytes: 0n, rejects: 0n };
  if (!bpf.mapLookup(fd, key, buf)) return sum;
  for (let c = 0; c < cpus; c++) {
    const s = L.svcStats.decode(buf, c * L.svcStats.size);
    sum.conns += s.conns; sum.packets += s.packets; sum.bytes += s.bytes; sum.rejects += s.rejects;
  }
  return sum;
}

function sameBackendFlags(a: { terminating: boolean; local: boolean }, b: BackendSpec): boolean {
  return a.terminating === !!b.terminating && a.local === !!b.local;
}

function beKey(b: { ip: string; port: number }): string {
  return `${b.ip}:${b.port}`;
}

function svcKeyOf(f: { vip: string; port: number; proto: 'TCP' | 'UDP'; scope?: number }) {
  return { vip: f.vip, port: f.port, proto: L.IPPROTO[f.proto], scope: f.scope ?? 0 };
}

function sameKeys(a: ReadonlyMap<string, unknown>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const k of b) if (!a.has(k)) return false;
  return true;
}

/**
 * Keep the current table size while it still gives every backend 100 slots and is not wastefully
 * large, so adding or removing a backend disturbs only that backend's share of flows.
 */
function tableSize(cur: ProgrammedFrontend | undefined, n: number): number {
  const want = maglevSize(n);
  if (cur && cur.maglevSize >= want && cur.maglevSize <= 4 * want) return cur.maglevSize;
  return want;
}

function normalise(s: FrontendSpec): FrontendSpec {
  L.ipToBytes(s.vip);
  for (const b of s.backends) {
    L.ipToBytes(b.ip);
    if (!Number.isInteger(b.port) || b.port < 1 || b.port > 65535) throw new Error(`${s.name}: backend port ${b.port} is out of range`);
  }
  if (s.backends.length > 65535) throw new Error(`${s.name}: ${s.backends.length} backends exceed the 65535 one frontend can hold`);
  return s;
}
