// Whether a Node is being deleted, as kube-proxy's node health server decides it
// (pkg/proxy/healthcheck/proxy_health.go, SyncNode): a Node with a deletionTimestamp, or tainted
// ToBeDeletedByClusterAutoscaler (the cluster autoscaler's mark before it removes the node), is not
// eligible, and the agent's /healthz on :10256 answers 503 so that load balancers drain the node
// first. Any other taint leaves it eligible. The control plane carries the result to the node's
// agent in every StateUpdate (sluice.v1.NodeState).
import type { NodeState } from '../proto/contract.ts';

/** The cluster autoscaler's taint (kube-proxy's ToBeDeletedTaint). */
export const TO_BE_DELETED_TAINT = 'ToBeDeletedByClusterAutoscaler';

/** The Node fields read here (shape checked by kube-shape.ts; list results carry Dates, watch events strings). */
export interface KubeNodeLifecycle {
  metadata?: { deletionTimestamp?: unknown };
  spec?: { taints?: Array<{ key?: unknown } | null> | null } | null;
}

function timestampText(v: unknown): string {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'set' : v.toISOString();
  return typeof v === 'string' && v !== '' ? v : 'set';
}

/** Why this Node is being deleted, '' when it is not (kube-proxy checks deletion first, then taints). */
export function nodeDeletionReason(node: KubeNodeLifecycle): string {
  const ts = node.metadata?.deletionTimestamp;
  if (ts !== undefined && ts !== null) return `deletionTimestamp ${timestampText(ts)}`;
  for (const t of node.spec?.taints ?? []) if (t?.key === TO_BE_DELETED_TAINT) return `taint ${TO_BE_DELETED_TAINT}`;
  return '';
}

/** The reason given once a node's object is gone while its agent is connected. */
export const NODE_OBJECT_DELETED = 'Node object deleted';

/**
 * What one agent is told about its node. `deletionReason` is the store's (undefined: no Node object
 * of that name); `seen`: this stream has already been told the node exists, so its object going away
 * means the node is being deleted (kube-proxy exits on it), not that it was never registered.
 */
export function nodeStateFor(deletionReason: string | undefined, seen: boolean): NodeState {
  if (deletionReason !== undefined) return { known: true, deleting: deletionReason !== '', reason: deletionReason };
  if (seen) return { known: true, deleting: true, reason: NODE_OBJECT_DELETED };
  return { known: false, deleting: false, reason: '' };
}

export const sameNodeState = (a: NodeState | undefined, b: NodeState): boolean =>
  a !== undefined && a.known === b.known && a.deleting === b.deleting && a.reason === b.reason;
