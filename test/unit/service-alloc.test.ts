// ClusterIP / NodePort allocation of the manifests source, as the API server's allocators: ranges,
// first come first served (holders recorded in the state), no pod or node addresses.
import { describe, expect, it } from 'vitest';
import type { KubeService, ModelError } from '../../controlplane/model.ts';
import { parseCidr, parsePortRange, type AllocationState } from '../../controlplane/ipalloc.ts';
import { allocateServiceAddresses } from '../../controlplane/service-alloc.ts';

const emptyState = (): AllocationState => ({ version: 1, serviceCidr: '10.96.0.0/24', podCidr: '10.244.0.0/16', services: {}, pods: {}, held: { clusterIPs: {}, nodePorts: {} } });
const svc = (name: string, spec: KubeService['spec']): [string, KubeService] => [`default/${name}`, { kind: 'Service', metadata: { name, namespace: 'default' }, spec }];

/** Runs one scan; returns the admitted services' cluster IPs and the errors as "object field: message". */
function scan(st: AllocationState, list: [string, KubeService][], reserved: Record<string, string> = {}): { ips: Record<string, string>; errors: string[] } {
  const services = new Map(list.map(([k, s]) => [k, structuredClone(s)]));
  const errors: ModelError[] = [];
  allocateServiceAddresses(services, st, { serviceCidr: parseCidr('10.96.0.0/24'), nodePorts: parsePortRange('30000-32767'), reserved: new Map(Object.entries(reserved)) }, errors);
  return {
    ips: Object.fromEntries([...services].map(([k, s]) => [k, s.spec!.clusterIP!])),
    errors: errors.map((e) => `${e.object} ${e.field}: ${e.message}`),
  };
}

describe('allocateServiceAddresses', () => {
  it('newcomers in one scan go by key; the holder then keeps its address whatever the names', () => {
    const st = emptyState();
    const b = svc('b', { clusterIP: '10.96.0.5' });
    const c = svc('c', { clusterIP: '10.96.0.5' });
    expect(scan(st, [c, b])).toEqual({ ips: { 'default/b': '10.96.0.5' }, errors: ['default/c spec.clusterIP: cluster IP 10.96.0.5 is already allocated to Service default/b (first come, first served); service refused'] });
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
