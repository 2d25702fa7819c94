// ClusterIP and NodePort allocation for the manifests source, as the API server's allocators do it:
// - IP families as the API server settles them (pkg/registry/core/service/storage/alloc.go): the
//   cluster is dual-stack when an IPv6 service range is configured (IPv4 primary), single-stack
//   otherwise. spec.ipFamilies follow spec.clusterIPs' families; two families (or two cluster IPs)
//   without a policy mean RequireDualStack; no policy means SingleStack; PreferDualStack and
//   RequireDualStack add the other family on a dual-stack cluster, and RequireDualStack is refused on
//   a single-stack one; a family the cluster has no range for is refused. The Service is then given
//   spec.ipFamilies, spec.ipFamilyPolicy, spec.clusterIPs (one per family, in ipFamilies' order) and
//   spec.clusterIP (the first), as the API server writes them;
// - an explicit clusterIP must lie in its family's service range (not its network address, nor
//   IPv4's broadcast address) and be free; an explicit nodePort must lie in the NodePort range and be
//   free for its protocol;
// - first come, first served: whoever holds an address or port (recorded in the state file, so it
//   survives restarts) keeps it, and a newcomer claiming it is refused with an error naming both;
//   newcomers in the same scan go by key order;
// - no Service may take a Pod's or a Node's address (known from the manifests);
// - each family a Service needs and has no explicit cluster IP of gets one from that family's range
//   (hash of the key, then probing), kept across restarts.
// A refused Service is removed from the map and reported; it keeps what it held while it still
// claims it, so a temporarily broken holder cannot be robbed.
import { canonicalIp, familyOf, type Family } from '../common/ip.ts';
import type { KubeService, ModelError } from './model.ts';
import { allocate, cidrUsable, type AllocationState, type Cidr, type PortRange } from './ipalloc.ts';

interface Claim { id: string; field: string; kind: 'clusterIPs' | 'nodePorts' }

export interface ServiceAllocOptions {
  /** The primary (IPv4) service range. */
  serviceCidr: Cidr;
  /** The IPv6 service range; none: a single-stack cluster. */
  serviceCidr6?: Cidr;
  nodePorts: PortRange;
  /** Addresses no Service may take: ip -> what has it ("Pod default/web-0", "Node node-a"). */
  reserved: Map<string, string>;
  onAllocated?: (service: string, ip: string) => void;
  onReallocated?: (service: string, oldIp: string) => void;
}

const FAMILY_NAME: Record<Family, string> = { 4: 'IPv4', 6: 'IPv6' };
const NAMED: Record<string, Family> = { IPv4: 4, IPv6: 6 };

interface Claims {
  list: Claim[];
  /** The Service's families, primary first, as the API server settles them. */
  families: Family[];
  policy: string;
  /** Families with no explicit cluster IP: allocated from their range. */
  needs: Family[];
  /** The explicit cluster IPs by family (canonical). */
  explicit: Map<Family, string>;
}

/**
 * Explicit claims and families of one Service; null when it takes no address (ExternalName,
 * headless); an error when the API server would refuse its families.
 */
