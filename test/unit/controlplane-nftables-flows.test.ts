// kube-proxy's nftables proxier packet-flow tests about which endpoints a flow may reach, and
// reject versus drop (pkg/proxy/nftables/proxier_test.go: TestTerminatingEndpointsTrafficPolicyLocal,
// TestTerminatingEndpointsTrafficPolicyCluster), read from the per-node message as the contract
// (proto/sluice/v1/state.proto) tells the agent to: traffic to the cluster IP uses the endpoints
// flagged `internal`, traffic from outside to an LB IP those flagged `external`; an empty set means
// REJECT when the port has no endpoint at all in the message, DROP otherwise. Masquerading is the
// datapath's (docs/datapath.md).
import { describe, expect, it } from 'vitest';
import { buildNodeServices, type KubeEndpointSlice, type KubeService } from '../../controlplane/model.ts';
import type { Service } from '../../proto/contract.ts';

const NODE = 'test-node';
type Cond = [ready: boolean, serving: boolean, terminating: boolean];
interface Ep { ip: string; c: Cond; node: string }
interface Case { name: string; eps: Ep[]; podToClusterIP: string; externalToLB?: string }

const R: Cond = [true, true, false];
const ST: Cond = [false, true, true];
const T: Cond = [false, false, true];

function lbService(etp: 'Local' | 'Cluster'): KubeService {
  return {
    metadata: { name: 'svc1', namespace: 'ns1' },
    spec: { type: 'LoadBalancer', clusterIP: '172.30.1.1', externalTrafficPolicy: etp, ports: [{ name: '', port: 80, targetPort: 80, protocol: 'TCP', nodePort: 30080 }] },
    status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
  };
}

function slice(eps: Ep[]): KubeEndpointSlice {
  return {
    metadata: { name: 'svc1-1', namespace: 'ns1', labels: { 'kubernetes.io/service-name': 'svc1' } },
    addressType: 'IPv4', ports: [{ name: '', port: 80, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({ addresses: [e.ip], conditions: { ready: e.c[0], serving: e.c[1], terminating: e.c[2] }, nodeName: e.node })),
  };
}

/** What the agent does with a flow of this kind, per the contract. */
function verdict(s: Service, kind: 'internal' | 'external'): string {
  const eps = s.ports[0]!.endpoints;
  const set = eps.filter((e) => e[kind]);
  if (set.length > 0) return set.map((e) => `${e.ip}:${e.port}`).join(', ');
  return eps.length === 0 ? 'REJECT' : 'DROP';
}

function run(etp: 'Local' | 'Cluster', c: Case): void {
  const r = buildNodeServices([lbService(etp)], [slice(c.eps)], NODE);
  expect(r.errors).toEqual([]);
  expect(verdict(r.services[0]!, 'internal'), 'pod to clusterIP').toBe(c.podToClusterIP);
  if (c.externalToLB) expect(verdict(r.services[0]!, 'external'), 'external to LB').toBe(c.externalToLB);
  // and after the slice is deleted
  const gone = buildNodeServices([lbService(etp)], [], NODE).services[0]!;
  expect([verdict(gone, 'internal'), verdict(gone, 'external')], 'after endpoints deleted').toEqual(['REJECT', 'REJECT']);
}

const local: Case[] = [
  {
    name: 'ready endpoints exist',
    eps: [{ ip: '10.0.1.1', c: R, node: NODE }, { ip: '10.0.1.2', c: R, node: NODE }, { ip: '10.0.1.3', c: ST, node: NODE }, { ip: '10.0.1.4', c: T, node: NODE }, { ip: '10.0.1.5', c: R, node: 'node-1' }],
    podToClusterIP: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80', externalToLB: '10.0.1.1:80, 10.0.1.2:80',
  },
  {
    name: 'only terminating endpoints exist',
    eps: [{ ip: '10.0.1.2', c: ST, node: NODE }, { ip: '10.0.1.3', c: ST, node: NODE }, { ip: '10.0.1.4', c: T, node: NODE }, { ip: '10.0.1.5', c: R, node: 'node-1' }],
    podToClusterIP: '10.0.1.5:80', externalToLB: '10.0.1.2:80, 10.0.1.3:80',
  },
  {
    name: 'terminating endpoints on remote node',
    eps: [{ ip: '10.0.1.5', c: ST, node: 'node-1' }],
    podToClusterIP: '10.0.1.5:80', externalToLB: 'DROP',
  },
  {
    name: 'no usable endpoints on any node',
    eps: [{ ip: '10.0.1.5', c: T, node: NODE }, { ip: '10.0.1.5', c: T, node: 'node-1' }],
    podToClusterIP: 'REJECT', externalToLB: 'REJECT',
  },
];

const cluster: Case[] = [
  {
    name: 'ready endpoints exist',
    eps: [{ ip: '10.0.1.1', c: R, node: NODE }, { ip: '10.0.1.2', c: R, node: NODE }, { ip: '10.0.1.3', c: ST, node: 'another-node' }, { ip: '10.0.1.4', c: T, node: 'another-node' }, { ip: '10.0.1.5', c: R, node: 'another-node' }],
    podToClusterIP: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80', externalToLB: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80',
  },
  {
    name: 'only terminating endpoints exist',
    eps: [{ ip: '10.0.1.2', c: ST, node: NODE }, { ip: '10.0.1.3', c: ST, node: NODE }, { ip: '10.0.1.4', c: T, node: 'another-node' }, { ip: '10.0.1.5', c: ST, node: 'another-node' }],
    podToClusterIP: '10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80', externalToLB: '10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80',
  },
  { name: 'terminating endpoints on remote node', eps: [{ ip: '10.0.1.5', c: ST, node: 'node-1' }], podToClusterIP: '10.0.1.5:80' },
];

describe('TestTerminatingEndpointsTrafficPolicyLocal (kube-proxy pkg/proxy/nftables/proxier_test.go)', () => {
  for (const c of local) it(c.name, () => run('Local', c));
});

describe('TestTerminatingEndpointsTrafficPolicyCluster (kube-proxy pkg/proxy/nftables/proxier_test.go)', () => {
  for (const c of cluster) it(c.name, () => run('Cluster', c));
});
