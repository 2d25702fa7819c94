// kube-proxy's TestServiceToServiceMap (pkg/proxy/servicechangetracker_test.go): which Services and
// ports are proxied and with which addresses, per IP family, checked on the model. kube-proxy's
// per-port map becomes the model's port list; spec.healthCheckNodePort is not modelled here.
import { describe, expect, it } from 'vitest';
import { familyOf } from '../../common/ip.ts';
import { buildService, type KubeService, type KubeServicePort, type ServiceModel } from '../../controlplane/model.ts';

const port = (name: string, protocol: string, p: number, nodePort: number, targetPort: number): KubeServicePort =>
  // the helper's targetPort 0 is "not given" (the API server defaults it to the port)
  ({ name, protocol, port: p, nodePort, ...(targetPort !== 0 ? { targetPort } : {}) });
const v4 = { cluster: '10.0.0.1', external: '8.8.8.8', range: '0.0.0.0/1' };
const v6 = {
  cluster: '2001:db8:85a3:0:0:8a2e:370:7334', external: '2001:db8:85a3:0:0:8a2e:370:7335', range: '2001:db8::/32',
  // the contract's canonical text (RFC 5952) of the same addresses
  canonical: '2001:db8:85a3::8a2e:370:7334', externalCanonical: '2001:db8:85a3::8a2e:370:7335',
};

interface Expected {
  ports: string[]; // "name port/PROTO nodePort"
  clusterIps?: string[];
  externalIps?: string[];
  loadBalancerIps?: string[];
  loadBalancerSourceRanges?: string[];
  externalTrafficLocal?: boolean;
  ipFamilies?: number[];
}
/** family: the IP family kube-proxy's case runs its proxier for (default IPv4); 'filtered': that proxier ignores the service. */
interface Case { desc: string; family?: 4 | 6; svc: KubeService; expected: Expected | 'ignored' | 'dropped' | 'filtered'; errors?: string[]; note?: string }

/** What kube-proxy's proxier of @family sees of @m: its cluster IP and that family's addresses; null when it has none. */
function familyView(m: ServiceModel, family: 4 | 6): ServiceModel | null {
  if (!m.ipFamilies.includes(family)) return null;
  const mine = (ip: string) => familyOf(ip) === family;
  return {
    ...m, clusterIps: m.clusterIps.filter(mine), externalIps: m.externalIps.filter(mine), loadBalancerIps: m.loadBalancerIps.filter(mine),
    loadBalancerSourceRanges: m.loadBalancerSourceRanges.filter((c) => mine(c.split('/')[0]!)),
  };
}

const lb = (ns: string, name: string, clusterIP: string, ports: KubeServicePort[], ingress: { ip: string; ipMode?: string }[], extra: Partial<NonNullable<KubeService['spec']>> = {}): KubeService => ({
  metadata: { namespace: ns, name },
  spec: { type: 'LoadBalancer', clusterIP, ports, ...extra },
  status: { loadBalancer: { ingress } },
});
const lbPorts = [port('port3', 'UDP', 8675, 30061, 7000), port('port4', 'UDP', 8676, 30062, 7001)];
const lbExpected = (vips: string[]): Expected => ({ ports: ['port3 8675/UDP 30061', 'port4 8676/UDP 30062'], loadBalancerIps: vips });

