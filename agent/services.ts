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

/** Frontends of one service. Throws an error naming the service and field when it is unusable. */
export function frontendsOf(s: ServiceState): FrontendSpec[] {
  const key = serviceKey(s);
  const out: FrontendSpec[] = [];
  const timeout = s.affinityClientIp ? (s.affinityTimeoutSeconds || 10800) : 0;
  for (const vip of s.clusterIps ?? []) {
    if (!IPV4.test(vip)) throw new Error(`service ${key}: clusterIPs: ${JSON.stringify(vip)} is not an IPv4 address`);
    for (const [i, p] of (s.ports ?? []).entries()) {
      const proto = p.protocol || 'TCP';
      if (proto !== 'TCP' && proto !== 'UDP') throw new Error(`service ${key}: ports[${i}].protocol: ${proto} is not supported (TCP and UDP are)`);
      if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) throw new Error(`service ${key}: ports[${i}].port: ${p.port} is out of range`);
      const backends = (p.endpoints ?? []).map((e, j) => {
        if (!IPV4.test(e.ip)) throw new Error(`service ${key}: ports[${i}].endpoints[${j}].ip: ${JSON.stringify(e.ip)} is not an IPv4 address`);
        if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) throw new Error(`service ${key}: ports[${i}].endpoints[${j}].port: ${e.port} is out of range`);
        return { ip: e.ip, port: e.port, terminating: !!e.terminating };
      });
      out.push({
        vip, port: p.port, proto, name: `${key}:${p.name || p.port}`, affinityTimeout: timeout, backends,
      });
    }
  }
  return out;
}
