// The agent's side of the contract: services (already validated and defaulted by the control plane's
// model) become frontends; only what the datapath cannot hold is refused, naming service and field.
import { describe, expect, it } from 'vitest';
import { buildNodeServices } from '../../controlplane/model.ts';
import { frontendsOf, planService, refusedPorts } from '../../agent/services.ts';
import { endpointFamily, pb, servedFamilies, toService, type ServiceJson } from '../../proto/contract.ts';

type EndpointJson = NonNullable<NonNullable<ServiceJson['ports']>[number]['endpoints']>[number];

const svc = (extra: ServiceJson = {}) => toService({
  namespace: 'default', name: 'web', type: 'NodePort', clusterIps: ['10.96.0.10'],
  ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080, endpoints: [{ ip: '10.244.1.2', port: 8080, nodeName: 'n1' }] }],
  ...extra,
});

describe('frontendsOf', () => {
  it('takes the model\'s output as it is, the affinity default included', () => {
    const { services } = buildNodeServices([{
      metadata: { name: 'sticky', namespace: 'default' },
      spec: { clusterIP: '10.96.0.30', sessionAffinity: 'ClientIP', ports: [{ port: 80, targetPort: 8080 }] },
    }], [], 'n1');
    const [fe] = frontendsOf(services[0]!);
    expect(fe).toMatchObject({ vip: '10.96.0.30', port: 80, proto: 'TCP', affinityTimeout: 10800, name: 'default/sticky:80' });
  });

  it('makes cluster and NodePort frontends, marking this node\'s backends', () => {
    const fes = frontendsOf(svc(), { node: 'n1', nodeIps: ['192.168.1.5'] });
    expect(fes.map((f) => `${f.vip}:${f.port}/${f.proto} scope=${f.scope ?? 0}`)).toEqual(['10.96.0.10:80/TCP scope=0', '192.168.1.5:30080/TCP scope=1']);
    expect(fes[1]!.backends).toEqual([{ ip: '10.244.1.2', port: 8080, terminating: false, local: true }]);
  });

  it('refuses what the datapath cannot hold, naming the service and the field', () => {
    expect(() => frontendsOf(svc({ clusterIps: ['10.96.0.010'] }))).toThrow('service default/web: clusterIps[0]: "10.96.0.010" is not an IP address in canonical form');
    // not the contract's canonical text: the same address could be spelled two ways
    expect(() => frontendsOf(svc({ clusterIps: ['10.96.0.10', 'FD00::10'] }))).toThrow('service default/web: clusterIps[1]: "FD00::10" is not an IP address in canonical form');
    const mixed = svc({ clusterIps: ['10.96.0.10', 'fd00::10'] });
    mixed.ports[0]!.endpoints[0]!.family = 4;
    mixed.ports[0]!.endpoints[0]!.ip = 'fd00::2';
    expect(() => frontendsOf(mixed)).toThrow('service default/web: ports[0].endpoints[0].family: IPv4 for address fd00::2');
    const bad = svc();
    bad.ports[0]!.protocol = 'QUIC';
    expect(() => frontendsOf(bad)).toThrow('service default/web: ports[0].protocol: QUIC is not supported');
    expect(() => frontendsOf(svc({ type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/33'] }))).toThrow('loadBalancerSourceRanges[0]: "10.0.0.0/33" is not a CIDR');
    const big = svc();
    big.ports[0]!.nodePort = 70000;
    expect(() => frontendsOf(big)).toThrow('service default/web: ports[0].nodePort: 70000 does not fit a 16-bit port');
    expect(() => frontendsOf(svc({ affinityClientIp: true }))).toThrow('service default/web: affinityTimeoutSeconds: 0 with affinityClientIp');
  });
});

// kube-proxy's rules (pkg/proxy/topology.go CategorizeEndpoints; nftables proxier's reject/drop):
// each frontend takes the endpoint set its traffic uses, and says what a new flow meets without one.
describe('frontendsOf: endpoint sets, reject or drop, source ranges, SCTP', () => {
  const ctx = { node: 'n1', nodeIps: ['192.168.1.5'] };
  const local = { ip: '10.244.1.2', port: 8080, nodeName: 'n1' };
  const remote = { ip: '10.244.2.2', port: 8080, nodeName: 'n2' };
  const lb = (endpoints: EndpointJson[], extra: ServiceJson = {}) =>
    frontendsOf(svc({
      type: 'LoadBalancer', loadBalancerIps: ['192.0.2.20'], externalIps: ['192.0.2.10'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080, endpoints }], ...extra,
    }), ctx);
  const byKind = (fes: ReturnType<typeof frontendsOf>) => Object.fromEntries(fes.map((f) => [`${f.vip}${f.scope ? ' ext' : ''}`, f]));
  const ips = (bs: Array<{ ip: string }> | undefined) => bs?.map((b) => b.ip);

  it('ClusterIP takes the internal set, external addresses the external set, eTP Local short-circuits pods to the cluster set', () => {
    const fes = byKind(lb([
      { ...local, internal: false, external: true, cluster: true },
      { ...remote, internal: true, external: false, cluster: true },
    ], { externalTrafficLocal: true }));
    expect(ips(fes['10.96.0.10']!.backends)).toEqual([remote.ip]);
    for (const k of ['192.168.1.5 ext', '192.0.2.20 ext', '192.0.2.10 ext']) {
      expect(ips(fes[k]!.backends), k).toEqual([local.ip]);
      expect(ips(fes[k]!.shortCircuit), k).toEqual([local.ip, remote.ip]);
      expect(fes[k]!.localOnly, k).toBe(true);
    }
  });

  it('eTP Cluster has no short circuit; endpoints naming no set are in all three', () => {
    const fes = byKind(lb([local, remote]));
    expect(ips(fes['10.96.0.10']!.backends)).toEqual([local.ip, remote.ip]);
    expect(ips(fes['192.0.2.20 ext']!.backends)).toEqual([local.ip, remote.ip]);
    expect(fes['192.0.2.20 ext']!.shortCircuit).toBeUndefined();
  });

  it('without north-south (podsUnmasqueraded), eTP Cluster external addresses short-circuit pods too, to the cluster set', () => {
    const fes = byKind(frontendsOf(svc({
      type: 'LoadBalancer', loadBalancerIps: ['192.0.2.20'], externalIps: ['192.0.2.10'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080, endpoints: [local, remote] }],
    }), { ...ctx, podsUnmasqueraded: true }));
    for (const k of ['192.168.1.5 ext', '192.0.2.20 ext', '192.0.2.10 ext']) {
      expect(ips(fes[k]!.shortCircuit), k).toEqual([local.ip, remote.ip]);
      expect(fes[k]!.localOnly, k).toBe(false);
    }
    expect(fes['10.96.0.10']!.shortCircuit).toBeUndefined();
  });

  it('no endpoint in any set rejects, on every address kind (eTP Local with none anywhere too)', () => {
    for (const fe of lb([], { externalTrafficLocal: true })) expect(fe.whenEmpty, frontendKeyOf(fe)).toBe('reject');
  });

  it('iTP Local with only remote endpoints drops; eTP Local without a local one drops', () => {
    const itp = byKind(lb([{ ...remote, internal: false, external: true, cluster: true }], { internalTrafficLocal: true }));
    expect(itp['10.96.0.10']).toMatchObject({ backends: [], whenEmpty: 'drop' });
    const etp = byKind(lb([{ ...remote, internal: true, external: false, cluster: true }], { externalTrafficLocal: true }));
    expect(etp['192.0.2.20 ext']).toMatchObject({ backends: [], whenEmpty: 'drop' });
    expect(ips(etp['192.0.2.20 ext']!.shortCircuit)).toEqual([remote.ip]);
  });

  it('loadBalancerSourceRanges apply to LoadBalancer IPs and NodePorts, not to externalIPs or cluster IPs; IPv6 ranges are not IPv4 frontends\' ranges', () => {
    const fes = byKind(lb([local], { loadBalancerSourceRanges: ['10.10.0.0/24', 'fd00::/64'] }));
    expect(fes['192.0.2.20 ext']!.sourceRanges).toEqual(['10.10.0.0/24']);
    expect(fes['192.168.1.5 ext']!.sourceRanges).toEqual(['10.10.0.0/24']);
    expect(fes['192.0.2.10 ext']!.sourceRanges).toBeUndefined();
    expect(fes['10.96.0.10']!.sourceRanges).toBeUndefined();
  });

  it('leaves SCTP ports out and names them with the reason', () => {
    const s = svc({ ports: [
      { name: 'sig', protocol: 'SCTP', port: 3868, endpoints: [local] },
      { name: 'http', protocol: 'TCP', port: 80, endpoints: [local] },
    ] });
    expect(frontendsOf(s, ctx).map((f) => `${f.port}/${f.proto}`)).toEqual(['80/TCP']);
    expect(refusedPorts(s)).toEqual([{ port: 'default/web:sig/SCTP', reason: expect.stringContaining('SCTP is not supported') }]);
  });
});

// Dual-stack: each family planned on its own (kube-proxy's per-family proxiers); the datapath programs
// both, except on a node whose kernel has IPv6 off (families [4]), where the IPv6 frontends are skipped.
describe('planService: IP families', () => {
  const ctx = { node: 'n1', nodeIps: ['192.168.1.5', 'fd00:1::5'] };
  const v4node = { ...ctx, families: [4] as const };
  const dual = (extra: ServiceJson = {}) => svc({
    type: 'LoadBalancer', clusterIps: ['10.96.0.10', 'fd00:96::10'], ipFamilies: [4, 6], externalIps: ['fd00:e::10', '192.0.2.10'],
    loadBalancerIps: ['192.0.2.20', 'fd00:e::20'], loadBalancerSourceRanges: ['fd00:c::/64', '10.10.0.0/24'],
    ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080, endpoints: [
      { ip: '10.244.1.2', port: 8080, nodeName: 'n1', family: 4 }, { ip: 'fd00:244::2', port: 8080, nodeName: 'n1', family: 6 },
    ] }],
    ...extra,
  });
  const v4only = () => planService(svc({
    type: 'LoadBalancer', clusterIps: ['10.96.0.10'], externalIps: ['192.0.2.10'], loadBalancerIps: ['192.0.2.20'], loadBalancerSourceRanges: ['10.10.0.0/24'],
    ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080, endpoints: [{ ip: '10.244.1.2', port: 8080, nodeName: 'n1' }] }],
  }), { node: 'n1', nodeIps: ['192.168.1.5'] });

  it('a dual-stack service programs its IPv4 frontends exactly as an IPv4-only one, then its IPv6 ones with IPv6 backends and ranges only', () => {
    const plan = planService(dual(), ctx);
    const v4 = plan.frontends.filter((f) => !f.vip.includes(':'));
    expect(v4).toEqual(v4only().frontends);
    expect(plan.skipped).toEqual([]);
    expect(plan.frontends.map((f) => `${f.vip}:${f.port}`)).toEqual([
      '10.96.0.10:80', '192.168.1.5:30080', '192.0.2.10:80', '192.0.2.20:80', 'fd00:96::10:80', 'fd00:1::5:30080', 'fd00:e::10:80', 'fd00:e::20:80',
    ]);
    const v6 = plan.frontends.filter((f) => f.vip.includes(':'));
    for (const f of v6) expect(f.backends.map((b) => b.ip)).toEqual(['fd00:244::2']);
    expect(v6.map((f) => f.sourceRanges)).toEqual([undefined, ['fd00:c::/64'], undefined, ['fd00:c::/64']]);
    expect(v6.map((f) => [f.name, f.scope ?? 0])).toEqual([
      ['default/web:http', 0], ['default/web:http nodeport', 1], ['default/web:http external', 1], ['default/web:http lb', 1],
    ]);
  });

  it('on a node with IPv6 off: lists every IPv6 frontend as skipped, bracketed, with its kind; nothing of IPv6 is programmed', () => {
    const { frontends, skipped } = planService(dual(), v4node);
    expect(frontends).toEqual(v4only().frontends);
    expect(skipped.map((k) => `${k.type} ${k.frontend}`)).toEqual([
      'ClusterIP [fd00:96::10]:80/TCP', 'NodePort [fd00:1::5]:30080/TCP', 'ExternalIP [fd00:e::10]:80/TCP', 'LoadBalancer [fd00:e::20]:80/TCP',
    ]);
    expect(new Set(skipped.map((k) => k.family))).toEqual(new Set(['ipv6']));
  });

  it('an IPv6-only service programs its IPv6 frontends only (no NodePorts on IPv4 node addresses); all skipped on a node with IPv6 off', () => {
    const only6 = dual({ clusterIps: ['fd00:96::10'], ipFamilies: [6] });
    const plan = planService(only6, ctx);
    expect(plan.frontends.map((f) => `${f.vip}:${f.port}`)).toEqual(['fd00:96::10:80', 'fd00:1::5:30080', 'fd00:e::10:80', 'fd00:e::20:80']);
    expect(plan.skipped).toEqual([]);
    const { frontends, skipped } = planService(only6, v4node);
    expect(frontends).toEqual([]);
    expect(skipped.map((k) => k.frontend)).toEqual(['[fd00:96::10]:80/TCP', '[fd00:1::5]:30080/TCP', '[fd00:e::10]:80/TCP', '[fd00:e::20]:80/TCP']);
  });

  it('reject or drop is decided per family: IPv6 endpoints do not turn an IPv4 frontend without IPv4 endpoints into a drop', () => {
    const s = dual();
    s.ports[0]!.endpoints = s.ports[0]!.endpoints.filter((e) => e.family === 6);
    const fes = planService(s, ctx).frontends;
    for (const f of fes.filter((x) => !x.vip.includes(':'))) expect(f).toMatchObject({ backends: [], whenEmpty: 'reject' });
    for (const f of fes.filter((x) => x.vip.includes(':'))) expect(f).toMatchObject({ backends: [{ ip: 'fd00:244::2' }], whenEmpty: 'drop' });
  });

  it('a state file without families: the addresses tell them', () => {
    const s = toService({
      namespace: 'default', name: 'hand', clusterIps: ['10.96.0.11', 'fd00:96::11'],
      ports: [{ protocol: 'UDP', port: 53, endpoints: [{ ip: '10.244.1.3', port: 53 }, { ip: 'fd00:244::3', port: 53 }] }],
    });
    const { frontends, skipped } = planService(s);
    expect(frontends.map((f) => [f.vip, f.backends.map((b) => b.ip)])).toEqual([['10.96.0.11', ['10.244.1.3']], ['fd00:96::11', ['fd00:244::3']]]);
    expect(skipped).toEqual([]);
    expect(planService(s, { node: '', nodeIps: [], families: [4] }).skipped.map((k) => k.frontend)).toEqual(['[fd00:96::11]:53/UDP']);
  });
});

