// Turns services as the control plane sends them (sluice.v1.Service, in protobufjs' camelCase
// object form) into datapath frontends: one per IPv4 cluster IP and port.
import type { FrontendSpec } from './datapath.ts';

export interface EndpointState {
  ip: string;
  port: number;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  nodeName?: string;
  targetRef?: string;
}

export interface ServicePortState {
  name?: string;
  protocol: string;
  port: number;
  nodePort?: number;
  endpoints?: EndpointState[];
}

export interface ServiceState {
  namespace: string;
  name: string;
  type?: string;
  clusterIps?: string[];
  ports?: ServicePortState[];
  affinityClientIp?: boolean;
  affinityTimeoutSeconds?: number;
  internalTrafficLocal?: boolean;
  externalTrafficLocal?: boolean;
  externalIps?: string[];
  loadBalancerIps?: string[];
}

export const serviceKey = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** What the node knows about itself when turning services into frontends. */
export interface NodeContext {
  node: string;
  /** Addresses NodePorts answer on (the external interface's); none when north-south is off. */
  nodeIps: string[];
}

/**
 * Frontends of one service: cluster-internal ones for every IPv4 cluster IP and port, and external
 * ones for NodePorts on every node address, externalIPs and LoadBalancer ingress IPs. Throws an
 * error naming the service and field when it is unusable.
 */
export function frontendsOf(s: ServiceState, ctx: NodeContext = { node: '', nodeIps: [] }): FrontendSpec[] {
  const key = serviceKey(s);
  const out: FrontendSpec[] = [];
  const timeout = s.affinityClientIp ? (s.affinityTimeoutSeconds || 10800) : 0;
  const ip = (v: string, field: string) => {
    if (!IPV4.test(v)) throw new Error(`service ${key}: ${field}: ${JSON.stringify(v)} is not an IPv4 address`);
    return v;
  };
  const ports = (s.ports ?? []).map((p, i) => {
    const proto = p.protocol || 'TCP';
    if (proto !== 'TCP' && proto !== 'UDP') throw new Error(`service ${key}: ports[${i}].protocol: ${proto} is not supported (TCP and UDP are)`);
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) throw new Error(`service ${key}: ports[${i}].port: ${p.port} is out of range`);
    if (p.nodePort && (!Number.isInteger(p.nodePort) || p.nodePort < 1 || p.nodePort > 65535)) throw new Error(`service ${key}: ports[${i}].nodePort: ${p.nodePort} is out of range`);
    const backends = (p.endpoints ?? []).map((e, j) => {
      ip(e.ip, `ports[${i}].endpoints[${j}].ip`);
      if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) throw new Error(`service ${key}: ports[${i}].endpoints[${j}].port: ${e.port} is out of range`);
      return { ip: e.ip, port: e.port, terminating: !!e.terminating, local: !!ctx.node && e.nodeName === ctx.node };
    });
    return { p, proto: proto as 'TCP' | 'UDP', backends };
  });
  const base = { affinityTimeout: timeout };
  for (const [v, vip] of (s.clusterIps ?? []).entries()) {
    ip(vip, `clusterIPs[${v}]`);
    for (const { p, proto, backends } of ports) {
      out.push({ ...base, vip, port: p.port, proto, name: `${key}:${p.name || p.port}`, backends });
    }
  }
  // externalTrafficPolicy Local: only this node's endpoints, and the client address is kept.
  const local = !!s.externalTrafficLocal;
  const external = (vip: string, port: number, proto: 'TCP' | 'UDP', name: string, backends: FrontendSpec['backends']) =>
    out.push({ ...base, vip, port, proto, name, scope: 1, localOnly: local, backends: local ? backends.filter((b) => b.local) : backends });
  for (const { p, proto, backends } of ports) {
    const pname = p.name || String(p.port);
    if (p.nodePort && (s.type === 'NodePort' || s.type === 'LoadBalancer')) {
      for (const nip of ctx.nodeIps) external(nip, p.nodePort, proto, `${key}:${pname} nodeport`, backends);
    }
    for (const [i, e] of (s.externalIps ?? []).entries()) external(ip(e, `externalIPs[${i}]`), p.port, proto, `${key}:${pname} external`, backends);
    if (s.type === 'LoadBalancer') {
      for (const [i, e] of (s.loadBalancerIps ?? []).entries()) external(ip(e, `loadBalancerIPs[${i}]`), p.port, proto, `${key}:${pname} lb`, backends);
    }
  }
  return out;
}
