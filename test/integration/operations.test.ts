// Operating Sluice as kube-proxy is operated, end to end in the simulated cluster: a real control
// plane following a fake API server through the Kubernetes source (real informers), a real agent on
// a simulated node. Checked: the node health server on :10256, a LoadBalancer's health-check node
// port (local endpoint present, then absent), :10256 answering 503 with why while the Node is being
// deleted (the autoscaler's taint, a deletionTimestamp, the object gone), kube-proxy's network
// programming latency observed from
// the EndpointSlice's last-change-trigger-time, `sluice status --verbose`, and that every expression
// of the Grafana dashboard names a metric one of the two processes exports (live scrapes).
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimAgent } from '../../sim/agent.ts';
import { NODE_BIN, REPO, SimCluster, type SimPod } from '../../sim/cluster.ts';
import { nsRun, sleep, waitFor } from '../../sim/netns.ts';
import { FakeApiServer, type KObj } from '../fixtures/fake-apiserver.ts';

const SVC = '/api/v1/services';
const EPS = '/apis/discovery.k8s.io/v1/endpointslices';
const NODES = '/api/v1/nodes';
const TRIGGER = 'endpoints.kubernetes.io/last-change-trigger-time';
const HC_PORT = 31999;
const VIP = '10.96.30.10';
const MAX_BACKENDS = 8;
const HEALTHZ_TIMEOUT_S = 2;

let c: SimCluster;
let api: FakeApiServer;
let cpProc: ChildProcess;
let cpMetricsUrl: string;
let agent: SimAgent;
let web: SimPod;
let tmp: string;
let agentStartedAt = 0;

function slice(ready: boolean, triggerTime: string, remote = 0): KObj {
  // `remote` endpoints on another node: more of them than --max-backends makes the version refused.
  const others = Array.from({ length: remote }, (_, i) => ({ addresses: [`10.244.9.${i + 1}`], conditions: { ready: true }, nodeName: 'elsewhere' }));
  return {
    metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' }, annotations: { [TRIGGER]: triggerTime } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: [web.ip], conditions: { ready, serving: ready }, nodeName: c.node('a').nodeName, targetRef: { kind: 'Pod', namespace: 'default', name: 'web' } }, ...others],
  };
}

/** curl -i inside the node: status code, headers (lower-case) and body. */
async function nodeGet(url: string): Promise<{ code: number; headers: Record<string, string>; body: string }> {
  const out = await nsRun(c.node('a').ns, 'curl', ['-s', '-i', '--max-time', '5', url]);
  const [head, ...rest] = out.split('\r\n\r\n');
  const lines = head!.split('\r\n');
  const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { code: Number(lines[0]!.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

const agentMetrics = () => nsRun(c.node('a').ns, 'curl', ['-s', '--max-time', '5', 'http://127.0.0.1:9964/metrics']);
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ops-'));
  c = await SimCluster.create({ nodes: ['a'] });
  web = await c.addPod('a', 'web');
  await c.serve('web', { tcp: [8080] });

  api = new FakeApiServer();
  await api.start();
  api.upsert(SVC, {
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      type: 'LoadBalancer', clusterIP: VIP, clusterIPs: [VIP], externalTrafficPolicy: 'Local', healthCheckNodePort: HC_PORT,
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }],
    },
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.30' }] } },
  });
  api.upsert(EPS, slice(true, new Date().toISOString()));
  const kubeconfig = api.writeKubeconfig(tmp);

  const socket = path.join(tmp, 'cp.sock');
  cpProc = c.spawnLocal(NODE_BIN, [`${REPO}controlplane/main.ts`, '--source', 'kubernetes', '--kubeconfig', kubeconfig,
    '--listen', `unix:${socket}`, '--metrics-addr', '127.0.0.1:0', '--log-level', 'info']);
  let cpErr = '';
  cpProc.stderr!.on('data', (d) => { cpErr = (cpErr + d).slice(-4000); });
  cpMetricsUrl = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`control plane did not start: ${cpErr}`)), 30000);
    readline.createInterface({ input: cpProc.stdout! }).on('line', (l) => {
      if (process.env.TEST_CP_LOG) process.stderr.write(`cp: ${l}\n`);
      const m = /"address":"([^"]+)".*"msg":"metrics server listening"/.exec(l);
      if (m) { clearTimeout(t); resolve(`http://${m[1]}/metrics`); }
    });
  });
  agent = await SimAgent.start(c, 'a', { controlPlane: `unix:${socket}`, args: ['--max-backends', String(MAX_BACKENDS), '--healthz-timeout', String(HEALTHZ_TIMEOUT_S)] });
  // Once it says it is ready: the agent counts latency only for changes after its own start.
  agentStartedAt = Date.now();
  await agent.waitLog((l) => l.msg === 'applied' && (l.services as number) >= 1, 30000);
}, 120_000);

