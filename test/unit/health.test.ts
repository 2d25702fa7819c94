// kube-proxy's node health server and health-check node ports, over real HTTP on loopback, with the
// cases kube-proxy's own pkg/proxy/healthcheck/healthcheck_test.go asserts: status codes, JSON
// bodies and the X-Load-Balancing-Endpoint-Weight header for local endpoints present, absent, and a
// proxy whose pending change is older than the timeout.
import { afterAll, describe, expect, it } from 'vitest';
import { ProxyHealth, serveProxyHealth, type HealthServer } from '../../agent/health.ts';
import { ServiceHealthServers } from '../../agent/service-health.ts';
import { NODE_OBJECT_DELETED, TO_BE_DELETED_TAINT, nodeDeletionReason, nodeStateFor, type KubeNodeLifecycle } from '../../controlplane/node-state.ts';
import { noLocalEndpoints } from '../../agent/metrics-kubeproxy.ts';
import { toService, type ServiceJson } from '../../proto/contract.ts';

const TIMEOUT_MS = 60_000;
let clock = Date.parse('2026-11-29T12:00:00.000Z');
const now = () => clock;

async function get(port: number, path: string): Promise<{ code: number; body: Record<string, unknown>; headers: Headers }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { code: r.status, body: (await r.json()) as Record<string, unknown>, headers: r.headers };
}

describe('node health server (:10256)', () => {
  const health = new ProxyHealth(TIMEOUT_MS, now);
  let srv: HealthServer;
  afterAll(() => srv?.close());

  it('is healthy while starting up, with kube-proxy\'s body', async () => {
    srv = await serveProxyHealth({ host: '127.0.0.1', port: 0, health });
    const r = await get(srv.port, '/healthz');
    expect(r.code).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    const t = new Date(clock).toISOString();
    expect(r.body).toEqual({ lastUpdated: t, currentTime: t, nodeEligible: true });
    const l = await get(srv.port, '/livez');
    expect(l.code).toBe(200);
    expect(l.body).toEqual({ lastUpdated: t, currentTime: t });
  });

  it('stays healthy while a queued change is younger than the timeout', async () => {
    health.updated();
    const updatedAt = clock;
    clock += 1000;
    health.queuedUpdate();
    clock += TIMEOUT_MS - 1;
    expect((await get(srv.port, '/healthz')).code).toBe(200);
    // Queued again later: the oldest pending change is what counts.
    health.queuedUpdate();
    clock += 1;
    const r = await get(srv.port, '/healthz');
    expect(r.code).toBe(503);
    // Unhealthy: lastUpdated is the last time the datapath was programmed, not now.
    expect(r.body).toEqual({ lastUpdated: new Date(updatedAt).toISOString(), currentTime: new Date(clock).toISOString(), nodeEligible: true });
    expect((await get(srv.port, '/livez')).code).toBe(503);
  });

  it('is healthy again once the change is programmed', async () => {
    clock += 5000;
    health.updated();
    const r = await get(srv.port, '/healthz');
    expect(r.code).toBe(200);
    expect(r.body.lastUpdated).toBe(new Date(clock).toISOString());
  });

  it('/healthz, not /livez, answers 503 for a node being deleted, with why', async () => {
    health.syncNode({ deleting: true, reason: 'taint ToBeDeletedByClusterAutoscaler' });
    const r = await get(srv.port, '/healthz');
    expect(r.code).toBe(503);
    expect(r.body).toMatchObject({ nodeEligible: false, reason: 'node is being deleted: taint ToBeDeletedByClusterAutoscaler' });
    expect((await get(srv.port, '/livez')).code).toBe(200);
    health.syncNode({ deleting: false, reason: '' });
    const again = await get(srv.port, '/healthz');
    expect(again.code).toBe(200);
    expect(Object.keys(again.body).sort()).toEqual(['currentTime', 'lastUpdated', 'nodeEligible']);
  });
});

