// The Kubernetes source through its informers (controlplane/list-watch.ts, held to client-node's
// in controlplane-list-watch.test.ts) against a fake API server speaking the list/watch protocol;
// checked end to end through the real gRPC server and client. The connection is read from a
// kubeconfig file as the control plane reads it, and (last test) from a client-node KubeConfig.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { FakeApiServer, type KObj } from '../fixtures/fake-apiserver.ts';
import { StateStore } from '../../controlplane/store.ts';
import { StateServer, privateSocketAddress } from '../../controlplane/server.ts';
import { createMetrics } from '../../controlplane/metrics.ts';
import { KubernetesSource } from '../../controlplane/source-kubernetes.ts';
import { connectStateStream, type StateStreamClient } from '../../agent/stream-client.ts';
import type { NodeState, Service } from '../../proto/contract.ts';

const SVC = '/api/v1/services';
const EPS = '/apis/discovery.k8s.io/v1/endpointslices';
const NODES = '/api/v1/nodes';
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

function svc(name: string, ip: string): KObj {
  return { metadata: { name, namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }] } };
}
function eps(name: string, service: string, ips: string[], port = 8080): KObj {
  return {
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4', ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: ips.map((ip, i) => ({ addresses: [ip], conditions: { ready: true }, nodeName: 'node-a', targetRef: { kind: 'Pod', namespace: 'default', name: `${service}-${i}` } })),
  };
}