afterAll(async () => {
  if (agent) await agent.kill('SIGTERM');
  cpProc?.kill('SIGTERM');
  await api?.close();
  await c?.destroy();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('health servers of a live agent', () => {
  it(':10256 answers /healthz and /livez as kube-proxy', async () => {
    const h = await nodeGet('http://127.0.0.1:10256/healthz');
    expect(h.code).toBe(200);
    expect(h.headers['content-type']).toBe('application/json');
    const body = JSON.parse(h.body) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['currentTime', 'lastUpdated', 'nodeEligible']);
    expect(body.nodeEligible).toBe(true);
    expect(Math.abs(Date.parse(body.currentTime as string) - Date.now())).toBeLessThan(60_000);
    expect((await nodeGet('http://127.0.0.1:10256/livez')).code).toBe(200);
    expect(sample(await agentMetrics(), 'kubeproxy_healthz_total{code="200"}')).toBeGreaterThanOrEqual(1);
  });

  it('sluice status --verbose shows the kube-proxy replacement section', () => {
    const out = execFileSync(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', c.node('a').nodeName, 'status', '--verbose'], { encoding: 'utf8' });
    expect(out).toContain('KubeProxyReplacement Details:');
    expect(out).toMatch(/Socket LB: +off\n/);
    expect(out).toMatch(/Protocols: +TCP, UDP\n/);
    expect(out).toMatch(/Backend Selection: +Maglev \(table sizes: (101|211) x\d+[;,]/);
    expect(out).toMatch(new RegExp(`Health Check Ports: +${HC_PORT}\\n`));
    expect(out).toMatch(/Health Server: +0\.0\.0\.0:10256\n/);
  });

  it('the health-check node port says 200 with a local ready endpoint, then 503 once it is not ready', async () => {
    const node = c.node('a');
    const up = await waitFor('health-check node port', async () => {
      const r = await nodeGet(`http://${node.ip}:${HC_PORT}/`).catch(() => undefined);
      return r?.code === 200 ? r : undefined;
    }, 20000);
    expect(up.headers['x-load-balancing-endpoint-weight']).toBe('1');
    expect(JSON.parse(up.body)).toEqual({ service: { namespace: 'default', name: 'web' }, localEndpoints: 1, serviceProxyHealthy: true });

    // The endpoint controller marks the pod not ready; its change happened 1 s before the slice reaches
    // the API (after the agent started: earlier trigger times are not the agent's latency).
    await sleep(Math.max(0, agentStartedAt + 1500 - Date.now()));
    const since = agent.logs.length;
    const before = Date.now();
    api.upsert(EPS, slice(false, new Date(before - 1000).toISOString()));
    const applied = await agent.waitLog((l) => l.msg === 'applied', 20000, since);
    const after = Date.now();
    expect(applied.changed).toBeGreaterThanOrEqual(1);
    const down = await waitFor('503', async () => {
      const r = await nodeGet(`http://${node.ip}:${HC_PORT}/`);
      return r.code === 503 ? r : undefined;
    }, 10000);
    expect(down.headers['x-load-balancing-endpoint-weight']).toBe('0');
    expect(JSON.parse(down.body)).toEqual({ service: { namespace: 'default', name: 'web' }, localEndpoints: 0, serviceProxyHealthy: true });

    // kube-proxy's metrics: one programming latency observed (the first slice predates the agent),
    // between the 1 s the change waited before reaching the API and that plus the time it took here.
    const m = await agentMetrics();
    expect(sample(m, 'kubeproxy_network_programming_duration_seconds_count')).toBe(1);
    const observed = sample(m, 'kubeproxy_network_programming_duration_seconds_sum')!;
    expect(observed).toBeGreaterThanOrEqual(1);
    expect(observed).toBeLessThanOrEqual(1 + (after - before) / 1000 + 0.05);
    expect(sample(m, 'kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="external"}')).toBe(1);
    expect(sample(m, 'kubeproxy_sync_proxy_rules_duration_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(Math.abs(sample(m, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds')! * 1000 - after)).toBeLessThan(5000);
  }, 60_000);


  it('a change left unprogrammed past --healthz-timeout turns :10256 and the health-check node port to 503, until one applies', async () => {
    const node = c.node('a');
    const hcUrl = `http://${node.ip}:${HC_PORT}/`;
    let since = agent.logs.length;
    api.upsert(EPS, slice(true, new Date().toISOString()));
    await agent.waitLog((l) => l.msg === 'applied', 20000, since);
    await waitFor('200 again', async () => (await nodeGet(hcUrl)).code === 200, 10000);

    // More backends than the maps hold: the agent refuses the version and keeps the previous state.
    since = agent.logs.length;
    const refusedAt = Date.now();
    api.upsert(EPS, slice(true, new Date().toISOString(), MAX_BACKENDS + 4));
    await agent.waitLog((l) => l.msg === 'version not applied; previous state kept', 20000, since);
    const early = await nodeGet('http://127.0.0.1:10256/healthz');
    if (Date.now() - refusedAt < HEALTHZ_TIMEOUT_S * 1000 - 200) expect(early.code).toBe(200); // not late yet
    const stale = await waitFor('503 from :10256', async () => {
      const r = await nodeGet('http://127.0.0.1:10256/healthz');
      return r.code === 503 ? r : undefined;
    }, 15000);
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(HEALTHZ_TIMEOUT_S * 1000);
    const body = JSON.parse(stale.body) as { lastUpdated: string; currentTime: string; nodeEligible: boolean };
    expect(body.nodeEligible).toBe(true);
    expect(Date.parse(body.lastUpdated)).toBeLessThanOrEqual(refusedAt); // the last programmed change, not now
    expect((await nodeGet('http://127.0.0.1:10256/livez')).code).toBe(503);
    const hc = await nodeGet(hcUrl);
    expect(hc.code).toBe(503);
    expect(hc.headers['x-load-balancing-endpoint-weight']).toBe('1');
    expect(JSON.parse(hc.body)).toEqual({ service: { namespace: 'default', name: 'web' }, localEndpoints: 1, serviceProxyHealthy: false });
    expect(sample(await agentMetrics(), 'kubeproxy_healthz_total{code="503"}')).toBeGreaterThanOrEqual(1);

    // A version that fits is programmed: healthy again.
    since = agent.logs.length;
    api.upsert(EPS, slice(true, new Date().toISOString(), 1));
    await agent.waitLog((l) => l.msg === 'applied', 20000, since);
    expect((await nodeGet('http://127.0.0.1:10256/healthz')).code).toBe(200);
    expect((await nodeGet(hcUrl)).code).toBe(200);
  }, 60_000);

  it("the node being deleted (the autoscaler's taint, a deletionTimestamp) turns :10256 /healthz to 503 with why, and back to 200 once it is not", async () => {
    const name = c.node('a').nodeName;
    const nodeObj = (extra: { taints?: Array<{ key: string; effect: string }>; deletionTimestamp?: string } = {}): KObj => ({
      metadata: { name, labels: { 'kubernetes.io/hostname': name }, ...(extra.deletionTimestamp && { deletionTimestamp: extra.deletionTimestamp, finalizers: ['example.com/hold'] }) },
      spec: { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }, ...(extra.taints ?? [])] },
    });
    const healthz = async () => { const r = await nodeGet('http://127.0.0.1:10256/healthz'); return { code: r.code, body: JSON.parse(r.body) as Record<string, unknown> }; };
    const status = (...args: string[]) => execFileSync(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', name, 'status', ...args], { encoding: 'utf8' });

    // Registered, tainted only as any cordoned node is: eligible.
    api.upsert(NODES, nodeObj());
    await waitFor('Node known to the agent', async () => /Node state: +eligible\n/.test(status()), 20000);
    expect((await healthz()).code).toBe(200);

    const since = agent.logs.length;
    api.upsert(NODES, nodeObj({ taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] }));
    const tainted = await waitFor('503 for the taint', async () => { const r = await healthz(); return r.code === 503 ? r : undefined; }, 20000);
    expect(tainted.body).toMatchObject({ nodeEligible: false, reason: 'node is being deleted: taint ToBeDeletedByClusterAutoscaler' });
    expect(Date.parse(tainted.body.lastUpdated as string)).toBeLessThanOrEqual(Date.now()); // kube-proxy's fields stay
    expect((await nodeGet('http://127.0.0.1:10256/livez')).code).toBe(200); // the proxy itself is fine
    expect(agent.logs.slice(since).some((l) => l.msg === 'node is being deleted: /healthz answers 503 so that load balancers drain it')).toBe(true);
    const m = await agentMetrics();
    expect(sample(m, 'sluice_node_eligible')).toBe(0);
    expect(sample(m, 'kubeproxy_healthz_total{code="503"}')).toBeGreaterThanOrEqual(1);
    await waitFor('status shows it', async () => /Node state: +being deleted \(taint ToBeDeletedByClusterAutoscaler\) since \S+: \/healthz answers 503\n/.test(status()), 10000);
    expect(status('--verbose')).toMatch(/Health Server: +0\.0\.0\.0:10256 \(\/healthz 503: node being deleted: taint ToBeDeletedByClusterAutoscaler\)\n/);
    expect(JSON.parse(status('-o', 'json')).agent.nodeState).toMatchObject({ known: true, eligible: false, reason: 'taint ToBeDeletedByClusterAutoscaler' });

    api.upsert(NODES, nodeObj());
    await waitFor('200 once the taint is gone', async () => (await healthz()).code === 200, 20000);
    expect(Object.keys((await healthz()).body).sort()).toEqual(['currentTime', 'lastUpdated', 'nodeEligible']);
    expect(sample(await agentMetrics(), 'sluice_node_eligible')).toBe(1);

    // kubectl delete node with a finalizer holding it: the deletionTimestamp is set first.
    api.upsert(NODES, nodeObj({ deletionTimestamp: '2026-11-29T16:00:00Z' }));
    const deleting = await waitFor('503 for the deletionTimestamp', async () => { const r = await healthz(); return r.code === 503 ? r : undefined; }, 20000);
    expect(deleting.body.reason).toBe('node is being deleted: deletionTimestamp 2026-11-29T16:00:00Z');
    // The object goes: still being deleted.
    api.remove(NODES, '', name);
    await waitFor('reason: object deleted', async () => (await healthz()).body.reason === 'node is being deleted: Node object deleted', 20000);
    expect((await healthz()).code).toBe(503);
    // Registered again (a node of the same name): eligible, 200.
    api.upsert(NODES, nodeObj());
    await waitFor('200 again', async () => (await healthz()).code === 200, 20000);
    expect(status()).toMatch(/Node state: +eligible\n/);
  }, 90_000);
});