const frontendKeyOf = (f: { vip: string; port: number; scope?: number }) => `${f.vip}:${f.port}${f.scope ? ' ext' : ''}`;

describe('toService', () => {
  it('fills every field a state file leaves out, and refuses a wrong shape', () => {
    const s = toService({ namespace: 'a', name: 'b', ports: [{ port: 80 }] });
    expect(s).toMatchObject({ type: '', clusterIps: [], externalIps: [], affinityClientIp: false, affinityTimeoutSeconds: 0 });
    expect(s.ports[0]).toEqual({ name: '', protocol: '', port: 80, nodePort: 0, endpoints: [] });
    expect(() => toService({ ports: 'x' as never })).toThrow();
  });

  it('IP families on the wire: enum numbers (4, 6) or names in a state file; a message without them decodes as before', () => {
    const s = toService({
      namespace: 'a', name: 'b', clusterIps: ['10.96.0.1', 'fd00::1'], ipFamilies: ['IPV4', 'IPV6'] as never, ipFamilyPolicy: 'PreferDualStack',
      ports: [{ port: 80, endpoints: [{ ip: 'fd00:244::1', port: 80, family: 'IPV6' as never }, { ip: '10.244.0.1', port: 80 }] }],
    });
    expect([s.ipFamilies, s.ipFamilyPolicy, s.ports[0]!.endpoints.map((e) => e.family)]).toEqual([[4, 6], 'PreferDualStack', [6, 0]]);
    expect(servedFamilies(s)).toEqual([4, 6]);
    expect(s.ports[0]!.endpoints.map(endpointFamily)).toEqual([6, 4]);
    const wire = pb.Service.encode(pb.Service.fromObject(s)).finish();
    expect(toService(pb.Service.toObject(pb.Service.decode(wire)) as ServiceJson)).toEqual(s);
    // an IPv4-only message of an older control plane: no family field on the wire at all
    const old = pb.Service.encode(pb.Service.fromObject({ namespace: 'a', name: 'c', clusterIps: ['10.96.0.2'], ports: [{ port: 80, endpoints: [{ ip: '10.244.0.2', port: 80 }] }] })).finish();
    const decoded = toService(pb.Service.toObject(pb.Service.decode(old)) as ServiceJson);
    expect([decoded.ipFamilies, decoded.ports[0]!.endpoints[0]!.family, servedFamilies(decoded)]).toEqual([[], 0, [4]]);
  });
});
