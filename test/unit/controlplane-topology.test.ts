// kube-proxy's TestCategorizeEndpoints (pkg/proxy/topology_test.go), case by case, fed through the
// model as Kubernetes objects (Service + EndpointSlice + the node's zone) and read back from the
// per-node message: the endpoints flagged `cluster` are kube-proxy's clusterEndpoints, those flagged
// `internal` / `external` under a Local policy are its localEndpoints, the message's endpoint list
// is its allReachableEndpoints, and "has any endpoints" (reject versus drop) is "the cluster-wide
// set is not empty".
//
// Not transcribed, because kube-proxy no longer has the behaviour they test:
// - the cases about the service.kubernetes.io/topology-aware-hints annotation ("hints annotation ==
//   disabled / aUto / empty, hints ignored"): kube-proxy now uses hints whenever every ready endpoint
//   has one (the EndpointSlice controller writes hints only when the service asks for them);
// - the "PTE disabled" cases: ProxyTerminatingEndpoints is GA, always on.
// One deliberate difference (docs/control-plane.md): where kube-proxy computes no cluster set
// (internalTrafficPolicy Local, no external address) Sluice still computes it, flagged `cluster`
// only; those cases state it in `sluiceCluster`.
import { describe, expect, it } from 'vitest';
import { buildNodeServices, type KubeEndpointSlice, type KubeService } from '../../controlplane/model.ts';

const NODE = 'node-a';
interface Ep { ready?: boolean; serving?: boolean; terminating?: boolean; local?: boolean; zones?: string[]; nodes?: string[] }
interface Case {
  name: string;
  zone?: string;
  itp?: 'Local';
  etp?: 'Local';
  /** kube-proxy's serviceInfo nodePort: the service is externally accessible. */
  nodePort?: number;
  eps: Record<string, Ep>;
  /** null: kube-proxy computes no such set for this service. */
  cluster: string[] | null;
  local: string[] | null;
  /** Needed when both sets are used (else it is the one used). */
  all?: string[];
  onlyRemote?: boolean;
  /** Sluice's cluster-wide set where kube-proxy has none (cluster: null). */
  sluiceCluster?: string[];
}

const zA = ['zone-a'];
const zB = ['zone-b'];
const zC = ['zone-c'];
const four = (h: Ep[]): Record<string, Ep> => Object.fromEntries(h.map((e, i) => [`10.1.2.${i + 3}:80`, { ready: true, ...e }]));

