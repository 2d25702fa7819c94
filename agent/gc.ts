// Ages out conntrack and affinity entries the datapath no longer needs. The BPF side only refreshes
// timestamps (at most once a second per flow); deciding what is dead happens here, off the hot path.
// A flow with traffic within its timeout is never touched.
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
}

const PROTO_OFFSET = L.ctKey.fields.find((f) => f.name === 'proto')!.offset;
const CREATED_OFFSET = L.ctEntry.fields.find((f) => f.name === 'created_ns')!.offset;

export const DEFAULT_GC: GcTimeouts = { tcpSeconds: 21600, closingSeconds: 10, udpSeconds: 60 };

export interface GcResult { ctScanned: number; ctDeleted: number; affinityDeleted: number }

/** What the GC needs of the datapath: its view of the frontends, and the conntrack and affinity maps. */
export type GcTarget = { frontends: Datapath['frontends']; maps: Pick<Datapath['maps'], 'sl_ct' | 'sl_affinity'> };

export function collectGarbage(dp: GcTarget, t: GcTimeouts = DEFAULT_GC, now = monotonicNs()): GcResult {
  const live = new Set<number>();
  const timeoutOf = new Map<number, number>();
  for (const fe of dp.frontends.values()) {
    for (const b of fe.backends.values()) live.add(b.id);
    timeoutOf.set(fe.svcId, fe.affinityTimeout);
  }

  const ct = dp.maps.sl_ct.entries();
  const dead: Buffer[] = [];
  const expired = (value: Buffer, proto: number) => {
    const e = L.ctEntry.decode(value);
    const idle = Number(now - e.last_seen_ns) / 1e9;
    const limit = e.flags & L.SL_CT_F_CLOSING ? t.closingSeconds : proto === L.IPPROTO.TCP ? t.tcpSeconds : t.udpSeconds;
    // UDP has no end of flow: like kube-proxy, forget flows to removed endpoints so the next
    // datagram is balanced again. TCP flows to a removed (terminating) endpoint run on.
    return idle > limit || (proto === L.IPPROTO.UDP && !live.has(e.backend_id));
  };
  const createdAt = new Map<Buffer, bigint>();
  for (const { key, value } of ct) {
    if (expired(value, key[PROTO_OFFSET]!)) { dead.push(key); createdAt.set(key, value.readBigUInt64LE(CREATED_OFFSET)); }
  }
  // A client may have reused the tuple since the dump: look again right before deleting each
  // entry, and spare one that now belongs to another, younger connection. One key at a time keeps
  // the window between that look and the delete to microseconds.
  let ctDeleted = 0;
  for (const key of dead) {
    const current = dp.maps.sl_ct.lookup(key);
    if (current && current.readBigUInt64LE(CREATED_OFFSET) === createdAt.get(key) &&
        expired(current, key[PROTO_OFFSET]!) && dp.maps.sl_ct.delete(key)) ctDeleted++;
  }

  const aff = dp.maps.sl_affinity.entries();
  const gone: Buffer[] = [];
  for (const { key, value } of aff) {
    const k = L.affKey.decode(key), v = L.affValue.decode(value);
    const timeout = timeoutOf.get(k.svc_id);
    if (!timeout || Number(now - v.last_used_ns) / 1e9 > timeout || !live.has(v.backend_id)) gone.push(key);
  }
  deleteKeys(dp.maps.sl_affinity, gone);
  return { ctScanned: ct.length, ctDeleted, affinityDeleted: gone.length };
}

function deleteKeys(map: BpfMap, keys: Buffer[]): void {
  // Keys an LRU map evicted meanwhile are skipped by deleteBatch.
  for (let i = 0; i < keys.length; i += 1024) {
    const chunk = keys.slice(i, i + 1024);
    map.deleteBatch(packed(chunk, map.keySize), chunk.length);
  }
}
