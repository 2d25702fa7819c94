// kube-proxy's metric names, where Sluice measures the same thing, so dashboards and alerts written
// for kube-proxy keep working (pkg/proxy/metrics/metrics.go). Sluice's own (sluice_*) stay beside
// them in agent/metrics.ts. A "sync" here is one state version applied to the maps.
import client from 'prom-client';
import type { Service } from '../proto/contract.ts';

export class KubeProxyMetrics {
  readonly syncSeconds: client.Histogram;
  readonly lastSync: client.Gauge;
  readonly programming: client.Histogram;
  readonly noLocal: client.Gauge<'traffic_policy'>;
  readonly healthz: client.Counter<'code'>;
  readonly livez: client.Counter<'code'>;
  readonly #startedAt = Date.now();
  /** service key -> trigger time already observed (a snapshot resending it is not a new change). */
  readonly #observed = new Map<string, string>();

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.syncSeconds = new client.Histogram({
      name: 'kubeproxy_sync_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds (one state version applied to the maps)',
      buckets: Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i), registers,
    });
    this.lastSync = new client.Gauge({ name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', help: 'The last time proxy rules were successfully synced', registers });
    this.programming = new client.Histogram({
      name: 'kubeproxy_network_programming_duration_seconds',
      help: 'In Cluster Network Programming Latency in seconds: from the EndpointSlice change (its last-change-trigger-time) to programmed on this node',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers,
    });
    this.noLocal = new client.Gauge({
      name: 'kubeproxy_sync_proxy_rules_no_local_endpoints_total', help: 'Number of services with a Local traffic policy and no endpoints',
      labelNames: ['traffic_policy'], registers,
    });
    this.healthz = new client.Counter({ name: 'kubeproxy_healthz_total', help: 'Cumulative proxy healthz HTTP status', labelNames: ['code'], registers });
    this.livez = new client.Counter({ name: 'kubeproxy_livez_total', help: 'Cumulative proxy livez HTTP status', labelNames: ['code'], registers });
  }

  /**
   * After a version was applied: the sync, the change trigger times of the services it programmed
   * (service key -> lastChangeTriggerTime, Reconciler's ApplyStats.triggers), and the node's services
   * now (those with a Local traffic policy are enough: Reconciler.services).
   */
  synced(seconds: number, triggers: ReadonlyMap<string, string>, removals: string[], services: Iterable<Service>, node: string): void {
    const now = Date.now();
    this.syncSeconds.observe(seconds);
    this.lastSync.set(now / 1000);
    for (const k of removals) this.#observed.delete(k);
    for (const [key, t] of triggers) {
      if (!t || this.#observed.get(key) === t) continue;
      this.#observed.set(key, t);
      // As kube-proxy: changes from before this process started are not its latency.
      const at = Date.parse(t);
      if (at >= this.#startedAt) this.programming.observe(Math.max(0, now - at) / 1000);
    }
    const counts = noLocalEndpoints(services, node);
    this.noLocal.set({ traffic_policy: 'internal' }, counts.internal);
    this.noLocal.set({ traffic_policy: 'external' }, counts.external);
  }
}

/**
 * kube-proxy's per-port count: ports of internalTrafficPolicy Local services, and of externally
 * reachable externalTrafficPolicy Local services, that have no usable endpoint on this node (ready,
 * else serving and terminating).
 */
export function noLocalEndpoints(services: Iterable<Service>, node: string): { internal: number; external: number } {
  let internal = 0, external = 0;
  for (const s of services) {
    if (!s.internalTrafficLocal && !s.externalTrafficLocal) continue; // most services: nothing to look at
    const reachable = s.externalIps.length > 0 || s.loadBalancerIps.length > 0;
    for (const p of s.ports) {
      const local = p.endpoints.filter((e) => e.nodeName === node);
      const usable = local.some((e) => e.ready) || local.some((e) => e.serving && e.terminating);
      if (usable) continue;
      if (s.internalTrafficLocal) internal++;
      if (s.externalTrafficLocal && (reachable || p.nodePort !== 0)) external++;
    }
  }
  return { internal, external };
}