describe('Grafana dashboard', () => {
  it('parses, and every expression names metrics the agent or control plane exports (live scrapes)', async () => {
    const dash = JSON.parse(fs.readFileSync(`${REPO}deploy/grafana/sluice.json`, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    const scraped = (await agentMetrics()) + (await (await fetch(cpMetricsUrl)).text());
    // Names with a sample line, or declared by # TYPE (a labelled metric not yet incremented has no sample).
    const exported = new Set<string>();
    for (const l of scraped.split('\n')) {
      const t = /^# TYPE (\S+) (\S+)/.exec(l);
      if (t) { exported.add(t[1]!); if (t[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(t[1]! + s); }
      const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(l);
      if (s) exported.add(s[1]!);
    }
    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    const missing: string[] = [];
    for (const { panel, expr } of exprs) {
      const names = expr.match(/\b(?:sluice|kubeproxy)_[a-z0-9_]+/g) ?? [];
      if (names.length === 0) missing.push(`${panel}: no metric in ${expr}`);
      for (const n of names) if (!exported.has(n)) missing.push(`${panel}: ${n}`);
    }
    expect(missing).toEqual([]);
    // The sections the dashboard promises.
    const all = exprs.map((e) => e.expr).join('\n');
    for (const n of ['sluice_services', 'sluice_backends', 'kubeproxy_network_programming_duration_seconds_bucket', 'sluice_service_connections_total',
      'sluice_service_packets_total', 'sluice_service_bytes_total', 'sluice_service_rejects_total', 'sluice_datapath_events_total', 'sluice_map_entries']) {
      expect(all).toContain(n);
    }
  });
});
