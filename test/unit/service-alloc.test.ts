// ClusterIP / NodePort allocation of the manifests source, as the API server's allocators: ranges,
// first come first served (holders recorded in the state), no pod or node addresses.
import { describe, expect, it } from 'vitest';
import type { KubeService, ModelError } from '../../controlplane/model.ts';
import { parseCidr, parsePortRange, type AllocationState } from '../../controlplane/ipalloc.ts';
import { allocateServiceAddresses } from '../../controlplane/service-alloc.ts';

const emptyState = (): AllocationState => ({ version: 1, serviceCidr: '10.96.0.0/24', podCidr: '10.244.0.0/16', services: {}, pods: {}, held: { clusterIPs: {}, nodePorts: {} } });
const svc = (name: string, spec: KubeService['spec']): [string, KubeService] => [`default/${name}`, { kind: 'Service', metadata: { name, namespace: 'default' }, spec }];

/** Runs one scan; returns the admitted services' cluster IPs and the errors as "object field: message". */
function scan(st: AllocationState, list: [string, KubeService][], reserved: Record<string, string> = {}, v6?: string): { ips: Record<string, string>; errors: string[]; specs: Record<string, KubeService['spec']> } {
  const services = new Map(list.map(([k, s]) => [k, structuredClone(s)]));
  const errors: ModelError[] = [];
  allocateServiceAddresses(services, st, {
    serviceCidr: parseCidr('10.96.0.0/24'), ...(v6 ? { serviceCidr6: parseCidr(v6) } : {}), nodePorts: parsePortRange('30000-32767'), reserved: new Map(Object.entries(reserved)),
  }, errors);
  return {
    ips: Object.fromEntries([...services].map(([k, s]) => [k, s.spec!.clusterIP!])),
    errors: errors.map((e) => `${e.object} ${e.field}: ${e.message}`),
    specs: Object.fromEntries([...services].map(([k, s]) => [k, s.spec])),
  };
}

