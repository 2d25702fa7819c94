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

function liveBackends(dp: GcTarget): Set<number> {
  const live = new Set<number>();
  for (const fe of dp.frontends.values()) for (const id of fe.backends.ids()) live.add(id);
  return live;
}

export function collectGarbage(dp: GcTarget, t: GcTimeouts = DEFAULT_GC, now = monotonicNs()): GcResult {
  const live = liveBackends(dp);
  const timeoutOf = new Map<number, number>();
  for (const fe of dp.frontends.values()) timeoutOf.set(fe.svcId, fe.affinityTimeout);

  const { scanned, deleted } = sweepConntrack(dp, (e, proto) => {
    const idle = Number(now - e.last_seen_ns) / 1e9;
    const limit = e.flags & L.SL_CT_F_CLOSING ? t.closingSeconds : proto === L.IPPROTO.TCP ? t.tcpSeconds : t.udpSeconds;
    const unanswered = t.synSeconds !== undefined && proto === L.IPPROTO.TCP && !(e.flags & (L.SL_CT_F_REPLIED | L.SL_CT_F_CLOSING)) &&
      e.created_ns > (t.synSince ?? 0n) && Number(now - e.created_ns) / 1e9 > t.synSeconds;
    // UDP has no end of flow: like kube-proxy, forget flows to removed endpoints so the next
    // datagram is balanced again. TCP flows to a removed (terminating) endpoint run on.
    return idle > limit || unanswered || (proto === L.IPPROTO.UDP && !live.has(e.backend_id));
  });

  const gone: Buffer[] = [];
  dp.maps.sl_affinity.scan((key, value) => {
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
  const live = liveBackends(dp);
  return sweepConntrack(dp, (e, proto) => proto === L.IPPROTO.UDP && !live.has(e.backend_id)).deleted;
}

/**
 * Delete the conntrack entries @expired names. The map is scanned in place (it may hold hundreds of
 * thousands of flows): only the keys of expired entries are copied, so a pass costs memory in
 * proportion to what it deletes, not to what the map holds.
 */
function sweepConntrack(dp: GcTarget, expired: (e: CtAge, proto: number) => boolean): { scanned: number; deleted: number } {
  const v4 = sweepMap(dp.maps.sl_ct, CT4, expired);
  if (!dp.maps.sl_ct6) return v4;
  const v6 = sweepMap(dp.maps.sl_ct6, CT6, expired);
  return { scanned: v4.scanned + v6.scanned, deleted: v4.deleted + v6.deleted };
}

function sweepMap(ct: BpfMap, CT: CtLayout, expired: (e: CtAge, proto: number) => boolean): { scanned: number; deleted: number } {
  const isExpired = (value: Buffer, key: Buffer) => expired({
    flags: value.readUInt16LE(CT.flags), backend_id: value.readUInt32LE(CT.backendId),
    created_ns: value.readBigUInt64LE(CT.created), last_seen_ns: value.readBigUInt64LE(CT.lastSeen),
  }, key[CT.proto]!);
  const dead: Array<{ key: Buffer; created: bigint }> = [];
  let scanned = 0;
  ct.scan((key, value) => {
    scanned++;
    if (isExpired(value, key)) dead.push({ key: Buffer.from(key), created: value.readBigUInt64LE(CT.created) });
  });
  // A client may have reused the tuple since the scan: look again right before deleting each
  // entry, and spare one that now belongs to another, younger connection. One key at a time keeps
  // the window between that look and the delete to microseconds.
  let deleted = 0;
  for (const { key, created } of dead) {
    const current = ct.lookup(key);
    if (current && current.readBigUInt64LE(CT.created) === created && isExpired(current, key) && ct.delete(key)) deleted++;
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
