// `sluice monitor`: the datapath's events (bpf/lib/events.h) as they happen, named for people —
// which frontend, why a packet was dropped or refused, which backend a sampled flow got. Reads the
// node's pinned ring buffer, so like the rest of the CLI it needs no agent; flows and affinity hits
// are asked of the datapath (sl_event_config) only while a monitor wants them.
import { formatAddrPort } from '../common/ip.ts';
import { setImmediate as tick } from 'node:timers/promises';
import path from 'node:path';
import * as bpf from './bpf/libbpf.ts';
import * as L from './bpf/layout.ts';
import { monotonicNs, type FrontendRow, type PinnedMaps } from './inspect.ts';

export const EVENT_TYPES = ['drop', 'reject', 'flow', 'affinity'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One event as `sluice monitor -o json` prints it (one object per line). */
export interface MonitorEvent {
  time: string;
  type: EventType;
  reason: string;
  protocol: string;
  source: string;
  destination: string;
  serviceId: number;
  /** "namespace/name:port" of the frontend, null when it is gone from sl_services. */
  service: string | null;
  scope: 'ClusterIP' | 'External' | null;
  /** flow, affinity: the backend's address (its id when it is gone). */
  backend: string | null;
}

export interface MonitorOptions {
  /** Which types to show; flow and affinity are asked of the datapath only when listed here. */
  types: ReadonlySet<EventType>;
  /** "namespace/name" (every port) or "namespace/name:port". */
  service?: string;
  /** Emit one in `sample` new flows / affinity hits (1: each). */
  sample: number;
  /** Stop after this many events shown. */
  count?: number;
  /** Stop after this long. */
  durationMs?: number;
  /** Stops the monitor at its next poll (Ctrl-C, a closed stdout). */
  signal: AbortSignal;
  /** Called once the ring is open: events from then on are shown, older ones skipped. */
  onReady?(): void;
  onEvent(e: MonitorEvent): void;
}

const POLL_MS = 100;
/** How often an unknown frontend id makes the name cache read sl_services again. */
const RENAME_MS = 250;

/** Frontend ids to rows, read again when an id is unknown (a Service added since). */
class FrontendNames {
  readonly #maps: PinnedMaps;
  #rows = new Map<number, FrontendRow>();
  #readAt = -Infinity;

  constructor(maps: PinnedMaps) {
    this.#maps = maps;
  }

  get(id: number): FrontendRow | undefined {
    if (!this.#rows.has(id) && performance.now() - this.#readAt > RENAME_MS) {
      this.#rows = new Map(this.#maps.services().map((r) => [r.id, r]));
      this.#readAt = performance.now();
    }
    return this.#rows.get(id);
  }
}

/** Whether frontend `name` ("ns/name:port") is what `filter` ("ns/name" or "ns/name:port") asks for. */
export function serviceMatches(name: string | undefined, filter: string): boolean {
  return name !== undefined && (name === filter || name.startsWith(`${filter}:`));
}

/** Shows events until a bound or the signal stops it; returns how many were shown. */
export async function monitor(maps: PinnedMaps, o: MonitorOptions): Promise<number> {
  const names = new FrontendNames(maps);
  const records: Buffer[] = [];
  let ring = -1, config: EventConfig | null = null, rb: bpf.RingBuffer | null = null;
  let shown = 0;
  try {
    ring = bpf.objGet(path.join(maps.dir, 'sl_events'));
    config = new EventConfig(path.join(maps.dir, 'sl_event_config'));
    config.want(o.types, o.sample);
    rb = new bpf.RingBuffer(ring, (r) => void records.push(r));
    const start = monotonicNs();
    const wallAtStart = Date.now();
    const deadline = o.durationMs === undefined ? Infinity : performance.now() + o.durationMs;
    o.onReady?.();
    while (!o.signal.aborted && performance.now() < deadline && (o.count === undefined || shown < o.count)) {
      rb.poll(Math.max(0, Math.min(POLL_MS, Math.ceil(deadline - performance.now()))));
      for (const r of records.splice(0)) {
        const e = decodeEvent(r);
        // The ring keeps what nobody read: a monitor shows what happens from its start on.
        if (e.ts_ns < start) continue;
        const ev = describe(e, names, wallAtStart + Number(e.ts_ns - start) / 1e6);
        if (!o.types.has(ev.type) || (o.service && !serviceMatches(ev.service ?? undefined, o.service))) continue;
        o.onEvent(ev);
        if (++shown === o.count) break;
      }
      await tick(); // let Ctrl-C and stdout errors through
    }
  } finally {
    rb?.close();
    config?.restore();
    if (ring >= 0) bpf.closeFd(ring);
  }
  return shown;
}

/**
 * A ring-buffer record: struct sl_event about an IPv4 packet, struct sl_event6 (the same fields with
 * 128-bit addresses) about an IPv6 one, told apart by the record's size.
 */
export function decodeEvent(r: Buffer): L.DatapathEvent {
  return r.length >= L.event6.size ? L.event6.decode(r) : L.event.decode(r);
}

function describe(e: L.DatapathEvent, names: FrontendNames, wallMs: number): MonitorEvent {
  const fe = names.get(e.svc_id);
  const type = (L.EVENT_TYPE_NAMES[e.type] ?? `type_${e.type}`) as EventType;
  let backend: string | null = null;
  if (e.backend_id) {
    const b = fe?.backends.find((x) => x.id === e.backend_id);
    backend = b ? b.address : `id ${e.backend_id}`;
  }
  return {
    time: new Date(wallMs).toISOString(), type, reason: L.EVENT_REASONS[e.reason] ?? `reason_${e.reason}`,
    protocol: L.protoName(e.proto), source: formatAddrPort(e.saddr, e.sport), destination: formatAddrPort(e.daddr, e.dport),
    serviceId: e.svc_id, service: fe?.name ?? null, scope: fe ? fe.type : null, backend,
  };
}

/** One line for people, as `cilium monitor` prints them. */
export function formatEvent(e: MonitorEvent): string {
  const svc = e.service ? `${e.service} (${e.scope}, id ${e.serviceId})` : `frontend id ${e.serviceId}`;
  const what = e.type === 'drop' || e.type === 'reject' ? `${e.type.toUpperCase()} ${e.reason}` : e.type.toUpperCase();
  const to = e.backend ? ` -> backend ${e.backend}` : '';
  return `${e.time} ${what} ${e.protocol} ${e.source} -> ${e.destination}${to} service ${svc}\n`;
}

/**
 * sl_event_config while a monitor runs: it turns on the sampled types it shows and puts back what
 * it found on the way out (so a second monitor's wishes survive the first one's exit).
 */
class EventConfig {
  readonly #fd: number;
  readonly #key = Buffer.alloc(4);
  #previous: Buffer | null = null;

  constructor(pin: string) {
    this.#fd = bpf.objGet(pin);
  }

  want(types: ReadonlySet<EventType>, sample: number): void {
    const flags = (types.has('flow') ? L.SL_EVC_F_FLOW : 0) | (types.has('affinity') ? L.SL_EVC_F_AFFINITY : 0);
    if (!flags) return;
    const prev = Buffer.alloc(L.eventConfig.size);
    bpf.mapLookup(this.#fd, this.#key, prev);
    this.#previous = prev;
    const old = L.eventConfig.decode(prev);
    bpf.mapUpdate(this.#fd, this.#key, L.eventConfig.encode({ flags: old.flags | flags, sample }));
  }

  restore(): void {
    if (this.#previous) bpf.mapUpdate(this.#fd, this.#key, this.#previous);
    this.#previous = null;
    bpf.closeFd(this.#fd);
  }
}