describe('allocateServiceAddresses', () => {
  it('newcomers in one scan go by key; the holder then keeps its address whatever the names', () => {
    const st = emptyState();
    const b = svc('b', { clusterIP: '10.96.0.5' });
    const c = svc('c', { clusterIP: '10.96.0.5' });
    const { specs: _s, ...first } = scan(st, [c, b]);
    expect(first).toEqual({ ips: { 'default/b': '10.96.0.5' }, errors: ['default/c spec.clusterIP: cluster IP 10.96.0.5 is already allocated to Service default/b (first come, first served); service refused'] });
    expect(st.held.clusterIPs).toEqual({ '10.96.0.5': 'default/b' });
    // a newcomer sorting first does not win either
    expect(scan(st, [svc('a', { clusterIP: '10.96.0.5' }), b]).ips).toEqual({ 'default/b': '10.96.0.5' });
  });

  it('a holder refused for another reason keeps its hold while it still claims it; released when it stops', () => {
    const st = emptyState();
    scan(st, [svc('web', { type: 'NodePort', clusterIP: '10.96.0.80', ports: [{ port: 80, nodePort: 30080 }] })]);
    const broken = svc('web', { type: 'NodePort', clusterIP: '10.96.0.80', ports: [{ port: 80, nodePort: 80 }] });
    const thief = svc('thief', { clusterIP: '10.96.0.80' });
    const r = scan(st, [broken, thief]);
    expect(r.ips).toEqual({});
    expect(r.errors).toEqual([
      'default/thief spec.clusterIP: cluster IP 10.96.0.80 is already allocated to Service default/web (first come, first served); service refused',
      'default/web spec.ports[0].nodePort: nodePort 80 is not in the NodePort range 30000-32767; service refused',
    ]);
    // web moves to another address: the old one is free for the next claimer
    expect(scan(st, [svc('web', { clusterIP: '10.96.0.81' }), thief]).ips).toEqual({ 'default/web': '10.96.0.81', 'default/thief': '10.96.0.80' });
  });

  it('allocated addresses are held too; allocation avoids held, reserved, network and broadcast addresses', () => {
    const st = emptyState();
    const reserved = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`10.96.0.${i + 1}`, `Pod default/p${i}`]));
    const first = scan(st, [svc('dyn', {})], reserved);
    const ip = first.ips['default/dyn']!;
    expect(['10.96.0.251', '10.96.0.252', '10.96.0.253', '10.96.0.254']).toContain(ip);
    expect(scan(st, [svc('dyn', {}), svc('aaa', { clusterIP: ip })], reserved).errors).toEqual([`default/aaa spec.clusterIP: cluster IP ${ip} is already allocated to Service default/dyn (first come, first served); service refused`]);
    // the range is full: 254 usable addresses, 250 reserved, dyn + 3 more
    const more = scan(st, [svc('dyn', {}), svc('m1', {}), svc('m2', {}), svc('m3', {}), svc('m4', {})], reserved);
    expect(Object.keys(more.ips)).toHaveLength(4);
    expect(more.errors).toEqual(['default/m4 spec.clusterIP: service range 10.96.0.0/24 exhausted; service refused']);
  });

  it('healthCheckNodePort is a TCP nodePort: held, range-checked, and refused when taken', () => {
    const st = emptyState();
    const lb = svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 31000, ports: [{ port: 80, nodePort: 30081 }] });
    const r = scan(st, [lb, svc('np', { type: 'NodePort', ports: [{ port: 80, nodePort: 31000 }] }), svc('out', { type: 'LoadBalancer', healthCheckNodePort: 80, ports: [{ port: 80, nodePort: 30082 }] })]);
    expect(r.errors).toEqual([
      'default/np spec.ports[0].nodePort: nodePort 31000/TCP is already allocated to Service default/lb (first come, first served); service refused',
      'default/out spec.healthCheckNodePort: nodePort 80 is not in the NodePort range 30000-32767; service refused',
    ]);
    expect(st.held.nodePorts).toEqual({ '30081/TCP': 'default/lb', '31000/TCP': 'default/lb' });
  });

  it('nodePorts are held per protocol; malformed addresses are left to the model', () => {
    const st = emptyState();
    const r = scan(st, [
      svc('tcp', { type: 'NodePort', ports: [{ port: 53, nodePort: 30053 }] }),
      svc('udp', { type: 'LoadBalancer', ports: [{ port: 53, protocol: 'UDP', nodePort: 30053 }] }),
      svc('tcp2', { type: 'NodePort', ports: [{ port: 80, nodePort: 30053, protocol: 'TCP' }] }),
      svc('cluster', { type: 'ClusterIP', ports: [{ port: 80, nodePort: 30053 }] }), // nodePort unused for ClusterIP
      svc('bad', { clusterIP: 'banana' }),
      svc('headless', { clusterIP: 'None' }),
    ]);
    expect(Object.keys(r.ips).sort()).toEqual(['default/bad', 'default/cluster', 'default/headless', 'default/tcp', 'default/udp']);
    expect(r.ips['default/bad']).toBe('banana'); // not replaced by an allocated address
    expect(r.errors).toEqual(['default/tcp2 spec.ports[0].nodePort: nodePort 30053/TCP is already allocated to Service default/tcp (first come, first served); service refused']);
    expect(st.held.nodePorts).toEqual({ '30053/TCP': 'default/tcp', '30053/UDP': 'default/udp' });
  });
});

