// Turns services as the control plane sends them (sluice.v1.Service, see proto/contract.ts) into
// datapath frontends: one per IPv4 cluster IP and port, and the external ones. The control plane's
// model has validated the service and applied its defaults; what is checked here is only what this
// datapath cannot hold (IPv4 addresses, TCP and UDP, 16-bit ports, an affinity timeout); SCTP ports are left out and
// reported (refusedPorts), with an error
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
    /** IPv4 CIDRs are kept; IPv6 ones do not apply to IPv4 frontends. */
    cidr(v: string, field: string): boolean {
      if (v.includes(':')) return false;
      const m = /^([\d.]+)\/(\d{1,2})$/.exec(v);
      return m && IPV4.test(m[1]!) && Number(m[2]) <= 32 ? true : fail(field, `${JSON.stringify(v)} is not a CIDR`);
    },
    proto(v: string, field: string): 'TCP' | 'UDP' {
      return v === 'TCP' || v === 'UDP' ? v : fail(field, `${v} is not supported (TCP and UDP are)`);
    },
    fail,
  };
}

/** The three endpoint sets of kube-proxy's CategorizeEndpoints (proto: Endpoint.internal/external/cluster). */
type EndpointSet = 'internal' | 'external' | 'cluster';

/**
 * Whether @e is in @set. An endpoint that names no set (a state file written by hand) is in all
 * three, except that externalTrafficPolicy Local keeps other nodes' out of the external set, as the
 * agent did before the contract named the sets.
 */
function inSet(e: Service['ports'][number]['endpoints'][number], set: EndpointSet, s: Service, node: string): boolean {
  if (e.internal || e.external || e.cluster) return e[set];
  return set !== 'external' || !s.externalTrafficLocal || (!!node && e.nodeName === node);
}

/** Ports of @s the datapath cannot serve, each with why: they are left out, not the whole service. */
export function refusedPorts(s: Service): Array<{ port: string; reason: string }> {
  return s.ports.filter((p) => p.protocol === 'SCTP').map((p) => ({
    port: `${serviceKey(s)}:${p.name || p.port}/SCTP`, reason: 'SCTP is not supported by the datapath (TCP and UDP are)',
  }));
}

/**
 * Frontends of one service: cluster-internal ones for every cluster IP and port, and external ones
 * for NodePorts on every node address, externalIPs and LoadBalancer ingress IPs. ClusterIP frontends
 * get the internal endpoint set, external ones the external set and, under externalTrafficPolicy
 * Local, the cluster set as the short circuit for this node's own pods. A port without endpoints in
 * any set rejects new flows; one whose endpoints are all outside the set it needs drops them
 * (kube-proxy's rules). loadBalancerSourceRanges apply to LoadBalancer IPs and NodePorts. SCTP ports
 * are skipped (refusedPorts()).
 */
export function frontendsOf(s: Service, ctx: NodeContext = { node: '', nodeIps: [] }): FrontendSpec[] {
  const key = serviceKey(s);
  const check = datapathLimits(key);
  const out: FrontendSpec[] = [];
  if (s.affinityClientIp && s.affinityTimeoutSeconds === 0) check.fail('affinityTimeoutSeconds', '0 with affinityClientIp (the datapath reads 0 as no affinity)');
  const base = { affinityTimeout: s.affinityClientIp ? s.affinityTimeoutSeconds : 0 };
  const ranges = s.loadBalancerSourceRanges.filter((r, i) => check.cidr(r, `loadBalancerSourceRanges[${i}]`));
  const ports = s.ports.flatMap((p, i) => {
    if (p.protocol === 'SCTP') return [];
    const proto = check.proto(p.protocol, `ports[${i}].protocol`);
    check.port(p.port, `ports[${i}].port`);
    if (p.nodePort) check.port(p.nodePort, `ports[${i}].nodePort`);
    const sets = { internal: [] as FrontendSpec['backends'], external: [] as FrontendSpec['backends'], cluster: [] as FrontendSpec['backends'] };
    p.endpoints.forEach((e, j) => {
      const b = {
        ip: check.ip(e.ip, `ports[${i}].endpoints[${j}].ip`), port: check.port(e.port, `ports[${i}].endpoints[${j}].port`),
        terminating: e.terminating, local: !!ctx.node && e.nodeName === ctx.node,
      };
      for (const set of ['internal', 'external', 'cluster'] as const) if (inSet(e, set, s, ctx.node)) sets[set].push(b);
    });
    const whenEmpty: FrontendSpec['whenEmpty'] = p.endpoints.length ? 'drop' : 'reject';
    return [{ p, proto, sets, whenEmpty }];
  });
  for (const [v, vip] of s.clusterIps.entries()) {
    check.ip(vip, `clusterIps[${v}]`);
    for (const { p, proto, sets, whenEmpty } of ports) {
      out.push({ ...base, vip, port: p.port, proto, name: `${key}:${p.name || p.port}`, backends: sets.internal, whenEmpty });
    }
  }
  // externalTrafficPolicy Local: only this node's endpoints, and the client address is kept.
  const local = s.externalTrafficLocal;
  for (const { p, proto, sets, whenEmpty } of ports) {
    const pname = p.name || String(p.port);
    const external = (vip: string, port: number, kind: string, sourceRanges?: string[]) => out.push({
      ...base, vip, port, proto, name: `${key}:${pname} ${kind}`, scope: 1, localOnly: local, backends: sets.external, whenEmpty,
      ...(local ? { shortCircuit: sets.cluster } : {}), ...(sourceRanges?.length ? { sourceRanges } : {}),
    });
    if (p.nodePort && (s.type === 'NodePort' || s.type === 'LoadBalancer')) {
      for (const nip of ctx.nodeIps) external(nip, p.nodePort, 'nodeport', ranges);
    }
    for (const [i, e] of s.externalIps.entries()) external(check.ip(e, `externalIps[${i}]`), p.port, 'external');
    if (s.type === 'LoadBalancer') {
      for (const [i, e] of s.loadBalancerIps.entries()) external(check.ip(e, `loadBalancerIps[${i}]`), p.port, 'lb', ranges);
    }
  }
  return out;
}