async function waitFor(what: string, cond: () => boolean, ms = 45_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('kubernetes source with real informers', () => {
  const api = new FakeApiServer();
  const agent = new Map<string, Service>();
  let store: StateStore;
  let server: StateServer;
  let source: KubernetesSource;
  let client: StateStreamClient;
  let snapshots = 0;
  /** Every update's node state, in order (null: none sent). */
  const nodeStates: Array<{ node: NodeState | null; services: number }> = [];

  /** Agent view: key -> sorted "ip:port" of its first port. */
  const view = (): Record<string, string[]> =>
    Object.fromEntries([...agent].sort().map(([k, s]) => [k, (s.ports[0]?.endpoints ?? []).map((e) => `${e.ip}:${e.port}`)]));

  /**
   * Waits for both watches, then sends one event on each that changes nothing for the agent:
   * the informer (as client-node's) resets its watch reconnect backoff only when an event arrives, so this keeps
   * the next forced reconnect quick.
   */
  let pings = 0;
  async function settle(): Promise<void> {
    await waitFor('watches', () => api.watcherCount === 3);
    pings++;
    api.upsert(SVC, { metadata: { name: 'ping', namespace: 'default' }, spec: { type: 'ExternalName', externalName: `p${pings}.example` } });
    api.upsert(EPS, { metadata: { name: 'ping', namespace: 'default', labels: { 'kubernetes.io/service-name': 'ping' } }, addressType: 'IPv4', endpoints: [], ports: [{ port: pings }] });
    api.upsert(NODES, { metadata: { name: 'ping', labels: { ping: String(pings) } } });
    await new Promise((r) => setTimeout(r, 100));
  }

  beforeAll(async () => {
    await api.start();
    // enough objects for several list pages (pageSize 2)
    api.upsert(SVC, svc('a', '10.96.0.10'));
    api.upsert(SVC, svc('b', '10.96.0.11'));
    api.upsert(SVC, svc('c', '10.96.0.12'));
    api.upsert(EPS, eps('a-1', 'a', ['10.244.1.1']));
    api.upsert(EPS, eps('b-1', 'b', ['10.244.1.2']));
    api.upsert(EPS, eps('c-1', 'c', ['10.244.1.3']));

    const kubeconfig = api.writeKubeconfig(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-informer-')));
    store = new StateStore();
    const metrics = createMetrics(store);
    source = new KubernetesSource({ store, logger: log, kubeconfig, pageSize: 2, restartBackoffInitialMs: 100, restartBackoffMaxMs: 1000 });
    server = new StateServer({ store, logger: log, metrics });
    const target = privateSocketAddress();
    await server.listen(target);
    source.start();
    client = connectStateStream({
      target, nodeName: 'node-a',
      onUpdate: async (u) => {
        nodeStates.push({ node: u.node, services: u.upserts.length + u.removals.length });
        if (u.snapshot) { agent.clear(); snapshots++; }
        for (const k of u.removals) agent.delete(k);
        for (const s of u.upserts) agent.set(`${s.namespace}/${s.name}`, s);
      },
    });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await source?.stop();
    await server?.close();
    await api.close();
  });

  it('initial paged list reaches the agent as one snapshot', async () => {
    await waitFor('initial state', () => Object.keys(view()).length === 3);
    expect(view()).toEqual({ 'default/a': ['10.244.1.1:8080'], 'default/b': ['10.244.1.2:8080'], 'default/c': ['10.244.1.3:8080'] });
    expect(snapshots).toBe(1);
    const lists = api.requests.filter((r) => !r.includes('watch=true'));
    expect(lists.some((r) => r.includes('limit=2') && r.includes('continue='))).toBe(true);
    const watches = api.requests.filter((r) => r.includes('watch=true'));
    expect(watches.length).toBeGreaterThanOrEqual(2);
    for (const w of watches) expect(w).toContain('allowWatchBookmarks=true');
  }, 60_000);

  it('watch adds, updates and deletes reach the agent', async () => {
    await settle();
    api.upsert(SVC, svc('d', '10.96.0.13'));
    api.upsert(EPS, eps('d-1', 'd', ['10.244.1.4', '10.244.1.5']));
    api.upsert(EPS, eps('a-1', 'a', ['10.244.1.1', '10.244.1.6'], 9090));
    api.remove(SVC, 'default', 'b');
    api.remove(EPS, 'default', 'b-1');
    api.bookmark();
    await waitFor('watch changes', () => JSON.stringify(view()) === JSON.stringify({
      'default/a': ['10.244.1.1:9090', '10.244.1.6:9090'], 'default/c': ['10.244.1.3:8080'], 'default/d': ['10.244.1.4:8080', '10.244.1.5:8080'],
    }));
    expect(snapshots).toBe(1);
  }, 60_000);

  it('410 as an ERROR watch event forces a relist that ends in the right state', async () => {
    await settle();
    // Changes nobody sees as events (history compacted), then the watches drop.
    api.remove(SVC, 'default', 'c', { silent: true });
    api.remove(EPS, 'default', 'c-1', { silent: true });
    api.upsert(SVC, svc('e', '10.96.0.14'), { silent: true });
    api.upsert(EPS, eps('e-1', 'e', ['10.244.1.7']), { silent: true });
    api.upsert(EPS, eps('d-1', 'd', ['10.244.1.4']), { silent: true });
    api.compact();
    const before = api.requests.length;
    api.closeWatches();
    await waitFor('relist after ERROR 410', () => JSON.stringify(view()) === JSON.stringify({
      'default/a': ['10.244.1.1:9090', '10.244.1.6:9090'], 'default/d': ['10.244.1.4:8080'], 'default/e': ['10.244.1.7:8080'],
    }));
    const after = api.requests.slice(before);
    expect(after.some((r) => !r.includes('watch=true') && r.startsWith(SVC))).toBe(true); // relisted
  }, 60_000);

  it('410 as an HTTP status forces a relist too', async () => {
    await settle();
    api.remove(SVC, 'default', 'a', { silent: true });
    api.remove(EPS, 'default', 'a-1', { silent: true });
    api.upsert(EPS, eps('e-1', 'e', ['10.244.1.7', '10.244.1.8']), { silent: true });
    api.compact();
    api.http410OnNextWatches = 2;
    api.closeWatches();
    await waitFor('relist after HTTP 410', () => JSON.stringify(view()) === JSON.stringify({
      'default/d': ['10.244.1.4:8080'], 'default/e': ['10.244.1.7:8080', '10.244.1.8:8080'],
    }));
    expect(api.http410OnNextWatches).toBe(0);
    // still watching afterwards
    await waitFor('watches again', () => api.watcherCount === 3);
    api.upsert(SVC, svc('f', '10.96.0.15'));
    await waitFor('post-relist add', () => 'default/f' in view());
    expect(snapshots).toBe(1); // all of this went out as deltas on the same stream
  }, 60_000);

  it('an expired continue token (410) restarts the list', async () => {
    await settle();
    for (let i = 0; i < 6; i++) api.upsert(SVC, svc(`p${i}`, `10.96.1.${i + 1}`), { silent: true });
    api.compact();
    api.expireNextContinues = 1;
    const before = api.requests.length;
    api.closeWatches();
    await waitFor('paged relist', () => ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'].every((n) => `default/${n}` in view()));
    expect(api.expireNextContinues).toBe(0);
    const svcLists = api.requests.slice(before).filter((r) => r.startsWith(SVC) && !r.includes('watch=true'));
    expect(svcLists.filter((r) => !r.includes('continue=')).length).toBeGreaterThanOrEqual(2); // restarted from the first page
    expect(Object.keys(view()).sort()).toEqual(['default/d', 'default/e', 'default/f', ...['p0', 'p1', 'p2', 'p3', 'p4', 'p5'].map((n) => `default/${n}`)]);
  }, 60_000);

  it('a non-410 watch error stops the informer; the source restarts it with backoff', async () => {
    await settle();
    api.fail500OnNextWatches = 2;
    api.closeWatches();
    await waitFor('watch failures consumed', () => api.fail500OnNextWatches === 0);
    api.upsert(SVC, svc('g', '10.96.0.16'));
    await waitFor('add after restart', () => 'default/g' in view());
    await waitFor('watches again', () => api.watcherCount === 3);
    api.remove(SVC, 'default', 'g');
    await waitFor('delete after restart', () => !('default/g' in view()));
    expect(snapshots).toBe(1);
  }, 60_000);

  it("kube-proxy's label filters on the watches, and a Node's zone label re-projects hinted services", async () => {
    await settle();
    // lists and watches of Services and EndpointSlices carry kube-proxy's selector
    const calls = api.requests.filter((r) => r.startsWith(SVC) || r.startsWith(EPS));
    expect(calls.length).toBeGreaterThan(4);
    for (const w of calls) expect(decodeURIComponent(w)).toContain('labelSelector=!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless');
    // another proxy's service, and a service that turns headless-labelled, are not proxied
    api.upsert(SVC, { ...svc('other', '10.96.0.17'), metadata: { name: 'other', namespace: 'default', labels: { 'service.kubernetes.io/service-proxy-name': 'foo' } } });
    api.upsert(EPS, eps('other-1', 'other', ['10.244.1.9']));
    api.upsert(SVC, { ...svc('d', '10.96.0.13'), metadata: { name: 'd', namespace: 'default', labels: { 'service.kubernetes.io/headless': '' } } });
    // zone hints: node-a has no zone yet, so hints are ignored
    api.upsert(SVC, svc('z', '10.96.0.18'));
    const hinted = eps('z-1', 'z', ['10.244.2.1', '10.244.2.2']);
    (hinted.endpoints as { hints?: unknown }[]).forEach((e, i) => { e.hints = { forZones: [{ name: i === 0 ? 'zone-a' : 'zone-b' }] }; });
    api.upsert(EPS, hinted);
    await waitFor('filters and hinted service', () => !('default/d' in view()) && JSON.stringify(view()['default/z']) === JSON.stringify(['10.244.2.1:8080', '10.244.2.2:8080']));
    expect('default/other' in view()).toBe(false);
    api.upsert(NODES, { metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'zone-b' } } });
    await waitFor('zone-b endpoints only', () => JSON.stringify(view()['default/z']) === JSON.stringify(['10.244.2.2:8080']));
    expect(agent.get('default/z')!.ports[0]!.endpoints[0]).toMatchObject({ internal: true, external: true, cluster: true });
    api.remove(NODES, '', 'node-a');
    await waitFor('zone unknown again: hints ignored', () => view()['default/z']?.length === 2);
    expect(snapshots).toBe(1);
  }, 60_000);

  it('dual-stack: an IPv6 EndpointSlice feeds the IPv6 family of a dual-stack Service; the agent gets both families, canonical', async () => {
    await settle();
    api.upsert(SVC, { metadata: { name: 'ds', namespace: 'default' }, spec: {
      type: 'ClusterIP', clusterIP: '10.96.0.19', clusterIPs: ['10.96.0.19', 'fd00:10:96::19'], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }],
    } });
    api.upsert(EPS, eps('ds-v4', 'ds', ['10.244.3.1']));
    api.upsert(EPS, { ...eps('ds-v6', 'ds', ['FD00:10:244:0::3:1']), addressType: 'IPv6' });
    await waitFor('both families', () => view()['default/ds']?.length === 2);
    const got = agent.get('default/ds')!;
    expect([got.clusterIps, got.ipFamilies, got.ipFamilyPolicy]).toEqual([['10.96.0.19', 'fd00:10:96::19'], [4, 6], 'RequireDualStack']);
    expect(got.ports[0]!.endpoints.map((e) => [e.ip, e.family])).toEqual([['10.244.3.1', 4], ['fd00:10:244::3:1', 6]]);
    expect(snapshots).toBe(1);
  }, 60_000);

  it("the node's own state reaches its agent in the stream: being deleted (deletionTimestamp, the autoscaler's taint, object gone) and back", async () => {
    const last = (): NodeState | null | undefined => nodeStates.at(-1)?.node;
    const waitNode = (what: string, want: NodeState) => waitFor(what, () => JSON.stringify(last()) === JSON.stringify(want));
    const node = (extra: { deletionTimestamp?: string; taints?: Array<{ key: string; effect: string }> } = {}): KObj => ({
      metadata: { name: 'node-a', labels: { 'kubernetes.io/hostname': 'node-a' }, ...(extra.deletionTimestamp && { deletionTimestamp: extra.deletionTimestamp }) },
      ...(extra.taints && { spec: { taints: extra.taints } }),
    });
    // Every update carries it, the snapshot included.
    expect(nodeStates[0]!.node).not.toBeNull();
    expect(nodeStates.every((u) => u.node !== null)).toBe(true);
    // node-a's object was deleted by the previous case while this stream was open.
    expect(last()).toEqual({ known: true, deleting: true, reason: 'Node object deleted' });

    api.upsert(NODES, node());
    await waitNode('registered again: eligible', { known: true, deleting: false, reason: '' });
    // Any other taint leaves the node eligible, and a Node update that changes nothing of it sends nothing.
    const before = nodeStates.length;
    api.upsert(NODES, node({ taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }));
    api.upsert(NODES, node({ taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] }));
    await waitNode('tainted by the autoscaler', { known: true, deleting: true, reason: 'taint ToBeDeletedByClusterAutoscaler' });
    expect(nodeStates.length).toBe(before + 1);
    // A change of the node state alone: an update without services.
    expect(nodeStates.at(-1)!.services).toBe(0);

    api.upsert(NODES, node());
    await waitNode('taint removed', { known: true, deleting: false, reason: '' });
    api.upsert(NODES, node({ deletionTimestamp: '2026-11-29T12:00:00Z' }));
    await waitNode('deletionTimestamp set', { known: true, deleting: true, reason: 'deletionTimestamp 2026-11-29T12:00:00Z' });
    api.upsert(NODES, node());
    await waitNode('deletion called off', { known: true, deleting: false, reason: '' });
    // Another node's changes are not this agent's.
    const n = nodeStates.length;
    api.upsert(NODES, { metadata: { name: 'node-b' }, spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] } });
    await settle();
    expect(nodeStates.length).toBe(n);
    expect(snapshots).toBe(1);
  }, 60_000);
});

