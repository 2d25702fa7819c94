// One concept, the frontend (a service address, port, protocol and scope with its backends), in
// the forms the agent meets it: as wanted (Frontend, from services.ts), as programmed in the maps
// (ProgrammedFrontend, the datapath's in-memory view), and as read back from pinned maps for
// people (FrontendRow, `sluice service list`). Service-level types live in services.ts.
import * as L from './bpf/layout.ts';
import { BackendTable, type Backend, type ProgrammedBackend } from './backend-table.ts';
import { maglevRunWords } from './maglev.ts';

export type Proto = 'TCP' | 'UDP';

export type { Backend, ProgrammedBackend } from './backend-table.ts';

export interface Frontend {
  vip: string;
  port: number;
  proto: Proto;
  scope?: number;
  /** For people: "namespace/name:port", truncated to fit the map. */
  name: string;
  /** sessionAffinity ClientIP timeout in seconds; 0 when there is no affinity. */
  affinityTimeout: number;
  /** externalTrafficPolicy Local: backends are this node's, and none means drop. */
  localOnly?: boolean;
  backends: Backend[];
  /** A new flow while `backends` is empty: 'reject' (ICMP unreachable, kube-proxy's REJECT; the default) or 'drop'. */
  whenEmpty?: 'reject' | 'drop';
  /**
   * External scope, externalTrafficPolicy Local: the backends for this node's own pods and processes,
   * which kube-proxy short-circuits to the cluster-wide set. Undefined: `backends`.
   */
  shortCircuit?: Backend[];
  /** loadBalancerSourceRanges (CIDRs) a client must come from; undefined or empty: any client. */
  sourceRanges?: string[];
}

/** A frontend as it is in the maps: where its entry, backends and Maglev run are. */
export interface ProgrammedFrontend extends Omit<Frontend, 'scope' | 'localOnly' | 'backends' | 'whenEmpty' | 'shortCircuit' | 'sourceRanges'> {
  key: string;
  scope: number;
  localOnly: boolean;
  whenEmpty: 'reject' | 'drop';
  /** CIDRs as programmed in sl_src_ranges ("a.b.c.d/n", normalised). */
  sourceRanges: string[];
  svcId: number;
  /** First 4-byte word of its run in sl_maglev, and the run's table size M. */
  maglevBase: number;
  maglevSize: number;
  /** Words of the run (maglevRunWords(M, N)): what the slot allocator holds for it. */
  maglevWords: number;
  /** Backend ids and state, compact (agent/backend-table.ts); read as a map of "ip:port" to backend. */
  backends: BackendTable;
}

/** A programmed frontend as `sluice service list -o json` prints it. */
export interface FrontendRow extends Pick<ProgrammedFrontend, 'vip' | 'port' | 'name' | 'affinityTimeout' | 'maglevSize'> {
  id: number;
  /** "10.96.0.10:80/TCP", "[fd00::10]:80/TCP" */
  frontend: string;
  family: 'ipv4' | 'ipv6';
  protocol: string;
  type: 'ClusterIP' | 'External';
  backends: Array<{ id: number; address: string; state: 'active' | 'terminating' }>;
  stats: {
    connections: number; packets: number; bytes: number; rejects: number;
    /** Socket-level balancing (bpf/sluice_sock.c): connect()/sendmsg() calls translated, and refused. */
    socketTranslations: number; socketRejects: number;
  };
}

const SCOPE_SUFFIX = ['', '/external', '/short-circuit'];

export function frontendKey(f: { vip: string; port: number; proto: string; scope?: number }): string {
  return `${f.vip}:${f.port}/${f.proto}${SCOPE_SUFFIX[f.scope ?? 0] ?? `/scope${f.scope}`}`;
}

/**
 * An external frontend's companion for this node's pods (SL_SCOPE_SHORT), programmed when the
 * frontend has a short-circuit set; undefined for any other frontend.
 */
export function shortCircuitOf(f: Frontend): Frontend | undefined {
  if (f.scope !== L.SL_SCOPE_EXTERNAL || !f.shortCircuit) return undefined;
  const { shortCircuit, ...rest } = f;
  return { ...rest, scope: L.SL_SCOPE_SHORT, localOnly: false, backends: shortCircuit, whenEmpty: shortCircuit.length ? f.whenEmpty : 'reject' };
}

/** The key of the companion shortCircuitOf() makes for the frontend with key @key. */
export function shortCircuitKey(key: string): string | undefined {
  return key.endsWith(SCOPE_SUFFIX[1]!) ? key.slice(0, -SCOPE_SUFFIX[1]!.length) + SCOPE_SUFFIX[2] : undefined;
}

/** Whether @key is a short-circuit companion's (programmed and removed with its external frontend). */
export function isShortCircuitKey(key: string): boolean {
  return key.endsWith(SCOPE_SUFFIX[2]!);
}

/** sl_svc_value.flags' DROP bit: asked for, or by default for a Local frontend (drop without a local endpoint). */
export function dropsWhenEmpty(f: Frontend): boolean {
  return f.whenEmpty ? f.whenEmpty === 'drop' : !!f.localOnly;
}

/** A programmed frontend (without backends) from its sl_services entry. */
export function decodeFrontend(k: L.SvcKey, v: L.SvcValue): ProgrammedFrontend {
  const proto = L.protoName(k.proto) as Proto;
  return {
    key: frontendKey({ vip: k.vip, port: k.port, proto, scope: k.scope }), vip: k.vip, port: k.port, proto, scope: k.scope,
    name: v.name, svcId: v.svc_id, maglevBase: v.maglev_base, maglevSize: v.maglev_size, maglevWords: maglevRunWords(v.maglev_size, v.count),
    affinityTimeout: v.flags & L.SL_SVC_F_AFFINITY ? v.affinity_timeout : 0, localOnly: !!(v.flags & L.SL_SVC_F_LOCAL),
    backends: k.vip.includes(':') ? BackendTable.EMPTY6 : BackendTable.EMPTY4,
    whenEmpty: v.flags & L.SL_SVC_F_DROP ? 'drop' : 'reject', sourceRanges: [],
  };
}

export function decodeBackend(id: number, b: L.Backend): ProgrammedBackend {
  return { id, ip: b.ip, port: b.port, terminating: !!(b.flags & L.SL_BE_F_TERMINATING), local: !!(b.flags & L.SL_BE_F_LOCAL) };
}