// kube-proxy's TestHealthzServer / TestLivezServer node cases, from the Node object to the answer:
// the control plane's verdict (controlplane/node-state.ts) fed to the agent's health server.
describe('node eligibility (kube-proxy healthcheck_test.go node cases)', () => {
  type Node = KubeNodeLifecycle;
  const tainted = (key: string): Node => ({ spec: { taints: [{ key }] } });
  const deleted = (): Node => ({ metadata: { deletionTimestamp: '2026-11-29T12:00:00Z' } });
  const cases: Array<{ what: string; node: Node; healthz: number; reason?: string }> = [
    { what: 'a node tainted in any other way', node: tainted('other'), healthz: 200 },
    { what: 'a ToBeDeletedByClusterAutoscaler-tainted node', node: tainted(TO_BE_DELETED_TAINT), healthz: 503, reason: 'taint ToBeDeletedByClusterAutoscaler' },
    { what: 'a node tainted in any other way again', node: tainted('other'), healthz: 200 },
    { what: 'a deleted node (deletionTimestamp)', node: deleted(), healthz: 503, reason: 'deletionTimestamp 2026-11-29T12:00:00Z' },
    { what: 'a node with no taints', node: {}, healthz: 200 },
    // client-node's list calls deserialize timestamps into Dates; watch events keep strings
    { what: 'a deletionTimestamp as a Date, and both marks at once', node: { metadata: { deletionTimestamp: new Date('2026-11-29T12:00:01Z') }, spec: { taints: [{ key: 'other' }, { key: TO_BE_DELETED_TAINT }] } }, healthz: 503, reason: 'deletionTimestamp 2026-11-29T12:00:01.000Z' },
  ];
  const health = new ProxyHealth(TIMEOUT_MS, now);
  let srv: HealthServer;
  afterAll(() => srv?.close());

  for (const c of cases) {
    it(`${c.what}: /healthz ${c.healthz}, /livez 200 irrespective`, async () => {
      srv ??= await serveProxyHealth({ host: '127.0.0.1', port: 0, health });
      health.updated();
      health.syncNode(nodeStateFor(nodeDeletionReason(c.node), false));
      const r = await get(srv.port, '/healthz');
      expect(r.code).toBe(c.healthz);
      expect(r.body.nodeEligible).toBe(c.healthz === 200);
      expect(r.body.reason).toBe(c.reason && `node is being deleted: ${c.reason}`);
      expect((await get(srv.port, '/livez')).code).toBe(200);
    });
  }

  it('a Node object gone while the stream had seen it is a node being deleted; one never seen is eligible', () => {
    expect(nodeStateFor(undefined, true)).toEqual({ known: true, deleting: true, reason: NODE_OBJECT_DELETED });
    expect(nodeStateFor(undefined, false)).toEqual({ known: false, deleting: false, reason: '' });
    expect(nodeStateFor('', false)).toEqual({ known: true, deleting: false, reason: '' });
  });

  it('a stale datapath and a node being deleted: 503 while either holds', async () => {
    health.updated();
    health.syncNode({ deleting: true, reason: 'taint ToBeDeletedByClusterAutoscaler' });
    health.queuedUpdate();
    clock += TIMEOUT_MS;
    expect((await get(srv.port, '/healthz')).code).toBe(503);
    expect((await get(srv.port, '/livez')).code).toBe(503);
    health.syncNode({ deleting: false, reason: '' });
    expect((await get(srv.port, '/healthz')).code).toBe(503); // still stale
    health.updated();
    expect((await get(srv.port, '/healthz')).code).toBe(200);
  });
});

const NODE = 'node-a';
function lbService(name: string, hcPort: number, eps: Array<[ip: string, node: string, ready: boolean]>): ServiceJson {
  return {
    namespace: 'ns', name, type: 'LoadBalancer', clusterIps: ['10.96.0.10'], externalTrafficLocal: true, loadBalancerIps: ['192.0.2.10'],
    healthCheckNodePort: hcPort,
    ports: ['http', 'https'].map((n, i) => ({
      name: n, protocol: 'TCP', port: 80 + i, nodePort: 30080 + i,
      endpoints: eps.map(([ip, nodeName, ready]) => ({ ip, port: 8080, nodeName, ready, serving: ready })),
    })),
  };
}

