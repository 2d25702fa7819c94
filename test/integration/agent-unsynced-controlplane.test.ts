// A control plane restarting against a slow API server knows only part of the cluster (here: the
// Services, not yet their EndpointSlices). A snapshot sent then would wipe or empty the node's
// services, since an agent applies a snapshot as the whole truth. The control plane's gate (no
// snapshot before every source has listed) is what prevents that: checked here with the real agent,
// real BPF and real traffic, and against the real informers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimAgent } from '../../sim/agent.ts';
import { SimCluster, type PodClient } from '../../sim/cluster.ts';
import { SimControlPlane } from '../../sim/controlplane.ts';
import { nsRun, waitFor } from '../../sim/netns.ts';
import { pinnedFrontends } from '../../sim/pinned.ts';
import { FakeApiServer, type KObj } from '../fixtures/fake-apiserver.ts';

const SVC = '/api/v1/services';
const EPS = '/apis/discovery.k8s.io/v1/endpointslices';
const VIP = '10.96.20.10';
const BACKENDS = ['b1', 'b2'];

let c: SimCluster;
let cp: SimControlPlane;
let agent: SimAgent;
let client: PodClient;
let tmp: string;
const api = new FakeApiServer();

beforeAll(async () => {
  c = await SimCluster.create({ nodes: ['a'] });
  await c.addClientAndBackends('a', BACKENDS, { tcp: [8080] });
  await api.start();
  api.upsert(SVC, { metadata: { name: 'web', namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: VIP, clusterIPs: [VIP], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } });
  const slice: KObj = {
    metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: BACKENDS.map((b) => ({ addresses: [c.pod(b).ip], conditions: { ready: true }, nodeName: c.node('a').nodeName })),
  };
  api.upsert(EPS, slice);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-unsynced-'));
  const kubeconfig = api.writeKubeconfig(tmp);
  cp = await SimControlPlane.start(c, { kubeconfig });
  agent = await SimAgent.start(c, 'a', { controlPlane: cp.address });
  await agent.waitLog((l) => l.msg === 'applied', 30000);
  client = await c.client('client');
  await waitFor('web reachable', async () => (await client.burst(`${VIP}:80`, { count: 3 })).ok === 3, 20000);
});

afterAll(async () => {
  await c?.destroy();
  await api.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('an agent following a control plane that has not synced', () => {
  it('keeps serving every service while the restarted control plane has listed Services but not EndpointSlices', async () => {
    const node = c.node('a').nodeName;
    const before = pinnedFrontends(node);
    expect(before.get(`${VIP}:80/TCP`)).toBe(2);
    await cp.kill('SIGKILL');
    api.holdLists(EPS);
    const since = agent.logs.length, cpSince = cp.logs.length, listsBefore = api.requests.length;
    await cp.restart();
    // The agent's stream is up (the agent itself says "connected" only with a first update).
    await waitFor('the agent to reconnect', async () => cp.logs.slice(cpSince).some((l) => l.msg === 'agent connected' && l.node === node), 20000);
    // The new control plane has the Services (listed) and waits for the EndpointSlices list.
    await waitFor('the Services list', async () => api.requests.slice(listsBefore).some((u) => u.startsWith(SVC) && !u.includes('watch=')), 10000);
    expect(api.requests.slice(listsBefore).some((u) => u.startsWith(EPS) && !u.includes('watch='))).toBe(true);

    // 3 s of traffic with the agent connected to it: no update may reach the agent, every
    // connection answers, none waits on a lost packet (1 s: the SYN retransmission timeout).
    const r = await client.burst(`${VIP}:80`, { durationMs: 3000, concurrency: 2, timeoutMs: 3000, slowMs: 1000 });
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(r.slow).toEqual([]);
    expect(Object.keys(r.counts).sort()).toEqual(BACKENDS);
    expect(agent.logs.slice(since).filter((l) => l.msg === 'applied' || l.msg === 'version not applied; previous state kept')).toEqual([]);
    expect(pinnedFrontends(node)).toEqual(before);

    // Once the slices are listed: one snapshot, equal to what the node already has.
    api.releaseLists(EPS);
    const applied = await agent.waitLog((l) => l.msg === 'applied', 30000, since);
    expect(applied).toMatchObject({ snapshot: true, services: 1, changed: 0, removed: 0 });
    expect(pinnedFrontends(node)).toEqual(before);
  });

  it('a new agent answers /readyz 503 until it has applied a first version (and /healthz 200 meanwhile)', async () => {
    await cp.kill('SIGKILL');
    api.holdLists(EPS);
    await cp.restart();
    const cpSince = cp.logs.length;
    const name = `${c.node('a').nodeName}-fresh`;
    const fresh = await SimAgent.start(c, 'a', { controlPlane: cp.address, args: ['--node-name', name, '--pod-interfaces', 'none', '--metrics-addr', '127.0.0.1:9965'] });
    const probe = (p: string) => nsRun(c.node('a').ns, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:9965${p}`]);
    await waitFor('the new agent to connect', async () => cp.logs.slice(cpSince).some((l) => l.msg === 'agent connected' && l.node === name), 20000);
    expect(await probe('/healthz')).toBe('200');
    expect(await probe('/readyz')).toBe('503');
    api.releaseLists(EPS);
    await fresh.waitLog((l) => l.msg === 'applied', 30000);
    expect(await probe('/readyz')).toBe('200');
    await fresh.kill();
  });
});