function claimsOf(svc: KubeService, o: ServiceAllocOptions): Claims | { field: string; message: string } | null {
  const spec = svc.spec ?? {};
  if (spec.type === 'ExternalName') return null;
  const given = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  if (given[0] === 'None') return null;
  const field = spec.clusterIPs?.length ? 'spec.clusterIPs' : 'spec.clusterIP';
  const claims: Claim[] = [];
  const explicit = new Map<Family, string>();
  const ipFamilies: Family[] = [];
  for (const [i, raw] of given.entries()) {
    // malformed addresses are the model's to report
    const ip = canonicalIp(raw);
    if (ip === null) continue;
    const fam = familyOf(ip) as Family;
    const f = spec.clusterIPs?.length ? `${field}[${i}]` : field;
    if (explicit.has(fam)) return { field: f, message: `a second ${FAMILY_NAME[fam]} cluster IP (at most one per family)` };
    explicit.set(fam, ip);
    ipFamilies.push(fam);
    claims.push({ id: ip, field: f, kind: 'clusterIPs' });
  }
  // spec.ipFamilies: checked against the cluster IPs' families, then completes them.
  for (const [i, name] of (spec.ipFamilies ?? []).entries()) {
    const fam = NAMED[name];
    if (!fam) return { field: `spec.ipFamilies[${i}]`, message: `unknown family ${JSON.stringify(name)} (IPv4 or IPv6)` };
    if (i < ipFamilies.length && ipFamilies[i] !== fam) return { field: `spec.ipFamilies[${i}]`, message: `${name} but the cluster IP at this position is ${FAMILY_NAME[ipFamilies[i]!]}` };
    if (i >= ipFamilies.length) {
      if (ipFamilies.includes(fam)) return { field: `spec.ipFamilies[${i}]`, message: `${name} given twice` };
      ipFamilies.push(fam);
    }
  }
  let policy = spec.ipFamilyPolicy ?? (ipFamilies.length === 2 ? 'RequireDualStack' : 'SingleStack');
  if (!['SingleStack', 'PreferDualStack', 'RequireDualStack'].includes(policy)) return { field: 'spec.ipFamilyPolicy', message: `unknown policy ${JSON.stringify(policy)}` };
  if (policy === 'SingleStack' && ipFamilies.length > 1) return { field: 'spec.ipFamilyPolicy', message: 'SingleStack with two IP families' };
  const dualStack = !!o.serviceCidr6;
  if (policy === 'RequireDualStack' && !dualStack) return { field: 'spec.ipFamilyPolicy', message: 'RequireDualStack, but the cluster has no IPv6 service range (--service-cidr-v6)' };
  if (ipFamilies.length === 0) ipFamilies.push(o.serviceCidr.family);
  if (policy !== 'SingleStack' && dualStack && ipFamilies.length === 1) ipFamilies.push(ipFamilies[0] === 4 ? 6 : 4);
  const unconfigured = ipFamilies.find((f) => !rangeOf(o, f));
  if (unconfigured) return { field: 'spec.ipFamilies', message: `${FAMILY_NAME[unconfigured]} is not configured on this cluster (no ${FAMILY_NAME[unconfigured]} service range)` };
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
    (spec.ports ?? []).forEach((p, i) => {
      if (typeof p.nodePort === 'number' && Number.isInteger(p.nodePort) && p.nodePort !== 0) {
        claims.push({ id: `${p.nodePort}/${p.protocol ?? 'TCP'}`, field: `spec.ports[${i}].nodePort`, kind: 'nodePorts' });
      }
    });
    // The API server takes it from the same range (a TCP port): only an explicit one here, none is allocated.
    const hc = spec.healthCheckNodePort;
    if (spec.type === 'LoadBalancer' && typeof hc === 'number' && Number.isInteger(hc) && hc !== 0) claims.push({ id: `${hc}/TCP`, field: 'spec.healthCheckNodePort', kind: 'nodePorts' });
  }
  // A malformed address the model reports: nothing is allocated in its place.
  const needs = given.length > explicit.size ? [] : ipFamilies.filter((f) => !explicit.has(f));
  return { list: claims, families: ipFamilies, policy, needs, explicit };
}

function rangeOf(o: ServiceAllocOptions, f: Family): Cidr | undefined {
  return o.serviceCidr.family === f ? o.serviceCidr : o.serviceCidr6?.family === f ? o.serviceCidr6 : undefined;
}

/**
 * Assigns ClusterIPs and checks explicit addresses and NodePorts. Mutates `services` (refused ones
 * removed, families settled and ClusterIPs filled in) and `st` (holders and allocations); appends errors.
 */
