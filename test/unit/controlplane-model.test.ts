import { describe, expect, it } from 'vitest';
import { buildNodeServices, type KubeEndpointSlice, type KubeService, type ModelError } from '../../controlplane/model.ts';
import type { Service } from '../../proto/contract.ts';

// Compact builders ---------------------------------------------------------------------------
function svc(name: string, spec: KubeService['spec'], extra: Partial<KubeService> = {}): KubeService {
  return { kind: 'Service', metadata: { name, namespace: 'default' }, spec, ...extra };
}
type Ep = { ip: string; node?: string; ready?: boolean; serving?: boolean; terminating?: boolean; pod?: string };
function slice(name: string, service: string, ports: { name?: string; port: number; protocol?: string }[], eps: Ep[], addressType = 'IPv4'): KubeEndpointSlice {
  return {
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType,
    ports,
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node,
      conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
      targetRef: e.pod ? { kind: 'Pod', namespace: 'default', name: e.pod } : undefined,
    })),
  };
}
/** Shorthand view of a model: key -> "port/proto" -> ["ip:port", ...]. */
function view(list: Service[]): Record<string, Record<string, string[]>> {
  return Object.fromEntries(list.map((s) => [`${s.namespace}/${s.name}`, Object.fromEntries(s.ports.map((p) => [`${p.port}/${p.protocol}`, p.endpoints.map((e) => `${e.ip}:${e.port}`)]))]));
}
function errs(list: ModelError[]): string[] {
  return list.map((e) => `${e.kind} ${e.object} ${e.field}`);
}

interface Case {
  name: string;
  services: KubeService[];
  slices: KubeEndpointSlice[];
  node?: string;
  expect: Record<string, Record<string, string[]>>;
  errors?: string[];
  check?: (s: Service[], e: ModelError[]) => void;
}

