// Turns services as the control plane sends them (sluice.v1.Service, see proto/contract.ts) into
// datapath frontends: one per cluster IP and port, and the external ones, per IP family. The control
// plane's model has validated the service and applied its defaults; what is checked here is only
// what this datapath cannot hold (TCP and UDP, 16-bit ports, an affinity timeout, addresses in the
// contract's form). SCTP ports are left out and reported (refusedPorts), with an error naming the
// service and the field.
//
// IP families: each family a service serves is planned on its own, as kube-proxy's per-family
// proxiers do, from that family's cluster IP, node addresses, externalIPs, LB IPs, source ranges and
// endpoints. The datapath serves both families (docs/ipv6.md). A node whose kernel has IPv6 turned
// off (no /proc/sys/net/ipv6, `ipv6.disable=1`) runs IPv4 only, as kube-proxy falls back to single
// stack where the second family is unsupported: NodeContext.families then lists 4 alone, the IPv6
// frontends of a service are listed as skipped and nothing of them is programmed, while its IPv4
// frontends are programmed exactly as on a dual-stack node (an IPv6-only service programs nothing
// and is reported whole, never half-programmed).
import type { FrontendSpec } from './datapath.ts';
import { canonicalIp, familyOf, formatAddrPort, parseCidr, type Family } from '../common/ip.ts';
import { servedFamilies, serviceKey, type Service } from '../proto/contract.ts';

/** The families the datapath programs (on a node that has both). */
export const DATAPATH_FAMILIES: readonly Family[] = [4, 6];

/** What the node knows about itself when turning services into frontends. */
export interface NodeContext {
  node: string;
  /** Addresses NodePorts answer on (the external interface's); none when north-south is off. */
  nodeIps: string[];
  /**
   * No north-south datapath: another node's backend would answer a masqueraded flow at an interface
   * Sluice does not watch, so pods reach externalTrafficPolicy Cluster external addresses
   * unmasqueraded, through a short-circuit frontend as under Local.
   */
  podsUnmasqueraded?: boolean;
  /** The families this node programs (default DATAPATH_FAMILIES); the others' frontends are skipped. */
  families?: readonly Family[];
}

