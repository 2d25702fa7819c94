// Ages out conntrack and affinity entries the datapath no longer needs. The BPF side only refreshes
// timestamps (at most once a second per flow); deciding what is dead happens here, off the hot path.
// A flow with traffic within its timeout is never touched. Both families' conntrack maps (sl_ct,
// sl_ct6) are judged alike: same timeouts, same rules.
import * as L from './bpf/layout.ts';
import type { Datapath } from './datapath.ts';
import { monotonicNs } from './inspect.ts';
import { packed, type BpfMap } from './maps/map.ts';

export interface GcTimeouts {
  /** Idle TCP flows (Cilium's default: 6 h). */
  tcpSeconds: number;
  /** TCP flows after FIN or RST. */
  closingSeconds: number;
  /** Idle UDP flows. */
  udpSeconds: number;
  /**
   * TCP flows the backend never answered (no SL_CT_F_REPLIED), counted from their first packet:
   * a flood of unanswered SYNs must not hold conntrack for the established timeout (Cilium: 60 s).
   */
  synSeconds?: number;
  /** Only flows created after this CLOCK_MONOTONIC time are judged unanswered (older pins lack the mark). */
  synSince?: bigint;
}

const field = (codec: { fields: L.Field[] }, name: string) => codec.fields.find((f) => f.name === name)!.offset;
/** Where a conntrack map's key and entry hold what the GC reads: sl_ct's, or sl_ct6's. */
const ctLayout = (key: { fields: L.Field[] }, entry: { fields: L.Field[] }) => ({
  proto: field(key, 'proto'), flags: field(entry, 'flags'), backendId: field(entry, 'backend_id'), created: field(entry, 'created_ns'),
  lastSeen: field(entry, 'last_seen_ns'),
});
type CtLayout = ReturnType<typeof ctLayout>;
const CT4 = ctLayout(L.ctKey, L.ctEntry), CT6 = ctLayout(L.ct6Key, L.ct6Entry);
const AFF = { svcId: field(L.affKey, 'svc_id'), backendId: field(L.affValue, 'backend_id'), lastUsed: field(L.affValue, 'last_used_ns') };

/** The fields of a conntrack entry the GC judges by, read in place (no decode of the whole entry). */
export interface CtAge { flags: number; backend_id: number; created_ns: bigint; last_seen_ns: bigint }

export const DEFAULT_GC: GcTimeouts = { tcpSeconds: 21600, closingSeconds: 10, udpSeconds: 60, synSeconds: 60 };

export interface GcResult { ctScanned: number; ctDeleted: number; affinityDeleted: number }

/** What the GC needs of the datapath: its view of the frontends, and the conntrack (sl_ct6 too when given) and affinity maps. */
export type GcTarget = { frontends: Datapath['frontends']; maps: Pick<Datapath['maps'], 'sl_ct' | 'sl_affinity'> & Partial<Pick<Datapath['maps'], 'sl_ct6'>> };

/**
 * How a pass reads a map: all at once (scan(), for a pass that runs to its end) or one batch per
 * step (scanSteps(), for a pass that pauses between them).
 */
type Scan = (map: BpfMap, visit: (key: Buffer, value: Buffer) => void) => Iterable<void>;
const scanAtOnce: Scan = (map, visit) => { map.scan(visit); return []; };
const scanInSteps: Scan = (map, visit) => map.scanSteps(visit);

/** Frontends walked, or conntrack entries re-checked and deleted, between two pauses of a pass in steps. */
const STEP = 256;

/**
 * The backends whose UDP flows and affinity entries may stay: those of UDP frontends and of
 * frontends with affinity, the only ones such entries name (a TCP frontend's backends are never
 * asked about, and at 10,000 TCP services of 10 endpoints this set was 100,000 ids built every pass).
 */
function* liveBackends(dp: GcTarget): Generator<void, Set<number>> {
  const live = new Set<number>();
  let n = 0;
  for (const fe of dp.frontends.values()) {
    if (fe.proto === 'UDP' || fe.affinityTimeout > 0) for (const id of fe.backends.ids()) live.add(id);
    if (++n % STEP === 0) yield;
  }
  return live;
}

/** Runs a pass's steps to the end, without pausing. */
function toEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

export function collectGarbage(dp: GcTarget, t: GcTimeouts = DEFAULT_GC, now = monotonicNs()): GcResult {
  return toEnd(gcPass(dp, t, now, scanAtOnce));
}

/** Gives the event loop back: what is queued (an update from the control plane) runs first. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * collectGarbage() with pauses: between batches of the map scans (1,024 entries), and every STEP
 * (256) frontends walked or entries re-checked and deleted, it waits for `pause` (the event loop's
 * next turn). A pass over a large conntrack map takes tens to hundreds of ms; run at once, every
 * update from the control plane arriving meanwhile waited for it (the tail of one endpoint change,
 * docs/benchmarks.md). What a change does meanwhile is safe: each entry is looked at again right before its delete, and a
 * backend added during the pass only loses its UDP flows to a new balancing decision.
 */