const cases: Case[] = [
  {
    name: 'named targetPort resolved per endpoint through slice port names (different numbers per slice)',
    services: [svc('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'metrics', port: 9100, targetPort: 'metrics' }] })],
    slices: [
      slice('web-a', 'web', [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9100 }], [{ ip: '10.244.1.2' }, { ip: '10.244.1.3' }]),
      // this group of pods names its http port differently and has no metrics port
      slice('web-b', 'web', [{ name: 'http', port: 9090 }], [{ ip: '10.244.2.2' }]),
    ],
    expect: { 'default/web': { '80/TCP': ['10.244.1.2:8080', '10.244.1.3:8080', '10.244.2.2:9090'], '9100/TCP': ['10.244.1.2:9100', '10.244.1.3:9100'] } },
  },
  {
    name: 'terminating-only endpoints: serving+terminating ones are used when none is ready',
    services: [svc('db', { clusterIP: '10.96.0.11', ports: [{ port: 5432 }] })],
    slices: [slice('db-1', 'db', [{ port: 5432 }], [
      { ip: '10.244.1.5', ready: false, serving: true, terminating: true },
      { ip: '10.244.1.6', ready: false, serving: false, terminating: true }, // not serving: never used
      { ip: '10.244.1.7', ready: false }, // not ready, not terminating (serving unset = ready = false)
    ])],
    expect: { 'default/db': { '5432/TCP': ['10.244.1.5:5432'] } },
  },
  {
    name: 'ready endpoints win over serving+terminating ones; unset conditions mean ready',
    services: [svc('db', { clusterIP: '10.96.0.11', ports: [{ port: 5432 }] })],
    slices: [slice('db-1', 'db', [{ port: 5432 }], [
      { ip: '10.244.1.5', ready: false, serving: true, terminating: true },
      { ip: '10.244.1.8' }, // conditions unset: ready
    ])],
    expect: { 'default/db': { '5432/TCP': ['10.244.1.8:5432'] } },
  },
  {
    name: 'duplicate endpoints across slices are merged (ready copy kept)',
    services: [svc('api', { clusterIP: '10.96.0.12', ports: [{ name: 'grpc', port: 443, targetPort: 8443 }] })],
    slices: [
      slice('api-old', 'api', [{ name: 'grpc', port: 8443 }], [{ ip: '10.244.3.1', ready: false }, { ip: '10.244.3.2' }]),
      slice('api-new', 'api', [{ name: 'grpc', port: 8443 }], [{ ip: '10.244.3.1' }, { ip: '10.244.3.3' }]),
    ],
    expect: { 'default/api': { '443/TCP': ['10.244.3.1:8443', '10.244.3.2:8443', '10.244.3.3:8443'] } },
  },
  {
    name: 'a port removed from the Service disappears even though the slice still lists it',
    services: [svc('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 8080 }] })],
    slices: [slice('web-a', 'web', [{ name: 'http', port: 8080 }, { name: 'https', port: 8443 }], [{ ip: '10.244.1.2' }])],
    expect: { 'default/web': { '80/TCP': ['10.244.1.2:8080'] } },
  },
  {
    name: 'malformed cluster IP: error names object and field; other services unaffected',
    services: [
      svc('bad', { clusterIP: '10.96.0.300', ports: [{ port: 80 }] }),
      svc('good', { clusterIP: '10.96.0.13', ports: [{ port: 80 }] }),
    ],
    slices: [slice('good-1', 'good', [{ port: 80 }], [{ ip: '10.244.1.9' }]), slice('bad-1', 'bad', [{ port: 80 }], [{ ip: '10.244.1.10' }])],
    expect: { 'default/good': { '80/TCP': ['10.244.1.9:80'] } },
    errors: ['Service default/bad spec.clusterIP'],
  },
  {
    name: 'malformed endpoint IP: that endpoint is dropped and reported, the rest stays',
    services: [svc('good', { clusterIP: '10.96.0.13', ports: [{ port: 80 }] })],
    slices: [slice('good-1', 'good', [{ port: 80 }], [{ ip: '10.244.1.9' }, { ip: '10.244.1' }])],
    expect: { 'default/good': { '80/TCP': ['10.244.1.9:80'] } },
    errors: ['EndpointSlice default/good-1 endpoints[1].addresses[0]'],
  },
  {
    name: 'bad port number: whole service left out with an error on the field',
    services: [svc('bad', { clusterIP: '10.96.0.14', ports: [{ port: 70000 }] }), svc('ok', { clusterIP: '10.96.0.15', ports: [{ port: 53, protocol: 'UDP' }] })],
    slices: [],
    expect: { 'default/ok': { '53/UDP': [] } },
    errors: ['Service default/bad spec.ports[0].port'],
  },
  {
    name: 'headless and ExternalName services are ignored without errors',
    services: [
      svc('headless', { clusterIP: 'None', ports: [{ port: 80 }], selector: { app: 'x' } }),
      svc('ext', { type: 'ExternalName', externalName: 'example.com' }),
    ],
    slices: [slice('headless-1', 'headless', [{ port: 80 }], [{ ip: '10.244.1.2' }])],
    expect: {},
    errors: [],
  },
  {
    name: 'SCTP ports are refused with an error naming the field; the TCP port is kept',
    services: [svc('mixed', { clusterIP: '10.96.0.16', ports: [{ name: 'sig', port: 3868, protocol: 'SCTP' }, { name: 'web', port: 80 }] })],
    slices: [slice('mixed-1', 'mixed', [{ name: 'web', port: 80 }], [{ ip: '10.244.1.2' }])],
    expect: { 'default/mixed': { '80/TCP': ['10.244.1.2:80'] } },
    errors: ['Service default/mixed spec.ports[0].protocol'],
    check: (_s, e) => expect(e[0]!.message).toMatch(/SCTP/),
  },
  {
    name: 'dual-stack: IPv4 slices feed the IPv4 family, IPv6 slices the IPv6 family; each endpoint says its family',
    services: [svc('dual', { clusterIP: '10.96.0.17', clusterIPs: ['10.96.0.17', 'fd00::17'], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack', ports: [{ port: 80 }] })],
    slices: [
      slice('dual-v4', 'dual', [{ port: 80 }], [{ ip: '10.244.1.2' }]),
      slice('dual-v6', 'dual', [{ port: 80 }], [{ ip: 'FD00:244:0:0::2' }], 'IPv6'),
    ],
    // IPv4 first, IPv6 addresses in canonical text
    expect: { 'default/dual': { '80/TCP': ['10.244.1.2:80', 'fd00:244::2:80'] } },
    errors: [],
    check: (s) => {
      expect([s[0]!.clusterIps, s[0]!.ipFamilies, s[0]!.ipFamilyPolicy]).toEqual([['10.96.0.17', 'fd00::17'], [4, 6], 'PreferDualStack']);
      expect(s[0]!.ports[0]!.endpoints.map((e) => e.family)).toEqual([4, 6]);
    },
  },
  {
    name: 'IPv6-only service: served over IPv6 with its IPv6 slices; IPv4 slices of it are not used',
    services: [svc('v6', { clusterIP: 'fd00::18', clusterIPs: ['fd00::18'], ipFamilies: ['IPv6'], ports: [{ port: 80 }] })],
    slices: [
      slice('v6-a', 'v6', [{ port: 80 }], [{ ip: 'fd00:244::3' }, { ip: 'fd00:244::2' }], 'IPv6'),
      slice('v6-b', 'v6', [{ port: 80 }], [{ ip: '10.244.1.9' }]),
    ],
    expect: { 'default/v6': { '80/TCP': ['fd00:244::2:80', 'fd00:244::3:80'] } },
    errors: [],
    check: (s) => expect(s[0]!.ipFamilies).toEqual([6]),
  },
  {
    name: 'an address of the other family in a slice is refused alone; FQDN slices are not used; an unknown addressType is reported',
    services: [svc('dual', { clusterIPs: ['10.96.0.19', 'fd00::19'], ports: [{ port: 80 }] })],
    slices: [
      slice('dual-v4', 'dual', [{ port: 80 }], [{ ip: 'fd00:244::5' }, { ip: '10.244.1.5' }]),
      slice('dual-v6', 'dual', [{ port: 80 }], [{ ip: '10.244.1.6' }, { ip: 'fd00:244::6' }], 'IPv6'),
      slice('dual-fqdn', 'dual', [{ port: 80 }], [{ ip: 'web.example.com' }], 'FQDN'),
      slice('dual-x', 'dual', [{ port: 80 }], [{ ip: '10.244.1.7' }], 'IPv7'),
    ],
    expect: { 'default/dual': { '80/TCP': ['10.244.1.5:80', 'fd00:244::6:80'] } },
    errors: ['EndpointSlice default/dual-v4 endpoints[0].addresses[0]', 'EndpointSlice default/dual-v6 endpoints[0].addresses[0]', 'EndpointSlice default/dual-x addressType'],
    check: (_s, e) => expect(e.map((x) => x.message).slice(0, 2)).toEqual([
      'IPv6 address fd00:244::5 in an IPv4 slice; endpoint ignored', 'IPv4 address 10.244.1.6 in an IPv6 slice; endpoint ignored']),
  },
  {
    name: 'IPv4-mapped and scoped IPv6 addresses are refused (they have no single canonical form)',
    services: [svc('m', { clusterIPs: ['10.96.0.20', 'fd00::20'], ports: [{ port: 80 }] }), svc('bad', { clusterIPs: ['::ffff:10.96.0.21'], ports: [{ port: 80 }] })],
    slices: [slice('m-6', 'm', [{ port: 80 }], [{ ip: '::ffff:10.244.1.2' }, { ip: 'fe80::1%eth0' }, { ip: 'fd00:244::7' }], 'IPv6')],
    expect: { 'default/m': { '80/TCP': ['fd00:244::7:80'] } },
    errors: ['EndpointSlice default/m-6 endpoints[0].addresses[0]', 'EndpointSlice default/m-6 endpoints[1].addresses[0]', 'Service default/bad spec.clusterIPs[0]'],
    check: (_s, e) => expect(e.map((x) => x.message).join('\n')).toMatch(/IPv4-mapped[\s\S]*scoped[\s\S]*IPv4-mapped/),
  },
  {
    name: 'cluster IPs as the API server guarantees them: one per family, ipFamilies in the same order, SingleStack holds one (else the service is dropped)',
    services: [
      svc('two-v4', { clusterIPs: ['10.96.0.22', '10.96.0.23'], ports: [{ port: 80 }] }),
      svc('order', { clusterIPs: ['10.96.0.24', 'fd00::24'], ipFamilies: ['IPv6', 'IPv4'], ports: [{ port: 80 }] }),
      svc('single', { clusterIPs: ['10.96.0.25', 'fd00::25'], ipFamilyPolicy: 'SingleStack', ports: [{ port: 80 }] }),
      svc('policy', { clusterIPs: ['10.96.0.26'], ipFamilyPolicy: 'DualStackPlease', ports: [{ port: 80 }] }),
      svc('fam', { clusterIPs: ['10.96.0.27'], ipFamilies: ['IPv5'], ports: [{ port: 80 }] }),
      svc('first', { clusterIP: '10.96.0.28', clusterIPs: ['fd00::28', '10.96.0.28'], ports: [{ port: 80 }] }),
      // the primary family's IP only (a RequireDualStack service's second IP not allocated yet): served as it is
      svc('ok', { clusterIP: 'fd00:0::29', clusterIPs: ['fd00::29'], ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack', ports: [{ port: 80 }] }),
    ],
    slices: [],
    expect: { 'default/ok': { '80/TCP': [] } },
    errors: ['Service default/two-v4 spec.clusterIPs', 'Service default/order spec.ipFamilies[0]', 'Service default/order spec.ipFamilies[1]',
      'Service default/single spec.ipFamilyPolicy', 'Service default/policy spec.ipFamilyPolicy', 'Service default/fam spec.ipFamilies[0]', 'Service default/first spec.clusterIP'],
    check: (s) => expect([s[0]!.clusterIps, s[0]!.ipFamilies]).toEqual([['fd00::29'], [6]]),
  },
  {
    name: 'endpoint sets per family: a ready IPv4 endpoint does not hide the IPv6 family\'s serving-terminating fallback, nor its local endpoints',
    node: 'node-a',
    services: [svc('dual', { clusterIPs: ['10.96.0.30', 'fd00::30'], internalTrafficPolicy: 'Local', ports: [{ port: 80 }] })],
    slices: [
      slice('dual-v4', 'dual', [{ port: 80 }], [{ ip: '10.244.1.2', node: 'node-a' }]),
      slice('dual-v6', 'dual', [{ port: 80 }], [
        { ip: 'fd00:244::2', node: 'node-a', ready: false, serving: true, terminating: true },
        { ip: 'fd00:244::3', node: 'node-b' },
      ], 'IPv6'),
    ],
    expect: { 'default/dual': { '80/TCP': ['10.244.1.2:80', 'fd00:244::2:80', 'fd00:244::3:80'] } },
    check: (s) => expect(s[0]!.ports[0]!.endpoints.map((e) => [e.ip, e.internal, e.cluster])).toEqual([
      ['10.244.1.2', true, true],
      // IPv6: no local ready endpoint, so the local serving-terminating one serves internal traffic;
      // the cluster-wide IPv6 set is the ready one on node-b
      ['fd00:244::2', true, false], ['fd00:244::3', false, true],
    ]),
  },
  {
    name: 'internalTrafficPolicy Local keeps only this node\'s endpoints (with terminating fallback per node)',
    node: 'node-a',
    services: [
      svc('local', { clusterIP: '10.96.0.19', internalTrafficPolicy: 'Local', ports: [{ port: 80 }] }),
      svc('cluster', { clusterIP: '10.96.0.20', ports: [{ port: 80 }] }),
    ],
    slices: [
      slice('local-1', 'local', [{ port: 80 }], [
        { ip: '10.244.1.2', node: 'node-a', ready: false, serving: true, terminating: true },
        { ip: '10.244.2.2', node: 'node-b' },
      ]),
      slice('cluster-1', 'cluster', [{ port: 80 }], [{ ip: '10.244.1.3', node: 'node-a' }, { ip: '10.244.2.3', node: 'node-b' }]),
    ],
    // The message carries the union of kube-proxy's sets: the cluster-wide set (the ready endpoint on
    // node-b) rides along flagged cluster only, so the agent can tell "no local endpoint" (drop) from
    // "no endpoint anywhere" (reject); internal traffic uses only the internal-flagged one.
    expect: { 'default/cluster': { '80/TCP': ['10.244.1.3:80', '10.244.2.3:80'] }, 'default/local': { '80/TCP': ['10.244.1.2:80', '10.244.2.2:80'] } },
    check: (s) => {
      const local = s.find((x) => x.name === 'local')!;
      expect(local.internalTrafficLocal).toBe(true);
      expect(local.ports[0]!.endpoints.map((e) => [e.ip, e.internal, e.external, e.cluster])).toEqual([['10.244.1.2', true, false, false], ['10.244.2.2', false, true, true]]);
    },
  },
  {
    name: 'sessionAffinity ClientIP: default timeout 10800, explicit timeout kept',
    services: [
      svc('sticky', { clusterIP: '10.96.0.21', sessionAffinity: 'ClientIP', ports: [{ port: 80 }] }),
      svc('sticky2', { clusterIP: '10.96.0.22', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } }, ports: [{ port: 80 }] }),
      svc('plain', { clusterIP: '10.96.0.23', ports: [{ port: 80 }] }),
    ],
    slices: [],
    expect: { 'default/plain': { '80/TCP': [] }, 'default/sticky': { '80/TCP': [] }, 'default/sticky2': { '80/TCP': [] } },
    check: (s) => {
      const by = Object.fromEntries(s.map((x) => [x.name, x]));
      expect([by.sticky!.affinityClientIp, by.sticky!.affinityTimeoutSeconds]).toEqual([true, 10800]);
      expect([by.sticky2!.affinityClientIp, by.sticky2!.affinityTimeoutSeconds]).toEqual([true, 60]);
      expect([by.plain!.affinityClientIp, by.plain!.affinityTimeoutSeconds]).toEqual([false, 0]);
    },
  },
  {
    name: 'NodePort/LoadBalancer/externalIPs/externalTrafficPolicy are carried',
    services: [svc('lb', {
      type: 'LoadBalancer', clusterIP: '10.96.0.24', externalIPs: ['192.0.2.10'], externalTrafficPolicy: 'Local',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }, { status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }, { hostname: 'lb.example.com' }] } } })],
    slices: [slice('lb-1', 'lb', [{ name: 'http', port: 8080 }], [{ ip: '10.244.1.2', node: 'node-b' }])],
    expect: { 'default/lb': { '80/TCP': ['10.244.1.2:8080'] } },
    check: (s) => {
      const x = s[0]!;
      expect([x.type, x.ports[0]!.nodePort, x.externalIps, x.loadBalancerIps, x.externalTrafficLocal]).toEqual(['LoadBalancer', 30080, ['192.0.2.10'], ['198.51.100.7'], true]);
      expect(x.ports[0]!.endpoints[0]).toMatchObject({ nodeName: 'node-b', ready: true, serving: true, terminating: false });
    },
  },
  // kube-proxy parity (pkg/proxy/endpointslicecache.go, servicechangetracker.go, serviceport.go,
  // cmd/kube-proxy/app/server.go informer filters)
  {
    name: 'endpointslicecache: serving unset counts as serving (a terminating endpoint with only terminating set is a fallback)',
    services: [svc('db', { clusterIP: '10.96.0.40', ports: [{ port: 5432 }] })],
    slices: [slice('db-1', 'db', [{ port: 5432 }], [
      { ip: '10.244.1.5', ready: false, terminating: true }, // serving unset: serving
      { ip: '10.244.1.6', ready: false, serving: false, terminating: true },
    ])],
    expect: { 'default/db': { '5432/TCP': ['10.244.1.5:5432'] } },
    check: (s) => expect(s[0]!.ports[0]!.endpoints[0]).toMatchObject({ ready: false, serving: true, terminating: true }),
  },
  {
    name: 'informer filters: service-proxy-name (any value) and headless labels are not proxied, on Services and on EndpointSlices',
    services: [
      svc('other', { clusterIP: '10.96.0.41', ports: [{ port: 80 }] }),
      svc('empty-value', { clusterIP: '10.96.0.42', ports: [{ port: 80 }] }),
      svc('headless-label', { clusterIP: '10.96.0.43', ports: [{ port: 80 }] }),
      svc('mine', { clusterIP: '10.96.0.44', ports: [{ port: 80 }] }),
    ].map((x, i) => (i === 3 ? x : { ...x, metadata: { ...x.metadata, labels: i === 2 ? { 'service.kubernetes.io/headless': '' } : { 'service.kubernetes.io/service-proxy-name': i === 0 ? 'other-proxy' : '' } } })),
    slices: [
      slice('mine-1', 'mine', [{ port: 80 }], [{ ip: '10.244.1.2' }]),
      { ...slice('mine-2', 'mine', [{ port: 80 }], [{ ip: '10.244.1.3' }]), metadata: { name: 'mine-2', namespace: 'default', labels: { 'kubernetes.io/service-name': 'mine', 'service.kubernetes.io/headless': '' } } },
      slice('other-1', 'other', [{ port: 80 }], [{ ip: '10.244.1.4' }]),
    ],
    expect: { 'default/mine': { '80/TCP': ['10.244.1.2:80'] } },
    errors: [],
  },
  {
    name: 'serviceport: LoadBalancer ingress with ipMode Proxy is not an LB IP; VIP and unset are',
    services: [svc('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.45', ports: [{ port: 80, nodePort: 30045 }] },
      { status: { loadBalancer: { ingress: [{ ip: '198.51.100.1', ipMode: 'Proxy' }, { ip: '198.51.100.2', ipMode: 'VIP' }, { ip: '198.51.100.3' }] } } })],
    slices: [],
    expect: { 'default/lb': { '80/TCP': [] } },
    check: (s) => expect(s[0]!.loadBalancerIps).toEqual(['198.51.100.2', '198.51.100.3']),
  },
  {
    name: 'serviceport: loadBalancerSourceRanges carried as canonical CIDRs of the families served; only for LoadBalancer',
    services: [
      svc('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.46', ports: [{ port: 80, nodePort: 30046 }], loadBalancerSourceRanges: [' 192.0.2.0/24', '10.1.2.3/8', '203.0.113.7/32', 'fd00::/8', '192.0.2.0/24'] }),
      svc('np', { type: 'NodePort', clusterIP: '10.96.0.47', ports: [{ port: 80, nodePort: 30047 }], loadBalancerSourceRanges: ['192.0.2.0/24'] }),
      svc('lb6', { type: 'LoadBalancer', clusterIPs: ['10.96.0.50', 'fd00::50'], ports: [{ port: 80, nodePort: 30050 }], loadBalancerSourceRanges: ['2001:DB8:0:0:1::1/64', '198.51.100.0/24'] }),
    ],
    slices: [],
    expect: { 'default/lb': { '80/TCP': [] }, 'default/lb6': { '80/TCP': [] }, 'default/np': { '80/TCP': [] } },
    // an IPv4-only service: the IPv6 range restricts nothing it serves, so it is left out (no error)
    errors: [],
    check: (s) => {
      expect(s[0]!.loadBalancerSourceRanges).toEqual(['192.0.2.0/24', '10.0.0.0/8', '203.0.113.7/32']);
      expect(s[1]!.loadBalancerSourceRanges).toEqual(['2001:db8::/64', '198.51.100.0/24']);
      expect(s[2]!.loadBalancerSourceRanges).toEqual([]);
    },
  },
  {
    name: 'loadBalancerSourceRanges: a malformed CIDR drops the service (ignoring it would open it to every client), naming object and field',
    services: [svc('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.48', ports: [{ port: 80, nodePort: 30048 }], loadBalancerSourceRanges: ['192.0.2.0/24', '192.0.2.0/33'] })],
    slices: [],
    expect: {},
    errors: ['Service default/lb spec.loadBalancerSourceRanges[1]'],
    check: (_s, e) => expect(e[0]!.message).toMatch(/malformed CIDR/),
  },
  {
    name: 'SCTP on an EndpointSlice port is refused with the reason (reaches the invalid-object report)',
    services: [svc('sig', { clusterIP: '10.96.0.49', ports: [{ name: 'web', port: 80 }] })],
    slices: [slice('sig-1', 'sig', [{ name: 'sctp', port: 3868, protocol: 'SCTP' }, { name: 'web', port: 80 }], [{ ip: '10.244.1.2' }])],
    expect: { 'default/sig': { '80/TCP': ['10.244.1.2:80'] } },
    errors: ['EndpointSlice default/sig-1 ports[0].protocol'],
    check: (_s, e) => expect(e[0]!.message).toMatch(/SCTP is not supported/),
  },
];

describe('service model', () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = buildNodeServices(c.services, c.slices, c.node ?? 'node-a');
      expect(view(r.services)).toEqual(c.expect);
      if (c.errors) expect(errs(r.errors).sort()).toEqual([...c.errors].sort());
      c.check?.(r.services, r.errors);
    });
  }

  it('an invalid object never changes the model of the others', () => {
    const good = [svc('a', { clusterIP: '10.96.0.30', ports: [{ port: 80 }] })];
    const goodSlices = [slice('a-1', 'a', [{ port: 80 }], [{ ip: '10.244.9.1' }])];
    const base = buildNodeServices(good, goodSlices, 'n');
    const withBad = buildNodeServices([...good, svc('b', { clusterIP: 'nonsense', ports: [{ port: 80 }] })],
      [...goodSlices, slice('b-1', 'b', [{ port: -1 }], [{ ip: 'x' }])], 'n');
    expect(withBad.services).toEqual(base.services);
    expect(errs(withBad.errors).sort()).toEqual(['EndpointSlice default/b-1 endpoints[0].addresses[0]', 'EndpointSlice default/b-1 ports[0].port', 'Service default/b spec.clusterIP']);
  });
});