/** Throws, naming the service and field, what the datapath's maps cannot represent. */
function datapathLimits(key: string) {
  const fail = (field: string, what: string): never => { throw new Error(`service ${key}: ${field}: ${what}`); };
  return {
    /** The family of an address in the contract's canonical form (an IPv4 one is canonical as soon as it parses). */
    family(v: string, field: string): Family {
      const f = familyOf(v);
      return f === 4 || (f === 6 && canonicalIp(v) === v) ? f : fail(field, `${JSON.stringify(v)} is not an IP address in canonical form`);
    },
    port(v: number, field: string): number {
      return v >= 1 && v <= 65535 ? v : fail(field, `${v} does not fit a 16-bit port`);
    },
    /** The family of a CIDR (of either family). */
    cidr(v: string, field: string): Family {
      return parseCidr(v)?.family ?? fail(field, `${JSON.stringify(v)} is not a CIDR`);
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

/** A frontend of a family this node does not program, for logs, status and `sluice service list`. */
export interface SkippedFrontend {
  /** "[fd00::10]:80/TCP" */
  frontend: string;
  family: 'ipv6';
  type: 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer';
  /** The service's frontend name ("namespace/name:port", plus the kind for external ones). */
  name: string;
}

export interface ServicePlan {
  /** What the datapath programs (the node's families only). */
  frontends: FrontendSpec[];
  /** Frontends of the families it does not program. */
  skipped: SkippedFrontend[];
}

/**
 * Frontends of one service: cluster-internal ones for every cluster IP and port, and external ones
 * for NodePorts on every node address, externalIPs and LoadBalancer ingress IPs; each family served
 * with its own addresses and endpoints. ClusterIP frontends get the internal endpoint set, external
 * ones the external set and, under externalTrafficPolicy Local, the cluster set as the short circuit
 * for this node's own pods. A port without endpoints (of the frontend's family) in any set rejects
 * new flows; one whose endpoints are all outside the set it needs drops them (kube-proxy's rules).
 * loadBalancerSourceRanges of a family apply to that family's LoadBalancer IPs and NodePorts. SCTP
 * ports are skipped (refusedPorts()).
 */
export function planService(s: Service, ctx: NodeContext = { node: '', nodeIps: [] }): ServicePlan {
  const key = serviceKey(s);
  const check = datapathLimits(key);
  const out: FrontendSpec[] = [];
  const skipped: SkippedFrontend[] = [];
  if (s.affinityClientIp && s.affinityTimeoutSeconds === 0) check.fail('affinityTimeoutSeconds', '0 with affinityClientIp (the datapath reads 0 as no affinity)');
  const base = { affinityTimeout: s.affinityClientIp ? s.affinityTimeoutSeconds : 0 };
  const rangeFamilies = s.loadBalancerSourceRanges.map((r, i) => check.cidr(r, `loadBalancerSourceRanges[${i}]`));
  const families = servedFamilies(s);
  // Every address is checked whatever its family, so a malformed one fails the service either way.
  const familyOfIp = check.family;
  const vips = {
    cluster: s.clusterIps.map((v, i) => ({ ip: v, fam: familyOfIp(v, `clusterIps[${i}]`) })),
    external: s.externalIps.map((v, i) => ({ ip: v, fam: familyOfIp(v, `externalIps[${i}]`) })),
    lb: s.loadBalancerIps.map((v, i) => ({ ip: v, fam: familyOfIp(v, `loadBalancerIps[${i}]`) })),
    node: ctx.nodeIps.map((v) => ({ ip: v, fam: familyOf(v) })),
  };
  const ports = s.ports.flatMap((p, i) => {
    if (p.protocol === 'SCTP') return [];
    const proto = check.proto(p.protocol, `ports[${i}].protocol`);
    check.port(p.port, `ports[${i}].port`);
    if (p.nodePort) check.port(p.nodePort, `ports[${i}].nodePort`);
    const byFamily = new Map<Family, { sets: Record<EndpointSet, FrontendSpec['backends']>; whenEmpty: FrontendSpec['whenEmpty'] }>();
    for (const fam of families) byFamily.set(fam, { sets: { internal: [], external: [], cluster: [] }, whenEmpty: 'reject' });
    p.endpoints.forEach((e, j) => {
      // The field names are built only on failure: this loop runs for every endpoint of every change.
      const field = () => `ports[${i}].endpoints[${j}]`;
      let fam = familyOf(e.ip);
      if (fam !== 4) fam = familyOfIp(e.ip, `${field()}.ip`);
      if (e.family && e.family !== fam) check.fail(`${field()}.family`, `IPv${e.family} for address ${e.ip}`);
      const f = byFamily.get(fam);
      if (!f) return; // a family the service does not serve
      if (!(e.port >= 1 && e.port <= 65535)) check.port(e.port, `${field()}.port`);
      const b = { ip: e.ip, port: e.port, terminating: e.terminating, local: !!ctx.node && e.nodeName === ctx.node };
      for (const set of ['internal', 'external', 'cluster'] as const) if (inSet(e, set, s, ctx.node)) f.sets[set].push(b);
      // Endpoints of this family exist, none usable by some set: that set drops rather than rejects.
      f.whenEmpty = 'drop';
    });
    return [{ p, proto, byFamily }];
  });
  // externalTrafficPolicy Local: only this node's endpoints, and the client address is kept.
  const local = s.externalTrafficLocal;
  for (const fam of families) {
    const programmed = (ctx.families ?? DATAPATH_FAMILIES).includes(fam);
    const mine = <T extends { fam: number }>(l: T[]) => l.filter((x) => x.fam === fam);
    const ranges = s.loadBalancerSourceRanges.filter((_, i) => rangeFamilies[i] === fam);
    const emit = (f: FrontendSpec, type: SkippedFrontend['type']) => {
      if (programmed) out.push(f);
      else skipped.push({ frontend: `${formatAddrPort(f.vip, f.port)}/${f.proto}`, family: 'ipv6', type, name: f.name });
    };
    for (const { ip: vip } of mine(vips.cluster)) {
      for (const { p, proto, byFamily } of ports) {
        const { sets, whenEmpty } = byFamily.get(fam)!;
        emit({ ...base, vip, port: p.port, proto, name: `${key}:${p.name || p.port}`, backends: sets.internal, whenEmpty }, 'ClusterIP');
      }
    }
    for (const { p, proto, byFamily } of ports) {
      const { sets, whenEmpty } = byFamily.get(fam)!;
      const pname = p.name || String(p.port);
      const external = (vip: string, port: number, kind: string, type: SkippedFrontend['type'], sourceRanges?: string[]) => emit({
        ...base, vip, port, proto, name: `${key}:${pname} ${kind}`, scope: 1, localOnly: local, backends: sets.external, whenEmpty,
        ...(local || ctx.podsUnmasqueraded ? { shortCircuit: sets.cluster } : {}), ...(sourceRanges?.length ? { sourceRanges } : {}),
      }, type);
      if (p.nodePort && (s.type === 'NodePort' || s.type === 'LoadBalancer')) {
        for (const { ip } of mine(vips.node)) external(ip, p.nodePort, 'nodeport', 'NodePort', ranges);
      }
      for (const { ip } of mine(vips.external)) external(ip, p.port, 'external', 'ExternalIP');
      if (s.type === 'LoadBalancer') {
        for (const { ip } of mine(vips.lb)) external(ip, p.port, 'lb', 'LoadBalancer', ranges);
      }
    }
  }
  return { frontends: out, skipped };
}

/** The frontends the datapath programs for @s (planService's, without the skipped ones). */
export function frontendsOf(s: Service, ctx?: NodeContext): FrontendSpec[] {
  return planService(s, ctx).frontends;
}