export async function collectGarbageInSteps(dp: GcTarget, t: GcTimeouts = DEFAULT_GC, now = monotonicNs(),
  pause: () => Promise<void> = nextTurn): Promise<GcResult> {
  const steps = gcPass(dp, t, now, scanInSteps);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await pause();
  }
}

function* gcPass(dp: GcTarget, t: GcTimeouts, now: bigint, scan: Scan): Generator<void, GcResult> {
  const live = yield* liveBackends(dp);
  const timeoutOf = new Map<number, number>();
  for (const fe of dp.frontends.values()) timeoutOf.set(fe.svcId, fe.affinityTimeout);

  const { scanned, deleted } = yield* sweepConntrack(dp, scan, (e, proto) => {
    const idle = Number(now - e.last_seen_ns) / 1e9;
    const limit = e.flags & L.SL_CT_F_CLOSING ? t.closingSeconds : proto === L.IPPROTO.TCP ? t.tcpSeconds : t.udpSeconds;
    const unanswered = t.synSeconds !== undefined && proto === L.IPPROTO.TCP && !(e.flags & (L.SL_CT_F_REPLIED | L.SL_CT_F_CLOSING)) &&
      e.created_ns > (t.synSince ?? 0n) && Number(now - e.created_ns) / 1e9 > t.synSeconds;
    // UDP has no end of flow: like kube-proxy, forget flows to removed endpoints so the next
    // datagram is balanced again. TCP flows to a removed (terminating) endpoint run on.
    return idle > limit || unanswered || (proto === L.IPPROTO.UDP && !live.has(e.backend_id));
  });

  const gone: Buffer[] = [];
  yield* scan(dp.maps.sl_affinity, (key, value) => {
    const timeout = timeoutOf.get(key.readUInt32LE(AFF.svcId));
    if (!timeout || Number(now - value.readBigUInt64LE(AFF.lastUsed)) / 1e9 > timeout || !live.has(value.readUInt32LE(AFF.backendId))) {
      gone.push(Buffer.from(key));
    }
  });
  deleteKeys(dp.maps.sl_affinity, gone);
  return { ctScanned: scanned, ctDeleted: deleted, affinityDeleted: gone.length };
}

/**
 * Right after backends of UDP frontends were removed: forget the flows to them now, as kube-proxy
 * deletes their conntrack entries, so their next datagram goes to a surviving backend without
 * waiting for the next GC pass. Returns the entries deleted.
 */
export function forgetRemovedUdp(dp: GcTarget): number {
  const live = toEnd(liveBackends(dp));
  return toEnd(sweepConntrack(dp, scanAtOnce, (e, proto) => proto === L.IPPROTO.UDP && !live.has(e.backend_id))).deleted;
}

/**
 * Delete the conntrack entries @expired names. The map is scanned in place (it may hold hundreds of
 * thousands of flows): only the keys of expired entries are copied, so a pass costs memory in
 * proportion to what it deletes, not to what the map holds.
 */
function* sweepConntrack(dp: GcTarget, scan: Scan, expired: (e: CtAge, proto: number) => boolean): Generator<void, { scanned: number; deleted: number }> {
  const v4 = yield* sweepMap(dp.maps.sl_ct, CT4, scan, expired);
  if (!dp.maps.sl_ct6) return v4;
  const v6 = yield* sweepMap(dp.maps.sl_ct6, CT6, scan, expired);
  return { scanned: v4.scanned + v6.scanned, deleted: v4.deleted + v6.deleted };
}

function* sweepMap(ct: BpfMap, CT: CtLayout, scan: Scan, expired: (e: CtAge, proto: number) => boolean): Generator<void, { scanned: number; deleted: number }> {
  const isExpired = (value: Buffer, key: Buffer) => expired({
    flags: value.readUInt16LE(CT.flags), backend_id: value.readUInt32LE(CT.backendId),
    created_ns: value.readBigUInt64LE(CT.created), last_seen_ns: value.readBigUInt64LE(CT.lastSeen),
  }, key[CT.proto]!);
  const dead: Array<{ key: Buffer; created: bigint }> = [];
  let scanned = 0;
  yield* scan(ct, (key, value) => {
    scanned++;
    if (isExpired(value, key)) dead.push({ key: Buffer.from(key), created: value.readBigUInt64LE(CT.created) });
  });
  // A client may have reused the tuple since the scan: look again right before deleting each
  // entry, and spare one that now belongs to another, younger connection. One key at a time keeps
  // the window between that look and the delete to microseconds.
  let deleted = 0;
  for (let i = 0; i < dead.length; i++) {
    const { key, created } = dead[i]!;
    const current = ct.lookup(key);
    if (current && current.readBigUInt64LE(CT.created) === created && isExpired(current, key) && ct.delete(key)) deleted++;
    if ((i + 1) % STEP === 0) yield;
  }
  return { scanned, deleted };
}

function deleteKeys(map: BpfMap, keys: Buffer[]): void {
  // Keys an LRU map evicted meanwhile are skipped by deleteBatch.
  for (let i = 0; i < keys.length; i += 1024) {
    const chunk = keys.slice(i, i + 1024);
    map.deleteBatch(packed(chunk, map.keySize), chunk.length);
  }
}