const cases: Case[] = [
  { desc: 'headless service', svc: { metadata: { namespace: 'ns2', name: 'headless' }, spec: { type: 'ClusterIP', clusterIP: 'None', ports: [port('rpc', 'UDP', 1234, 0, 0)] } }, expected: 'ignored' },
  { desc: 'headless sctp service', svc: { metadata: { namespace: 'ns2', name: 'headless' }, spec: { type: 'ClusterIP', clusterIP: 'None', ports: [port('sip', 'SCTP', 7777, 0, 0)] } }, expected: 'ignored' },
  { desc: 'headless service without port', svc: { metadata: { namespace: 'ns2', name: 'headless-without-port' }, spec: { type: 'ClusterIP', clusterIP: 'None' } }, expected: 'ignored' },
  {
    desc: 'cluster ip service',
    svc: { metadata: { namespace: 'ns2', name: 'cluster-ip' }, spec: { type: 'ClusterIP', clusterIP: '172.16.55.4', ports: [port('p1', 'UDP', 1234, 4321, 0), port('p2', 'UDP', 1235, 5321, 0)] } },
    // targetPort 0 = unset in kube-proxy's helper; a ClusterIP service has no node port
    expected: { ports: ['p1 1234/UDP 0', 'p2 1235/UDP 0'], clusterIps: ['172.16.55.4'] },
  },
  {
    desc: 'nodeport service',
    svc: { metadata: { namespace: 'ns2', name: 'node-port' }, spec: { type: 'NodePort', clusterIP: '172.16.55.10', ports: [port('port1', 'UDP', 345, 678, 0), port('port2', 'TCP', 344, 677, 0)] } },
    expected: { ports: ['port1 345/UDP 678', 'port2 344/TCP 677'], clusterIps: ['172.16.55.10'] },
  },
  { desc: 'load balancer service', svc: lb('ns1', 'load-balancer', '172.16.55.11', lbPorts, [{ ip: '10.1.2.4' }]), expected: lbExpected(['10.1.2.4']) },
  { desc: 'load balancer service ipMode VIP feature gate enabled', svc: lb('ns1', 'load-balancer', '172.16.55.11', lbPorts, [{ ip: '10.1.2.4', ipMode: 'VIP' }]), expected: lbExpected(['10.1.2.4']) },
  { desc: 'load balancer service ipMode Proxy feature gate enabled', svc: lb('ns1', 'load-balancer', '172.16.55.11', lbPorts, [{ ip: '10.1.2.4', ipMode: 'Proxy' }]), expected: lbExpected([]) },
  {
    desc: 'load balancer service with only local traffic policy',
    svc: lb('ns1', 'only-local-load-balancer', '172.16.55.12', [port('portx', 'UDP', 8677, 30063, 7002), port('porty', 'UDP', 8678, 30064, 7003)], [{ ip: '10.1.2.3' }], { externalTrafficPolicy: 'Local' }),
    expected: { ports: ['portx 8677/UDP 30063', 'porty 8678/UDP 30064'], loadBalancerIps: ['10.1.2.3'], externalTrafficLocal: true },
  },
  {
    desc: 'external name service',
    svc: { metadata: { namespace: 'ns2', name: 'external-name' }, spec: { type: 'ExternalName', clusterIP: '172.16.55.4', externalName: 'foo2.bar.com', ports: [port('portz', 'UDP', 1235, 5321, 0)] } },
    expected: 'ignored',
  },
  // kube-proxy runs one proxier per family, each seeing only its family's addresses; the model holds
  // both families at once. Each case below names the family kube-proxy's case runs under and checks
  // the model's view for that family (familyView): 'filtered' = that proxier ignores the service.
  {
    desc: 'service with ipv6 clusterIP under ipv4 mode, service should be filtered',
    family: 4,
    svc: { metadata: { namespace: 'test', name: 'invalidIPv6InIPV4Mode' }, spec: { clusterIP: v6.cluster, ports: [{ name: 'testPort', port: 12345, protocol: 'TCP' }] }, status: { loadBalancer: { ingress: [{ ip: v4.external }, { ip: v6.external }] } } },
    expected: 'filtered',
  },
  {
    desc: 'service with ipv4 clusterIP under ipv6 mode, service should be filtered',
    family: 6,
    svc: { metadata: { namespace: 'test', name: 'invalidIPv4InIPV6Mode' }, spec: { clusterIP: v4.cluster, ports: [{ name: 'testPort', port: 12345, protocol: 'TCP' }] }, status: { loadBalancer: { ingress: [{ ip: v4.external }, { ip: v6.external }] } } },
    expected: 'filtered',
  },
  {
    desc: 'service with ipv4 configurations under ipv4 mode',
    family: 4,
    note: 'a ClusterIP-type service: kube-proxy keeps status ingress and source ranges whatever the type; the API server only sets them on LoadBalancer services, and Sluice programs them only there',
    svc: { metadata: { namespace: 'test', name: 'validIPv4' }, spec: { clusterIP: v4.cluster, externalIPs: [v4.external], loadBalancerSourceRanges: [v4.range], ports: [{ name: 'testPort', port: 12345, protocol: 'TCP' }] }, status: { loadBalancer: { ingress: [{ ip: v4.external }, { ip: v6.external }] } } },
    expected: { ports: ['testPort 12345/TCP 0'], clusterIps: [v4.cluster], externalIps: [v4.external], loadBalancerIps: [], loadBalancerSourceRanges: [] },
  },
  {
    desc: 'service with ipv6 configurations under ipv6 mode',
    family: 6,
    note: 'as the IPv4 case: ingress and ranges are a LoadBalancer\'s only',
    svc: { metadata: { namespace: 'test', name: 'validIPv6' }, spec: { clusterIP: v6.cluster, externalIPs: [v6.external], loadBalancerSourceRanges: [v6.range], ports: [{ name: 'testPort', port: 12345, protocol: 'TCP' }] }, status: { loadBalancer: { ingress: [{ ip: v4.external }, { ip: v6.external }] } } },
    expected: { ports: ['testPort 12345/TCP 0'], clusterIps: [v6.canonical], externalIps: [v6.externalCanonical], loadBalancerIps: [], loadBalancerSourceRanges: [] },
  },
  {
    desc: 'service with ipv6 configurations under ipv6 mode (as a LoadBalancer)',
    family: 6,
    svc: lb('test', 'validIPv6LB', v6.cluster, [{ name: 'testPort', port: 12345, protocol: 'TCP', nodePort: 30345 }], [{ ip: v4.external }, { ip: v6.external }],
      { externalIPs: [v6.external], loadBalancerSourceRanges: [v6.range] }),
    expected: { ports: ['testPort 12345/TCP 30345'], clusterIps: [v6.canonical], externalIps: [v6.externalCanonical], loadBalancerIps: [v6.externalCanonical], loadBalancerSourceRanges: [v6.range] },
  },
  {
    desc: 'service with both ipv4 and ipv6 configurations under ipv4 mode, ipv6 fields should be filtered',
    family: 4,
    note: 'as a LoadBalancer service (see the ClusterIP case): the IPv4 ingress IP and range are kept; the IPv6 parts are left out without an error (kube-proxy only logs them: with dual-stack they are expected)',
    svc: lb('test', 'filterIPv6InIPV4Mode', v4.cluster, [{ name: 'testPort', port: 12345, protocol: 'TCP', nodePort: 30345 }], [{ ip: v4.external }, { ip: v6.external }],
      { externalIPs: [v4.external, v6.external], loadBalancerSourceRanges: [v4.range, v6.range] }),
    expected: { ports: ['testPort 12345/TCP 30345'], clusterIps: [v4.cluster], externalIps: [v4.external], loadBalancerIps: [v4.external], loadBalancerSourceRanges: [v4.range] },
  },
  {
    desc: 'service with both ipv4 and ipv6 configurations under ipv6 mode, ipv4 fields should be filtered',
    family: 6,
    svc: lb('test', 'filterIPv4InIPV6Mode', v6.cluster, [{ name: 'testPort', port: 12345, protocol: 'TCP', nodePort: 30345 }], [{ ip: v4.external }, { ip: v6.external }],
      { externalIPs: [v4.external, v6.external], loadBalancerSourceRanges: [v4.range, v6.range] }),
    expected: { ports: ['testPort 12345/TCP 30345'], clusterIps: [v6.canonical], externalIps: [v6.externalCanonical], loadBalancerIps: [v6.externalCanonical], loadBalancerSourceRanges: [v6.range] },
  },
  {
    desc: 'service with extra space in LoadBalancerSourceRanges',
    family: 4,
    svc: lb('test', 'extra-space', v4.cluster, [{ name: 'testPort', port: 12345, protocol: 'TCP', nodePort: 30346 }], [], { loadBalancerSourceRanges: [' 10.1.2.0/28'] }),
    expected: { ports: ['testPort 12345/TCP 30346'], clusterIps: [v4.cluster], loadBalancerSourceRanges: ['10.1.2.0/28'] },
  },
  // Dual-stack: one Service, both proxiers program it, each with its own family's parts.
  ...([4, 6] as const).map((family): Case => ({
    desc: `dual-stack LoadBalancer (clusterIPs of both families) under ipv${family} mode: that family's cluster IP, external IP, ingress IP and range`,
    family,
    svc: lb('test', 'dual', v4.cluster, [{ name: 'testPort', port: 12345, protocol: 'TCP', nodePort: 30347 }], [{ ip: v4.external }, { ip: v6.external }],
      { clusterIPs: [v4.cluster, v6.cluster], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack', externalIPs: [v6.external, v4.external], loadBalancerSourceRanges: [v6.range, v4.range] }),
    expected: family === 4
      ? { ports: ['testPort 12345/TCP 30347'], clusterIps: [v4.cluster], externalIps: [v4.external], loadBalancerIps: [v4.external], loadBalancerSourceRanges: [v4.range] }
      : { ports: ['testPort 12345/TCP 30347'], clusterIps: [v6.canonical], externalIps: [v6.externalCanonical], loadBalancerIps: [v6.externalCanonical], loadBalancerSourceRanges: [v6.range] },
  })),
  {
    desc: 'dual-stack with IPv6 primary: families in clusterIPs order',
    family: 6,
    svc: { metadata: { namespace: 'test', name: 'v6primary' }, spec: { clusterIP: v6.cluster, clusterIPs: [v6.cluster, v4.cluster], ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack', ports: [{ name: 'p', port: 53, protocol: 'UDP' }] } },
    expected: { ports: ['p 53/UDP 0'], clusterIps: [v6.canonical], ipFamilies: [6, 4] },
  },
];

describe('TestServiceToServiceMap (kube-proxy pkg/proxy/servicechangetracker_test.go)', () => {
  for (const c of cases) {
    it(c.desc, () => {
      const r = buildService(c.svc, []);
      expect(r.errors.map((e) => e.field).sort()).toEqual([...(c.errors ?? [])].sort());
      if (c.expected === 'ignored' || c.expected === 'dropped') {
        expect(r.model).toBeNull();
        expect(r.ignored).toBe(c.expected === 'ignored');
        return;
      }
      const m = familyView(r.model!, c.family ?? 4);
      if (c.expected === 'filtered') { expect(m).toBeNull(); return; }
      if (!m) throw new Error(`no IPv${c.family ?? 4} view`);
      expect(m.ports.map((p) => `${p.name} ${p.port}/${p.protocol} ${p.nodePort}`)).toEqual(c.expected.ports);
      const { ports: _p, ...fields } = c.expected;
      const got: Record<string, unknown> = m as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(fields)) expect(got[k], k).toEqual(v);
      if (c.expected.externalTrafficLocal === undefined) expect(m.externalTrafficLocal).toBe(false);
    });
  }
});