describe('health-check node ports', () => {
  const health = new ProxyHealth(TIMEOUT_MS, now);
  const warnings: unknown[] = [];
  const hc = new ServiceHealthServers({ node: NODE, addresses: ['127.0.0.1'], proxyHealthy: () => health.isHealthy(), warn: (m, f) => warnings.push([m, f]) });
  afterAll(() => hc.close());
  // Free ports, found by binding port 0 (a fixed number could be taken on a shared machine).
  const ports: number[] = [];
  const freePort = async () => { const s = await serveProxyHealth({ host: '127.0.0.1', port: 0, health }); await s.close(); return s.port; };

  it('answers 200 with the local ready endpoint count (distinct ip:port over all ports)', async () => {
    ports.push(await freePort(), await freePort());
    await hc.sync([toService(lbService('web', ports[0]!, [['10.244.1.1', NODE, true], ['10.244.1.2', NODE, true], ['10.244.1.3', NODE, false], ['10.244.2.1', 'node-b', true]]))]);
    const r = await get(ports[0]!, '/');
    expect(r.code).toBe(200);
    expect(r.headers.get('x-load-balancing-endpoint-weight')).toBe('2');
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.body).toEqual({ service: { namespace: 'ns', name: 'web' }, localEndpoints: 2, serviceProxyHealthy: true });
    expect(warnings).toEqual([]);
  });

  it('answers 503 with weight 0 when the node has no local ready endpoint', async () => {
    await hc.sync([toService(lbService('web', ports[0]!, [['10.244.1.3', NODE, false], ['10.244.2.1', 'node-b', true]]))]);
    const r = await get(ports[0]!, '/any/path');
    expect(r.code).toBe(503);
    expect(r.headers.get('x-load-balancing-endpoint-weight')).toBe('0');
    expect(r.body).toEqual({ service: { namespace: 'ns', name: 'web' }, localEndpoints: 0, serviceProxyHealthy: true });
  });

  it('answers 503 with local endpoints when the proxy is stale', async () => {
    await hc.sync([toService(lbService('web', ports[0]!, [['10.244.1.1', NODE, true]]))]);
    expect((await get(ports[0]!, '/')).code).toBe(200);
    health.queuedUpdate();
    clock += TIMEOUT_MS;
    const r = await get(ports[0]!, '/');
    expect(r.code).toBe(503);
    expect(r.headers.get('x-load-balancing-endpoint-weight')).toBe('1');
    expect(r.body).toEqual({ service: { namespace: 'ns', name: 'web' }, localEndpoints: 1, serviceProxyHealthy: false });
    health.updated();
    expect((await get(ports[0]!, '/')).code).toBe(200);
  });

  it('follows the service: a moved port is served at its new number only, a removed one not at all', async () => {
    await hc.sync([toService(lbService('web', ports[1]!, [['10.244.1.1', NODE, true]]))]);
    expect(hc.ports).toEqual([ports[1]]);
    expect((await get(ports[1]!, '/')).code).toBe(200);
    await expect(fetch(`http://127.0.0.1:${ports[0]}/`)).rejects.toThrow();
    await hc.sync([]);
    expect(hc.ports).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${ports[1]}/`)).rejects.toThrow();
  });
});

describe('kubeproxy_sync_proxy_rules_no_local_endpoints_total', () => {
  it('counts Local-policy ports without a usable endpoint on this node, per policy', () => {
    const remoteOnly = toService({ ...lbService('a', 0, [['10.244.2.1', 'node-b', true]]), internalTrafficLocal: true });
    const terminatingLocal = toService({
      ...lbService('b', 0, []),
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30090, endpoints: [{ ip: '10.244.1.9', port: 80, nodeName: NODE, serving: true, terminating: true }] }],
    });
    const clusterPolicy = toService({ ...lbService('c', 0, []), externalTrafficLocal: false });
    // a: two ports without local endpoints, both policies Local; b: a serving, terminating local endpoint is usable; c: policy Cluster.
    expect(noLocalEndpoints([remoteOnly, terminatingLocal, clusterPolicy], NODE)).toEqual({ internal: 2, external: 2 });
  });
});
