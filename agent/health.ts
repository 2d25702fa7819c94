// kube-proxy's node health server (its --healthz-bind-address, :10256): cloud load balancers and
// installers probe it to learn whether this node's service datapath is current. The rule is
// kube-proxy's (pkg/proxy/healthcheck/proxy_health.go): the proxy is unhealthy when a change it
// received has waited longer than the timeout without being programmed; the node is not eligible
// while it is being deleted (the control plane says so in every update: controlplane/node-state.ts).
// /healthz needs both; /livez only the first. While the node is not eligible the /healthz body also
// says why ("reason"), beside kube-proxy's three fields.
import http from 'node:http';
import type { Counter } from 'prom-client';

/** kube-proxy's default: twice its 30 s sync period. */
export const DEFAULT_HEALTHZ_TIMEOUT_S = 60;

export class ProxyHealth {
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #lastUpdated = 0;
  /** When the oldest change not yet programmed arrived; undefined when none is pending. */
  #oldestPending: number | undefined;
  #nodeEligible = true;
  #reason = '';
  #since: number | undefined;

  constructor(timeoutMs: number, now: () => number = Date.now) {
    this.#timeoutMs = timeoutMs;
    this.#now = now;
  }

  /** A change arrived that the datapath does not have yet. */
  queuedUpdate(): void {
    this.#oldestPending ??= this.#now();
  }

  /** Everything received so far is programmed. */
  updated(): void {
    this.#oldestPending = undefined;
    this.#lastUpdated = this.#now();
  }

  /**
   * kube-proxy's SyncNode, with the control plane's verdict: `deleting` makes the node not eligible
   * (eligible until told otherwise, as kube-proxy is before its first Node event). Returns whether
   * eligibility changed.
   */
  syncNode(node: { deleting: boolean; reason: string }): boolean {
    const eligible = !node.deleting;
    const changed = eligible !== this.#nodeEligible;
    if (changed) this.#since = eligible ? undefined : this.#now();
    this.#nodeEligible = eligible;
    this.#reason = eligible ? '' : node.reason || 'node is being deleted';
    return changed;
  }

  /** kube-proxy's nodeEligible. */
  get nodeEligible(): boolean {
    return this.#nodeEligible;
  }

  /** Why the node is not eligible ('' while it is), and since when. */
  get ineligible(): { reason: string; since: string } | undefined {
    return this.#nodeEligible ? undefined : { reason: this.#reason, since: new Date(this.#since!).toISOString() };
  }

  /** Healthy while nothing pending is older than the timeout (also before the first update). */
  isHealthy(): boolean {
    return this.#oldestPending === undefined || this.#now() - this.#oldestPending < this.#timeoutMs;
  }

  /** kube-proxy's lastUpdated: "now" while healthy (its compatibility rule), else the last program time. */
  body(withEligibility: boolean): { healthy: boolean; json: string } {
    const now = this.#now();
    const healthy = this.isHealthy() && (!withEligibility || this.#nodeEligible);
    const doc: Record<string, unknown> = {
      lastUpdated: new Date(healthy ? now : this.#lastUpdated).toISOString(),
      currentTime: new Date(now).toISOString(),
    };
    if (withEligibility) {
      doc.nodeEligible = this.#nodeEligible;
      if (!this.#nodeEligible) doc.reason = `node is being deleted: ${this.#reason}`;
    }
    return { healthy, json: JSON.stringify(doc) };
  }
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port and resolves with the bound port (port 0 picks one). */
export async function listen(srv: http.Server, host: string, port: number): Promise<HealthServer> {
  await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(port, host, () => { srv.off('error', reject); resolve(); }); });
  const addr = srv.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    close: () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
  };
}

/** JSON response headers as kube-proxy sends them. */
export function jsonHead(res: http.ServerResponse, code: number, extra: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff', ...extra });
}

/** Serves /healthz and /livez; counts answers by code as kube-proxy's kubeproxy_{healthz,livez}_total. */
export function serveProxyHealth(o: { host: string; port: number; health: ProxyHealth; healthz?: Counter<'code'>; livez?: Counter<'code'> }): Promise<HealthServer> {
  const srv = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url !== '/healthz' && url !== '/livez') { res.writeHead(404); res.end(); return; }
    const { healthy, json } = o.health.body(url === '/healthz');
    const code = healthy ? 200 : 503;
    (url === '/healthz' ? o.healthz : o.livez)?.inc({ code: String(code) });
    jsonHead(res, code);
    res.end(json);
  });
  return listen(srv, o.host, o.port);
}
