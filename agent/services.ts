// Turns services as the control plane sends them (sluice.v1.Service, see proto/contract.ts) into
// datapath frontends: one per IPv4 cluster IP and port, and the external ones. The control plane's
// model has validated the service and applied its defaults; what is checked here is only what this
// datapath cannot hold (IPv4 addresses, TCP and UDP, 16-bit ports, an affinity timeout), with an error
// naming the service and the field.
import type { FrontendSpec } from './datapath.ts';
import { serviceKey, type Service } from '../proto/contract.ts';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** What the node knows about itself when turning services into frontends. */
export interface NodeContext {
  node: string;
  /** Addresses NodePorts answer on (the external interface's); none when north-south is off. */
  nodeIps: string[];
}

/** Throws, naming the service and field, what the datapath's maps cannot represent. */
function datapathLimits(key: string) {
  const fail = (field: string, what: string): never => { throw new Error(`service ${key}: ${field}: ${what}`); };
  return {
    ip(v: string, field: string): string {
      return IPV4.test(v) ? v : fail(field, `${JSON.stringify(v)} is not an IPv4 address (the datapath holds IPv4 only)`);
    },
    port(v: number, field: string): number {
      return v >= 1 && v <= 65535 ? v : fail(field, `${v} does not fit a 16-bit port`);
    },
    proto(v: string, field: string): 'TCP' | 'UDP' {
      return v === 'TCP' || v === 'UDP' ? v : fail(field, `${v} is not supported (TCP and UDP are)`);
    },
    fail,
  };
}

/**
 * Frontends of one service: cluster-internal ones for every cluster IP and port, and external ones
 * for NodePorts on every node address, externalIPs and LoadBalancer ingress IPs.
 */
export function frontendsOf(s: Service, ctx: NodeContext = { node: '', nodeIps: [] }): FrontendSpec[] {
  const key = serviceKey(s);
  const check = datapathLimits(key);
  const out: FrontendSpec[] = [];
  if (s.affinityClientIp && s.affinityTimeoutSeconds === 0) check.fail('affinityTimeoutSeconds', '0 with affinityClientIp (the datapath reads 0 as no affinity)');
  const base = { affinityTimeout: s.affinityClientIp ? s.affinityTimeoutSeconds : 0 };
  const ports = s.ports.map((p, i) => {
    const proto = check.proto(p.protocol, `ports[${i}].protocol`);
    check.port(p.port, `ports[${i}].port`);
    if (p.nodePort) check.port(p.nodePort, `ports[${i}].nodePort`);
    const backends = p.endpoints.map((e, j) => ({
      ip: check.ip(e.ip, `ports[${i}].endpoints[${j}].ip`), port: check.port(e.port, `ports[${i}].endpoints[${j}].port`),
      terminating: e.terminating, local: !!ctx.node && e.nodeName === ctx.node,
    }));
    return { p, proto, backends };
  });
  for (const [v, vip] of s.clusterIps.entries()) {
    check.ip(vip, `clusterIps[${v}]`);
    for (const { p, proto, backends } of ports) {
      out.push({ ...base, vip, port: p.port, proto, name: `${key}:${p.name || p.port}`, backends });
    }
  }
  // externalTrafficPolicy Local: only this node's endpoints, and the client address is kept.
  const local = s.externalTrafficLocal;
  const external = (vip: string, port: number, proto: 'TCP' | 'UDP', name: string, backends: FrontendSpec['backends']) =>
    out.push({ ...base, vip, port, proto, name, scope: 1, localOnly: local, backends: local ? backends.filter((b) => b.local) : backends });
  for (const { p, proto, backends } of ports) {
    const pname = p.name || String(p.port);
    if (p.nodePort && (s.type === 'NodePort' || s.type === 'LoadBalancer')) {
      for (const nip of ctx.nodeIps) external(nip, p.nodePort, proto, `${key}:${pname} nodeport`, backends);
    }
    for (const [i, e] of s.externalIps.entries()) external(check.ip(e, `externalIps[${i}]`), p.port, proto, `${key}:${pname} external`, backends);
    if (s.type === 'LoadBalancer') {
      for (const [i, e] of s.loadBalancerIps.entries()) external(check.ip(e, `loadBalancerIps[${i}]`), p.port, proto, `${key}:${pname} lb`, backends);
    }
  }
  return out;
}
