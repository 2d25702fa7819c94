// Which endpoints serve which traffic on one node, as kube-proxy's CategorizeEndpoints
// (pkg/proxy/topology.go) decides:
// - "usable" = ready; when no endpoint of a set is ready, its serving+terminating ones (the fallback is
//   taken separately for the cluster-wide set and for the node-local set);
// - the cluster-wide set honours topology hints: every ready endpoint hinted for nodes and one for this
//   node -> only those (PreferSameNode); else every ready endpoint hinted for zones and one for this
//   node's zone -> only those (PreferSameZone); otherwise hints are ignored;
// - the local set (policy Local) ignores topology: this node's usable endpoints;
// - internal traffic uses the local set under internalTrafficPolicy Local, else the cluster-wide set;
//   external traffic likewise with externalTrafficPolicy.
// One deliberate difference: kube-proxy skips the cluster-wide set when no traffic uses it
// (internalTrafficPolicy Local on a service without external addresses); we always compute it,
// because whether it is empty is exactly kube-proxy's "has any endpoints" (reject versus drop).

export interface TopologyEndpoint {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName: string;
  /** hints.forZones / hints.forNodes names; empty = no hint. */
  zoneHints: readonly string[];
  nodeHints: readonly string[];
}

/** The node the sets are computed for; zone = its topology.kubernetes.io/zone label ('' = unknown). */
export interface NodeTopology {
  name: string;
  zone: string;
}

export interface TrafficPolicy {
  internalLocal: boolean;
  /** Already false for a service that is not externally accessible (kube-proxy's ExternalPolicyLocal). */
  externalLocal: boolean;
}

export type TopologyMode = '' | 'PreferSameNode' | 'PreferSameZone';

export interface EndpointSets<E> {
  cluster: E[];
  local: E[];
  internal: E[];
  external: E[];
}

export const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** kube-proxy's topologyModeFromHints: which hints, if any, apply on this node. */
export function topologyMode(eps: readonly TopologyEndpoint[], node: NodeTopology): TopologyMode {
  let anyReady = false;
  let allNodeHints = true;
  let forNode = false;
  let allZoneHints = true;
  let forZone = false;
  for (const e of eps) {
    if (!e.ready) continue;
    anyReady = true;
    if (e.nodeHints.length === 0) allNodeHints = false;
    else if (e.nodeHints.includes(node.name)) forNode = true;
    if (e.zoneHints.length === 0) allZoneHints = false;
    else if (node.zone !== '' && e.zoneHints.includes(node.zone)) forZone = true;
  }
  if (!anyReady) return '';
  if (allNodeHints && forNode) return 'PreferSameNode';
  if (allZoneHints && forZone) return 'PreferSameZone';
  return '';
}

function usable<E extends TopologyEndpoint>(eps: readonly E[], keep: (e: E) => boolean): E[] {
  const ready = eps.filter((e) => e.ready && keep(e));
  return ready.length > 0 ? ready : eps.filter((e) => e.serving && e.terminating && keep(e));
}

export function categorizeEndpoints<E extends TopologyEndpoint>(eps: readonly E[], policy: TrafficPolicy, node: NodeTopology): EndpointSets<E> {
  const mode = topologyMode(eps, node);
  // The fallback to serving+terminating ignores topology: a mode is only chosen when a ready
  // endpoint qualifies, so an empty ready set means no ready endpoint anywhere.
  const readyCluster = eps.filter((e) => e.ready && (mode === '' || (mode === 'PreferSameNode' ? e.nodeHints.includes(node.name) : e.zoneHints.includes(node.zone))));
  const cluster = readyCluster.length > 0 ? readyCluster : eps.filter((e) => e.serving && e.terminating);
  const local = usable(eps, (e) => e.nodeName !== '' && e.nodeName === node.name);
  return {
    cluster,
    local,
    internal: policy.internalLocal ? local : cluster,
    external: policy.externalLocal ? local : cluster,
  };
}