const cases: Case[] = [
  {
    name: 'hints enabled, hints annotation == auto',
    zone: 'zone-a',
    eps: four([{ zones: zA }, { zones: zB }, { zones: zC }, { zones: zA }]),
    cluster: ['10.1.2.3:80', '10.1.2.6:80'], local: null,
  },
  {
    name: 'externalTrafficPolicy: Local, topology ignored for Local endpoints',
    zone: 'zone-a', etp: 'Local', nodePort: 8080,
    eps: four([{ zones: zA, local: true }, { zones: zB, local: true }, { zones: zC }, { zones: zA }]),
    cluster: ['10.1.2.3:80', '10.1.2.6:80'], local: ['10.1.2.3:80', '10.1.2.4:80'], all: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.6:80'],
  },
  {
    name: 'internalTrafficPolicy: Local, topology ignored for Local endpoints',
    zone: 'zone-a', itp: 'Local', nodePort: 8080,
    eps: four([{ zones: zA, local: true }, { zones: zB, local: true }, { zones: zC }, { zones: zA }]),
    cluster: ['10.1.2.3:80', '10.1.2.6:80'], local: ['10.1.2.3:80', '10.1.2.4:80'], all: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.6:80'],
  },
  { name: 'empty node labels', eps: { '10.1.2.3:80': { ready: true, zones: zA } }, cluster: ['10.1.2.3:80'], local: null },
  { name: 'empty zone label', zone: '', eps: { '10.1.2.3:80': { ready: true, zones: zA } }, cluster: ['10.1.2.3:80'], local: null },
  { name: 'node in different zone, no endpoint filtering', zone: 'zone-b', eps: { '10.1.2.3:80': { ready: true, zones: zA } }, cluster: ['10.1.2.3:80'], local: null },
  {
    name: 'normal endpoint filtering, auto annotation',
    zone: 'zone-a',
    eps: four([{ zones: zA }, { zones: zB }, { zones: zC }, { zones: zA }]),
    cluster: ['10.1.2.3:80', '10.1.2.6:80'], local: null,
  },
  {
    name: 'unready endpoint',
    zone: 'zone-a',
    eps: four([{ zones: zA }, { zones: zB }, { zones: zC }, { zones: zA, ready: false }]),
    cluster: ['10.1.2.3:80'], local: null,
  },
  {
    name: 'only unready endpoints in same zone (should not filter)',
    zone: 'zone-a',
    eps: four([{ zones: zA, ready: false }, { zones: zB }, { zones: zC }, { zones: zA, ready: false }]),
    cluster: ['10.1.2.4:80', '10.1.2.5:80'], local: null,
  },
  {
    name: 'missing hints, no filtering applied',
    zone: 'zone-a',
    eps: four([{ zones: zA }, { zones: zB }, {}, { zones: zA }]),
    cluster: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.5:80', '10.1.2.6:80'], local: null,
  },
  {
    name: 'multiple hints per endpoint, filtering includes any endpoint with zone included',
    zone: 'zone-c',
    eps: four([{ zones: ['zone-a', 'zone-b', 'zone-c'] }, { zones: ['zone-b', 'zone-c'] }, { zones: ['zone-b', 'zone-d'] }, { zones: zC }]),
    cluster: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.6:80'], local: null,
  },
  {
    name: 'conflicting topology and localness require merging allEndpoints',
    zone: 'zone-a', etp: 'Local', nodePort: 8080,
    eps: {
      '10.0.0.0:80': { ready: true, zones: zA, local: true }, '10.0.0.1:80': { ready: true, zones: zB, local: true },
      '10.0.0.2:80': { ready: true, zones: zA }, '10.0.0.3:80': { ready: true, zones: zB },
    },
    cluster: ['10.0.0.0:80', '10.0.0.2:80'], local: ['10.0.0.0:80', '10.0.0.1:80'], all: ['10.0.0.0:80', '10.0.0.1:80', '10.0.0.2:80'],
  },
  { name: 'internalTrafficPolicy: Local, with empty endpoints', itp: 'Local', eps: {}, cluster: null, local: [], sluiceCluster: [] },
  {
    name: 'internalTrafficPolicy: Local, but all endpoints are remote',
    itp: 'Local', eps: { '10.0.0.0:80': { ready: true }, '10.0.0.1:80': { ready: true } },
    cluster: null, local: [], onlyRemote: true, sluiceCluster: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'internalTrafficPolicy: Local, all endpoints are local',
    itp: 'Local', eps: { '10.0.0.0:80': { ready: true, local: true }, '10.0.0.1:80': { ready: true, local: true } },
    cluster: null, local: ['10.0.0.0:80', '10.0.0.1:80'], sluiceCluster: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'internalTrafficPolicy: Local, some endpoints are local',
    itp: 'Local', eps: { '10.0.0.0:80': { ready: true, local: true }, '10.0.0.1:80': { ready: true } },
    cluster: null, local: ['10.0.0.0:80'], sluiceCluster: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  { name: 'Cluster traffic policy, endpoints not Ready', eps: { '10.0.0.0:80': {}, '10.0.0.1:80': {} }, cluster: [], local: null },
  { name: 'Cluster traffic policy, some endpoints are Ready', eps: { '10.0.0.0:80': {}, '10.0.0.1:80': { ready: true } }, cluster: ['10.0.0.1:80'], local: null },
  {
    name: 'Cluster traffic policy, PTE enabled, all endpoints are terminating',
    eps: { '10.0.0.0:80': { serving: true, terminating: true, local: true }, '10.0.0.1:80': { serving: true, terminating: true } },
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: null,
  },
  {
    name: 'iTP: Local, eTP: Cluster, some endpoints local',
    itp: 'Local', nodePort: 8080, eps: { '10.0.0.0:80': { ready: true, local: true }, '10.0.0.1:80': { ready: true } },
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: ['10.0.0.0:80'], all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'iTP: Cluster, eTP: Local, some endpoints local',
    etp: 'Local', nodePort: 8080, eps: { '10.0.0.0:80': { ready: true, local: true }, '10.0.0.1:80': { ready: true } },
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: ['10.0.0.0:80'], all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'iTP: Local, eTP: Local, some endpoints local',
    itp: 'Local', etp: 'Local', nodePort: 8080, eps: { '10.0.0.0:80': { ready: true, local: true }, '10.0.0.1:80': { ready: true } },
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: ['10.0.0.0:80'], all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'iTP: Local, eTP: Local, all endpoints remote',
    itp: 'Local', etp: 'Local', nodePort: 8080, eps: { '10.0.0.0:80': { ready: true }, '10.0.0.1:80': { ready: true } },
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: [], all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'iTP: Local, eTP: Local, PTE enabled, all endpoints remote and terminating',
    itp: 'Local', etp: 'Local', nodePort: 8080,
    eps: { '10.0.0.0:80': { serving: true, terminating: true }, '10.0.0.1:80': { serving: true, terminating: true } },
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: [], all: ['10.0.0.0:80', '10.0.0.1:80'], onlyRemote: true,
  },
  {
    name: 'iTP: Cluster, eTP: Local, PTE enabled, with terminating endpoints',
    etp: 'Local', nodePort: 8080,
    eps: {
      '10.0.0.0:80': { ready: true }, '10.0.0.1:80': { local: true },
      '10.0.0.2:80': { serving: true, terminating: true, local: true }, '10.0.0.3:80': { serving: true, terminating: true },
    },
    cluster: ['10.0.0.0:80'], local: ['10.0.0.2:80'], all: ['10.0.0.0:80', '10.0.0.2:80'],
  },
  {
    name: 'externalTrafficPolicy ignored if not externally accessible',
    etp: 'Local', eps: { '10.0.0.0:80': { ready: true }, '10.0.0.1:80': { ready: true, local: true } },
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: null, all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'no cluster endpoints for iTP:Local internal-only service',
    itp: 'Local', eps: { '10.0.0.0:80': { ready: true }, '10.0.0.1:80': { ready: true, local: true } },
    cluster: null, local: ['10.0.0.1:80'], all: ['10.0.0.1:80'], sluiceCluster: ['10.0.0.0:80', '10.0.0.1:80'],
  },
];

// topologyModeFromHints (pkg/proxy/topology.go): node hints (trafficDistribution PreferSameNode) win
// when every ready endpoint has one and one names this node; else zone hints as above.
const sameNodeCases: Case[] = [
  {
    name: 'PreferSameNode: every ready endpoint has a node hint, one for this node',
    zone: 'zone-a',
    eps: four([{ zones: zA, nodes: [NODE] }, { zones: zA, nodes: ['node-b'] }, { zones: zB, nodes: ['node-c'] }, { zones: zA, nodes: [NODE], ready: false }]),
    cluster: ['10.1.2.3:80'], local: null,
  },
  {
    name: 'PreferSameNode: no endpoint hinted for this node, zone hints used',
    zone: 'zone-a',
    eps: four([{ zones: zA, nodes: ['node-b'] }, { zones: zA, nodes: ['node-d'] }, { zones: zB, nodes: ['node-c'] }, { zones: zB, nodes: ['node-e'] }]),
    cluster: ['10.1.2.3:80', '10.1.2.4:80'], local: null,
  },
  {
    name: 'PreferSameNode: one ready endpoint without a node hint, zone hints used',
    zone: 'zone-b',
    eps: four([{ zones: zA, nodes: [NODE] }, { zones: zA }, { zones: zB, nodes: ['node-c'] }, { zones: zB, nodes: ['node-e'] }]),
    cluster: ['10.1.2.5:80', '10.1.2.6:80'], local: null,
  },
  {
    name: 'no ready endpoint: hints ignored, serving+terminating fallback cluster-wide',
    zone: 'zone-a',
    eps: four([{ zones: zA, ready: false, serving: true, terminating: true }, { zones: zB, ready: false, serving: true, terminating: true }, { ready: false }, { ready: false, serving: true }]),
    cluster: ['10.1.2.3:80', '10.1.2.4:80'], local: null,
  },
  {
    name: 'local fallback takes serving AND terminating endpoints only (a serving, not terminating, unready one is not used)',
    etp: 'Local', nodePort: 8080,
    eps: { '10.0.0.0:80': { ready: true }, '10.0.0.1:80': { serving: true, local: true } },
    cluster: ['10.0.0.0:80'], local: [], all: ['10.0.0.0:80'],
  },
];

function objects(c: Case): { svc: KubeService; slice: KubeEndpointSlice } {
  const type = c.nodePort ? 'NodePort' : 'ClusterIP';
  const svc: KubeService = {
    metadata: { name: 's', namespace: 'ns' },
    spec: {
      type, clusterIP: '10.96.0.10', internalTrafficPolicy: c.itp ?? 'Cluster', externalTrafficPolicy: c.etp ?? 'Cluster',
      ports: [{ name: 'p', port: 80, protocol: 'TCP', targetPort: 80, ...(c.nodePort ? { nodePort: c.nodePort } : {}) }],
    },
  };
  const slice: KubeEndpointSlice = {
    metadata: { name: 's-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 's' } },
    addressType: 'IPv4',
    ports: [{ name: 'p', port: 80, protocol: 'TCP' }],
    endpoints: Object.entries(c.eps).map(([addr, e]) => ({
      addresses: [addr.split(':')[0]!],
      // kube-proxy's test endpoints have every condition false unless set
      conditions: { ready: e.ready ?? false, serving: e.serving ?? false, terminating: e.terminating ?? false },
      nodeName: e.local ? NODE : 'node-b',
      ...(e.zones || e.nodes ? { hints: { forZones: (e.zones ?? []).map((name) => ({ name })), forNodes: (e.nodes ?? []).map((name) => ({ name })) } } : {}),
    })),
  };
  return { svc, slice };
}

const sorted = (l: Iterable<string>): string[] => [...l].sort();

function check(c: Case): void {
  const { svc, slice } = objects(c);
  const r = buildNodeServices([svc], [slice], { name: NODE, zone: c.zone ?? '' });
  expect(r.errors).toEqual([]);
  const eps = r.services[0]!.ports[0]!.endpoints;
  const addr = (pred: (e: (typeof eps)[number]) => boolean): string[] => sorted(eps.filter(pred).map((e) => `${e.ip}:${e.port}`));
  const cluster = addr((e) => e.cluster);
  expect(cluster, 'cluster set').toEqual(sorted(c.cluster ?? c.sluiceCluster!));
  const external = c.etp === 'Local' && c.nodePort !== undefined;
  if (c.local !== null) {
    if (c.itp === 'Local') expect(addr((e) => e.internal), 'internal (local) set').toEqual(sorted(c.local));
    if (external) expect(addr((e) => e.external), 'external (local) set').toEqual(sorted(c.local));
  }
  if (c.itp !== 'Local') expect(addr((e) => e.internal), 'internal = cluster set').toEqual(cluster);
  if (!external) expect(addr((e) => e.external), 'external = cluster set').toEqual(cluster);
  // allReachableEndpoints, as kube-proxy's test derives it; plus Sluice's cluster set where kube-proxy has none
  const all = c.cluster !== null && c.local === null ? c.cluster : c.local !== null && c.cluster === null ? c.local : c.all!;
  expect(sorted(eps.map((e) => `${e.ip}:${e.port}`)), 'all reachable').toEqual(sorted(new Set([...all, ...(c.sluiceCluster ?? [])])));
  // hasAnyEndpoints: reject (nothing anywhere) versus drop (nothing in this policy's set)
  expect(cluster.length > 0, 'has any endpoints').toBe(all.length > 0 || c.onlyRemote === true);
}

describe('TestCategorizeEndpoints (kube-proxy pkg/proxy/topology_test.go)', () => {
  for (const c of cases) it(c.name, () => check(c));
});

describe('topologyModeFromHints and the fallbacks (kube-proxy pkg/proxy/topology.go)', () => {
  for (const c of sameNodeCases) it(c.name, () => check(c));
});
