// Health-check node ports (spec.healthCheckNodePort of externalTrafficPolicy Local LoadBalancers),
// as kube-proxy's service health server (pkg/proxy/healthcheck/service_health.go): a cloud load
// balancer probes every node on that port and sends traffic only where the answer is 200, i.e. where
// this node has a local ready endpoint and its proxy is healthy. The body and the
// X-Load-Balancing-Endpoint-Weight header (the local endpoint count) are kube-proxy's.
import http from 'node:http';
import { serviceKey, type Service } from '../proto/contract.ts';
import { jsonHead, listen, type HealthServer } from './health.ts';

/** kube-proxy's LocalReadyEndpoints: distinct ready ip:port on this node, over all the service's ports. */
export function localReadyEndpoints(s: Service, node: string): number {
  const set = new Set<string>();
  for (const p of s.ports) for (const e of p.endpoints) if (e.nodeName === node && e.ready) set.add(`${e.ip}:${e.port}`);
  return set.size;
}

interface Served { key: string; namespace: string; name: string; endpoints: number; servers: HealthServer[] }

export interface ServiceHealthOptions {
  node: string;
  /** Addresses to listen on (the node-port addresses); all (0.0.0.0) when empty. */
  addresses: string[];
  /** kube-proxy's serviceProxyHealthy: the node health server's rule without node eligibility. */
  proxyHealthy: () => boolean;
  warn: (msg: string, fields: Record<string, unknown>) => void;
}

export class ServiceHealthServers {
  readonly #o: ServiceHealthOptions;
  /** health-check node port -> what it serves. */
  readonly #byPort = new Map<number, Served>();

  constructor(o: ServiceHealthOptions) {
    this.#o = o;
  }

  /** Ports served now, for status and tests. */
  get ports(): number[] {
    return [...this.#byPort.keys()].sort((a, b) => a - b);
  }

  /**
   * Serve exactly the health-check node ports of `services`, with their current local endpoint
   * counts. Resolves true when the set of ports changed.
   */
  async sync(services: Iterable<Service>): Promise<boolean> {
    const before = this.ports.join();
    const want = new Map<number, Service>();
    for (const s of services) if (s.healthCheckNodePort) want.set(s.healthCheckNodePort, s);
    for (const [port, served] of this.#byPort) {
      const s = want.get(port);
      if (s && serviceKey(s) === served.key) continue;
      this.#byPort.delete(port);
      await Promise.all(served.servers.map((h) => h.close()));
    }
    for (const [port, s] of want) {
      const endpoints = localReadyEndpoints(s, this.#o.node);
      const served = this.#byPort.get(port);
      if (served) { served.endpoints = endpoints; continue; }
      const entry: Served = { key: serviceKey(s), namespace: s.namespace, name: s.name, endpoints, servers: [] };
      this.#byPort.set(port, entry);
      for (const host of this.#o.addresses.length ? this.#o.addresses : ['0.0.0.0']) {
        try {
          entry.servers.push(await listen(http.createServer((_req, res) => this.#answer(entry, res)), host, port));
        } catch (e) {
          // As kube-proxy: reported, the rest keeps working (another process may hold the port).
          this.#o.warn('cannot serve a health-check node port', { service: entry.key, address: `${host}:${port}`, err: (e as Error).message });
        }
      }
    }
    return this.ports.join() !== before;
  }

  #answer(s: Served, res: http.ServerResponse): void {
    const healthy = this.#o.proxyHealthy();
    jsonHead(res, s.endpoints !== 0 && healthy ? 200 : 503, { 'x-load-balancing-endpoint-weight': String(s.endpoints) });
    res.end(JSON.stringify({ service: { namespace: s.namespace, name: s.name }, localEndpoints: s.endpoints, serviceProxyHealthy: healthy }));
  }

  async close(): Promise<void> {
    const all = [...this.#byPort.values()].flatMap((s) => s.servers);
    this.#byPort.clear();
    await Promise.all(all.map((h) => h.close()));
  }
}