// The API server's IP family rules (pkg/registry/core/service/storage/alloc.go), with the IPv6 range
// the manifests source has by default (fd00:10:96::/112).
describe('allocateServiceAddresses: IP families', () => {
  const V6 = 'fd00:10:96::/112';
  const fams = (sp: KubeService['spec']) => [sp?.ipFamilyPolicy, sp?.ipFamilies, sp?.clusterIPs?.map((ip) => (ip.includes(':') ? 'v6' : 'v4'))];

  it('no policy: SingleStack of the primary family, as before (the spec is completed as the API server writes it)', () => {
    const r = scan(emptyState(), [svc('a', {}), svc('b', { clusterIP: '10.96.0.9' })], {}, V6);
    expect(fams(r.specs['default/a'])).toEqual(['SingleStack', ['IPv4'], ['v4']]);
    expect(r.specs['default/b']).toMatchObject({ clusterIP: '10.96.0.9', clusterIPs: ['10.96.0.9'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' });
    expect(r.errors).toEqual([]);
  });

  it('PreferDualStack and RequireDualStack get one address per family, kept across scans (state file), primary first unless ipFamilies says', () => {
    const st = emptyState();
    const list = [
      svc('pref', { ipFamilyPolicy: 'PreferDualStack' }),
      svc('req6', { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6', 'IPv4'] }),
      svc('only6', { ipFamilies: ['IPv6'] }),
      // explicit IPv4 plus the policy: only the IPv6 address is allocated
      svc('half', { clusterIP: '10.96.0.7', ipFamilyPolicy: 'PreferDualStack' }),
      // two families without a policy mean RequireDualStack
      svc('two', { ipFamilies: ['IPv4', 'IPv6'] }),
    ];
    const r = scan(st, list, {}, V6);
    expect(r.errors).toEqual([]);
    expect(fams(r.specs['default/pref'])).toEqual(['PreferDualStack', ['IPv4', 'IPv6'], ['v4', 'v6']]);
    expect(fams(r.specs['default/req6'])).toEqual(['RequireDualStack', ['IPv6', 'IPv4'], ['v6', 'v4']]);
    expect(fams(r.specs['default/only6'])).toEqual(['SingleStack', ['IPv6'], ['v6']]);
    expect(fams(r.specs['default/two'])).toEqual(['RequireDualStack', ['IPv4', 'IPv6'], ['v4', 'v6']]);
    expect(r.specs['default/half']!.clusterIPs![0]).toBe('10.96.0.7');
    for (const sp of Object.values(r.specs)) {
      for (const ip of sp!.clusterIPs!) if (ip.includes(':')) expect(ip).toMatch(/^fd00:10:96::[0-9a-f]{1,4}$/);
      expect(sp!.clusterIP).toBe(sp!.clusterIPs![0]);
    }
    expect(Object.keys(st.services6!).sort()).toEqual(['default/half', 'default/only6', 'default/pref', 'default/req6', 'default/two']);
    expect(scan(st, list, {}, V6).specs).toEqual(r.specs);
    // the policy dropped back to SingleStack: the IPv6 address is released
    scan(st, [svc('pref', {})], {}, V6);
    expect(st.services6).toEqual({});
  });

  it('on a single-stack cluster: PreferDualStack gets IPv4 only, RequireDualStack and IPv6 are refused', () => {
    const r = scan(emptyState(), [svc('pref', { ipFamilyPolicy: 'PreferDualStack' }), svc('req', { ipFamilyPolicy: 'RequireDualStack' }), svc('six', { ipFamilies: ['IPv6'] }), svc('six-ip', { clusterIP: 'fd00:10:96::5' })]);
    expect(fams(r.specs['default/pref'])).toEqual(['PreferDualStack', ['IPv4'], ['v4']]);
    expect(r.errors).toEqual([
      'default/req spec.ipFamilyPolicy: RequireDualStack, but the cluster has no IPv6 service range (--service-cidr-v6); service refused',
      'default/six spec.ipFamilies: IPv6 is not configured on this cluster (no IPv6 service range); service refused',
      'default/six-ip spec.ipFamilies: IPv6 is not configured on this cluster (no IPv6 service range); service refused',
    ]);
  });

  it('explicit IPv6 cluster IPs: in the range (its network address excluded, its last address usable), first come first served, canonical', () => {
    const st = emptyState();
    const r = scan(st, [
      svc('last', { clusterIP: 'FD00:10:96:0:0:0:0:FFFF' }),
      svc('net', { clusterIP: 'fd00:10:96::' }),
      svc('out', { clusterIPs: ['10.96.0.8', 'fd00:10:97::1'] }),
      svc('same', { clusterIPs: ['10.96.0.9', '10.96.0.10'] }),
      svc('order', { clusterIPs: ['10.96.0.11', 'fd00:10:96::11'], ipFamilies: ['IPv6', 'IPv4'] }),
      svc('single', { clusterIPs: ['10.96.0.12', 'fd00:10:96::12'], ipFamilyPolicy: 'SingleStack' }),
      svc('thief', { clusterIP: 'fd00:10:96::ffff' }),
    ], {}, V6);
    expect(r.specs['default/last']).toMatchObject({ clusterIP: 'fd00:10:96::ffff', ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });
    expect(r.errors).toEqual([
      // families first (as the API server validates them before allocating), then the ranges
      'default/order spec.ipFamilies[0]: IPv6 but the cluster IP at this position is IPv4; service refused',
      'default/same spec.clusterIPs[1]: a second IPv4 cluster IP (at most one per family); service refused',
      'default/single spec.ipFamilyPolicy: SingleStack with two IP families; service refused',
      'default/net spec.clusterIP: cluster IP fd00:10:96:: is not in the service range fd00:10:96::/112; service refused',
      'default/out spec.clusterIPs[1]: cluster IP fd00:10:97::1 is not in the service range fd00:10:96::/112; service refused',
      'default/thief spec.clusterIP: cluster IP fd00:10:96::ffff is already allocated to Service default/last (first come, first served); service refused',
    ]);
    expect(st.held.clusterIPs['fd00:10:96::ffff']).toBe('default/last');
  });
});
