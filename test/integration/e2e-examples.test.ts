// Issue 5, end to end: the examples (examples/*.yaml) on a simulated two-node cluster with one
// agent per node and the control plane on the manifests source. Every behaviour `make demo` shows
// is asserted here: programming, spread, stickiness, cross-node, named targetPort, multi-port,
// no-endpoint reject, scale up/down within one second of the manifest edit, a pod reaching its own
// node's NodePort, hairpin, loadBalancerSourceRanges, the dual-stack Service, and a clean teardown.
// Uses the default per-process run id, so it runs alongside other test files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATAPATH_FAMILIES } from '../../agent/services.ts';
import { cidrContains, parseCidr } from '../../common/ip.ts';
import { ExamplesCluster, EXTERNAL, NODES, spreadOk } from '../../sim/scenario.ts';

let s: ExamplesCluster;
let destroyed = false;

beforeAll(async () => {
  s = await ExamplesCluster.start();
}, 120_000);

afterAll(async () => {
  if (s && !destroyed) await s.destroy();
});

const nodeOf = (pod: string) => s.pods.get(pod)?.node;

describe('examples on a two-node simulated cluster', () => {
  it('programs every example service port with exactly its ready backends on both nodes', async () => {
    expect(await s.datapathMismatch()).toBeUndefined();
    const frontends = s.expectedFrontends();
    // 8 services, 11 ports; db-service has none (its only pod is not Ready).
    expect(s.services.size).toBe(8);
    expect(frontends.size).toBe(11);
    for (const svc of s.services.values()) expect(svc.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/); // 10.96.0.0/12
    expect(frontends.get(`${s.service('db-service').clusterIP}:80/TCP`)).toEqual([]);
    expect(frontends.get(`${s.service('backend-service').clusterIP}:80/TCP`)).toHaveLength(3);
    const sticky = (await s.serviceList('b')).find((r) => r.frontend === `${s.service('sticky-service').clusterIP}:80/TCP`);
    expect(sticky?.affinityTimeout).toBe(10800);
    // The placement puts pods of every multi-replica Deployment on both nodes.
    for (const d of ['backend', 'frontend', 'web', 'shop', 'cart', 'whoami']) {
      expect(new Set([...s.pods.values()].filter((p) => p.owner?.deployment === `default/${d}`).map((p) => p.node))).toEqual(new Set(NODES));
    }
  });

  it('spreads 100 requests over every backend of each service port (each within 4.5 binomial sd of its fair share)', async () => {
    for (const svc of s.services.values()) {
      if (svc.affinityTimeout) continue;
      for (const p of svc.ports) {
        const want = s.expectedBackends(svc.name, p.name).map((b) => b.pod.name);
        if (want.length === 0) continue;
        const r = await s.requests(svc.name, { port: p.name, count: 100 });
        const v = spreadOk(r, want, 100);
        expect(v.ok, `${svc.name}:${p.port}/${p.protocol}: ${v.why} ${JSON.stringify(r.counts)}`).toBe(true);
      }
    }
  });

  it('multi-port-service: each named port reaches its own container port on every pod', async () => {
    for (const [name, target] of [['http', 8080], ['https', 8443], ['metrics', 9090]] as const) {
      const r = await s.requests('multi-port-service', { port: name, count: 30, byPort: true });
      expect(r.failed).toBe(0);
      expect(Object.keys(r.counts).sort()).toEqual([`shop-0:${target}`, `shop-1:${target}`]);
    }
  });

  it('named targetPort resolves per pod (api-v1 on 8080/7007, api-v2 on 8081/7008), TCP and UDP', async () => {
    const tcp = await s.requests('api-service', { port: 'http', count: 40, byPort: true });
    expect(tcp.failed).toBe(0);
    expect(Object.keys(tcp.counts).sort()).toEqual(['api-v1-0:8080', 'api-v2-0:8081']);
    const udp = await s.requests('api-service', { port: 'echo', count: 40, byPort: true });
    expect(udp.failed).toBe(0);
    expect(Object.keys(udp.counts).sort()).toEqual(['api-v1-0:7007', 'api-v2-0:7008']);
    expect(s.expectedBackends('api-service', 'http').map((b) => b.port)).toEqual([8080, 8081]);
  });

  it('sticky-service keeps each client on one pod (sessionAffinity ClientIP)', async () => {
    const a = await s.requests('sticky-service', { count: 50 });
    expect(a.ok).toBe(50);
    expect(Object.keys(a.counts)).toHaveLength(1);
    const again = await s.requests('sticky-service', { count: 20, concurrency: 1 });
    expect(Object.keys(again.counts)).toEqual(Object.keys(a.counts));
    const b = await s.requests('sticky-service', { from: 'frontend-0', count: 20 });
    expect(b.ok).toBe(20);
    expect(Object.keys(b.counts)).toHaveLength(1);
    // The same client spreads over a service without affinity.
    const web = await s.requests('web-service', { count: 40 });
    expect(Object.keys(web.counts)).toHaveLength(2);
  });

  it('a frontend pod reaches backend pods on the other node through backend-service', async () => {
    const from = 'frontend-0';
    const r = await s.requests('backend-service', { from, count: 30 });
    expect(r.failed).toBe(0);
    const remote = Object.keys(r.counts).filter((p) => nodeOf(p) !== nodeOf(from));
    const local = Object.keys(r.counts).filter((p) => nodeOf(p) === nodeOf(from));
    expect(remote.length).toBeGreaterThan(0);
    expect(local.length).toBeGreaterThan(0);
    // And the client on node a reaches node b's pods too.
    const c = await s.requests('web-service', { count: 30 });
    expect(new Set(Object.keys(c.counts).map(nodeOf))).toEqual(new Set(NODES));
  });

  it('dual-stack-service (PreferDualStack) gets a cluster IP of each family; both reach the same pods, each seeing the client\'s address of that family', async () => {
    const svc = s.service('dual-stack-service');
    expect(svc.clusterIP6).not.toBe('');
    expect(cidrContains(parseCidr('fd00:10:96::/112')!, svc.clusterIP6), svc.clusterIP6).toBe(true);
    // Only the single-stack examples have no IPv6 address.
    expect([...s.services.values()].filter((x) => x.clusterIP6).map((x) => x.name)).toEqual(['dual-stack-service']);
    const pods = s.expectedBackends('dual-stack-service').map((b) => b.pod);
    const client = s.pods.get('client')!;
    const r4 = await s.requests('dual-stack-service', { count: 40, byClient: true });
    expect(r4.failed, JSON.stringify(r4.errors)).toBe(0);
    expect(Object.keys(r4.counts).sort()).toEqual(pods.map((p) => `${p.name} ${client.ip}`).sort());
    const fe6 = `[${svc.clusterIP6}]:80/TCP`;
    for (const n of NODES) {
      const row = (await s.serviceList(n, true)).find((r) => r.frontend === fe6);
      expect(row, `node ${n}: ${fe6}`).toBeDefined();
      // The IPv6 frontend is programmed exactly when the datapath serves IPv6 (agent/services.ts).
      if (!DATAPATH_FAMILIES.includes(6)) { expect(row!.programmed, `node ${n}: ${fe6}`).toBe(false); continue; }
      expect(row!.programmed, `node ${n}: ${fe6}`).not.toBe(false);
      expect(row!.backends!.map((b) => b.address).sort()).toEqual(pods.map((p) => `[${p.ip6}]:8080`).sort());
    }
    if (!DATAPATH_FAMILIES.includes(6)) return;
    const r6 = await s.requests('dual-stack-service', { count: 40, byClient: true, family: 6 });
    expect(r6.failed, JSON.stringify(r6.errors)).toBe(0);
    expect(Object.keys(r6.counts).sort()).toEqual(pods.map((p) => `${p.name} ${client.ip6}`).sort());
  });

  it('refuses connections to a service whose only pod is not Ready, at once', async () => {
    expect(s.pods.get('db-0')?.ready).toBe(false);
    const r = await s.requests('db-service', { count: 10 });
    expect(r.ok).toBe(0);
    expect(r.errors).toEqual({ ECONNREFUSED: 10 });
    expect(Math.max(...r.ms)).toBeLessThan(500);
  });

  it('scale up: the new pod gets traffic within one second of the manifest edit', async () => {
    const up = await s.scaleUp('backend', 'backend-service', 4);
    expect(up.added).toEqual(['backend-3']);
    expect(up.reactionMs, 'new pod never answered').toBeDefined();
    expect(up.reactionMs!).toBeLessThanOrEqual(1000);
    expect(up.failed).toBe(0);
    expect(up.stalled, 'requests that took 1 s or more').toBe(0);
    await s.waitConverged(10000);
    const r = await s.requests('backend-service', { count: 100 });
    const v = spreadOk(r, ['backend-0', 'backend-1', 'backend-2', 'backend-3'], 100);
    expect(v.ok, `${v.why} ${JSON.stringify(r.counts)}`).toBe(true);
    console.log(`scale up: backend-3 answered ${Math.round(up.reactionMs!)} ms after the write (${up.polls} polls)`);
  });

  it('scale down: removed pods stop getting traffic within one second, without failed requests', async () => {
    const dn = await s.scaleDown('backend', 'backend-service', 2);
    expect(dn.removed).toEqual(['backend-2', 'backend-3']);
    expect(dn.lastSeenMs).toBeLessThanOrEqual(1000);
    expect(dn.failed).toBe(0);
    expect(dn.stalled, 'requests that took 1 s or more').toBe(0);
    expect(dn.pollsAfter).toBeGreaterThan(5);
    expect(s.pods.has('backend-2')).toBe(false);
    const r = await s.requests('backend-service', { count: 100 });
    const v = spreadOk(r, ['backend-0', 'backend-1'], 100);
    expect(v.ok, `${v.why} ${JSON.stringify(r.counts)}`).toBe(true);
    console.log(`scale down: last request to backend-2/3 ${Math.round(dn.lastSeenMs)} ms after the write (${dn.polls} polls over ${Math.round(dn.windowMs)} ms)`);
  });

  it('a NodePort and a LoadBalancer IP added during the run: a pod reaches its own node\'s NodePort, a pod reaches itself (masqueraded), source ranges admit one pod and drop another', async () => {
    const client = s.pods.get('client')!;
    await s.addExternalServices(client.ip);
    const web = s.expectedBackends('web-service').map((b) => b.pod.name);
    const np = await s.client.burst(`${s.cluster.node('a').ip}:${EXTERNAL.nodePort}`, { count: 20, concurrency: 4 });
    expect(np.failed, JSON.stringify(np.errors)).toBe(0);
    expect(Object.keys(np.counts).sort()).toEqual(web);
    // Hairpin: the answers web-0 gives itself see its node as client, the others' see web-0.
    const self = web[0]!;
    const hp = await (await s.podClient(self)).burst(s.target('web-service').target, { count: 20, concurrency: 4, byClient: true });
    expect(hp.failed, JSON.stringify(hp.errors)).toBe(0);
    const peers = Object.fromEntries(Object.keys(hp.counts).map((k) => k.split(' ') as [string, string]));
    expect(peers).toEqual({ [self]: s.cluster.node(nodeOf(self)!).ip, [web[1]!]: s.pods.get(self)!.ip });
    const inRange = await s.client.burst(`${EXTERNAL.lbIp}:80`, { count: 10, concurrency: 4 });
    expect(inRange.ok, JSON.stringify(inRange.errors)).toBe(10);
    const out = await (await s.podClient('frontend-0')).burst(`${EXTERNAL.lbIp}:80`, { count: 3, concurrency: 3, timeoutMs: 800 });
    expect(out.errors).toEqual({ TIMEOUT: 3 });
  });

  it('tears down cleanly: no namespace, link, pinned map, status file, temp dir or process left', async () => {
    expect(s.pids.size).toBeGreaterThan(15);
    await s.destroy();
    destroyed = true;
    expect(await s.leftovers()).toEqual([]);
  });
});