export function allocateServiceAddresses(services: Map<string, KubeService>, st: AllocationState, o: ServiceAllocOptions, errors: ModelError[]): void {
  const keys = [...services.keys()].sort();
  const claims = new Map<string, Claims>();
  const refuse = (key: string, field: string, message: string): void => {
    errors.push({ kind: 'Service', object: key, field, message: `${message}; service refused` });
    services.delete(key);
  };
  for (const k of keys) {
    const c = claimsOf(services.get(k)!, o);
    if (c && 'message' in c) refuse(k, c.field, c.message);
    else if (c) claims.set(k, c);
  }
  const dynamicOf = (f: Family): Record<string, string> => (f === 4 ? st.services : (st.services6 ??= {}));
  const claimsNow = (key: string, kind: Claim['kind'], id: string): boolean => claims.get(key)?.list.some((c) => c.kind === kind && c.id === id) ?? false;
  const needs = (key: string, f: Family): boolean => claims.get(key)?.needs.includes(f) ?? false;
  // Holds end when their holder is gone or no longer claims them.
  for (const kind of ['clusterIPs', 'nodePorts'] as const) {
    for (const [id, k] of Object.entries(st.held[kind])) if (!claimsNow(k, kind, id)) delete st.held[kind][id];
  }
  const allocatedTo = new Map<string, string>();
  for (const f of [4, 6] as const) {
    const dyn = dynamicOf(f);
    for (const k of Object.keys(dyn)) if (!services.has(k) || !needs(k, f)) delete dyn[k];
    for (const [k, ip] of Object.entries(dyn)) allocatedTo.set(ip, k);
  }
  const holder = (c: Claim): string | undefined => st.held[c.kind][c.id] ?? (c.kind === 'clusterIPs' ? allocatedTo.get(c.id) : undefined);

  function check(key: string, c: Claim): { field: string; message: string } | null {
    if (c.kind === 'clusterIPs') {
      const range = rangeOf(o, familyOf(c.id) as Family);
      if (!range) return { field: c.field, message: `cluster IP ${c.id}: the cluster has no ${FAMILY_NAME[familyOf(c.id) as Family]} service range` };
      if (!cidrUsable(range, c.id)) return { field: c.field, message: `cluster IP ${c.id} is not in the service range ${range.text}` };
      const r = o.reserved.get(c.id);
      if (r) return { field: c.field, message: `cluster IP ${c.id} is the address of ${r}` };
    } else {
      const port = Number(c.id.split('/')[0]);
      if (port < o.nodePorts.min || port > o.nodePorts.max) return { field: c.field, message: `nodePort ${port} is not in the NodePort range ${o.nodePorts.text}` };
    }
    const h = holder(c);
    if (h !== undefined && h !== key) return { field: c.field, message: `${c.kind === 'clusterIPs' ? 'cluster IP' : 'nodePort'} ${c.id} is already allocated to Service ${h} (first come, first served)` };
    return null;
  }
  /** Checks every claim of a Service; on success it holds them all. */
  const admit = (key: string, list: Claim[]): boolean => {
    const bad = list.map((c) => check(key, c)).find((m) => m !== null);
    if (bad) { refuse(key, bad.field, bad.message); return false; }
    for (const c of list) st.held[c.kind][c.id] = key;
    return true;
  };
  // Services needing nothing allocated first (so allocation avoids their addresses), then the others.
  const admitted: string[] = [];
  for (const [key, c] of claims) if (c.needs.length === 0 && admit(key, c.list)) admitted.push(key);
  const taken = new Set<string>([...Object.keys(st.held.clusterIPs), ...o.reserved.keys()]);
  const needy: string[] = [];
  for (const [key, c] of claims) {
    if (c.needs.length === 0) continue;
    for (const f of c.needs) {
      const dyn = dynamicOf(f);
      const prev = dyn[key]; // kept even while refused, like any other hold
      if (prev && cidrUsable(rangeOf(o, f)!, prev) && !taken.has(prev)) taken.add(prev);
      else if (prev) { o.onReallocated?.(key, prev); delete dyn[key]; }
    }
    if (admit(key, c.list)) needy.push(key);
  }
  for (const key of needy) {
    const c = claims.get(key)!;
    let exhausted = false;
    for (const f of c.needs) {
      const dyn = dynamicOf(f);
      if (dyn[key]) continue;
      const range = rangeOf(o, f)!;
      const a = allocate(range, `svc:${key}`, taken);
      if (!a) { refuse(key, 'spec.clusterIP', `service range ${range.text} exhausted`); exhausted = true; break; }
      dyn[key] = a;
      taken.add(a);
      o.onAllocated?.(key, a);
    }
    if (!exhausted) admitted.push(key);
  }
  for (const key of admitted) {
    const c = claims.get(key)!;
    const spec = (services.get(key)!.spec ??= {});
    const ips = c.families.map((f) => c.explicit.get(f) ?? dynamicOf(f)[key]);
    if (ips.some((ip) => ip === undefined)) continue; // a malformed explicit address: left for the model to report
    spec.clusterIPs = ips as string[];
    spec.clusterIP = ips[0];
    spec.ipFamilies = c.families.map((f) => FAMILY_NAME[f]);
    spec.ipFamilyPolicy = c.policy;
  }
}