describe('the snapshot gate', () => {
  it('sends an agent nothing until every informer has listed, then the whole state in one snapshot', async () => {
    const api = new FakeApiServer();
    await api.start();
    api.upsert(SVC, svc('a', '10.96.0.10'));
    api.upsert(SVC, svc('b', '10.96.0.11'));
    api.upsert(EPS, eps('a-1', 'a', ['10.244.1.1']));
    api.upsert(EPS, eps('b-1', 'b', ['10.244.1.2']));
    api.holdLists(EPS); // Services list at once, EndpointSlices not yet: a partial state
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser({ name: 'fake', server: api.url, skipTLSVerify: true }, { name: 'test', token: 'test-token' });
    const store = new StateStore();
    const source = new KubernetesSource({ store, logger: log, kubeConfig: kc });
    const server = new StateServer({ store, logger: log, metrics: createMetrics(store) });
    const target = privateSocketAddress();
    await server.listen(target);
    source.start();
    const updates: Array<{ snapshot: boolean; services: Record<string, string[]> }> = [];
    const client = connectStateStream({
      target, nodeName: 'node-a',
      onUpdate: async (u) => {
        updates.push({ snapshot: u.snapshot, services: Object.fromEntries([...u.upserts].map((s) => [s.name, (s.ports[0]?.endpoints ?? []).map((e) => e.ip)])) });
      },
    });
    try {
      await waitFor('the agent to say hello', () => server.agents()[0]?.node === 'node-a');
      await waitFor('the Services list', () => store.size === 2);
      // The store holds both Services (without endpoints) and an agent waits: 2 s in which a
      // snapshot would go out at once (the server sends on hello and on every store change).
      api.upsert(SVC, svc('c', '10.96.0.12'));
      await new Promise((r) => setTimeout(r, 2000));
      expect(store.synced).toBe(false);
      expect(updates).toEqual([]);
      api.releaseLists(EPS);
      await waitFor('the snapshot', () => updates.length > 0);
      expect(updates[0]).toEqual({ snapshot: true, services: { a: ['10.244.1.1'], b: ['10.244.1.2'], c: [] } });
    } finally {
      client.close();
      await source.stop();
      await server.close();
      await api.close();
    }
  }, 60_000);
});
