// ClusterIP and NodePort allocation for the manifests source, as the API server's allocators do it:
// - an explicit clusterIP must lie in the service range (not its network/broadcast address) and be
//   free; an explicit nodePort must lie in the NodePort range and be free for its protocol;
// - first come, first served: whoever holds an address or port (recorded in the state file, so it
//   survives restarts) keeps it, and a newcomer claiming it is refused with an error naming both;
//   newcomers in the same scan go by key order;
// - no Service may take a Pod's or a Node's address (known from the manifests);
// - Services without spec.clusterIP get one from the range (hash of the key, then probing), kept
//   across restarts.
// A refused Service is removed from the map and reported; it keeps what it held while it still
// claims it, so a temporarily broken holder cannot be robbed.
import { isIPv4 } from 'node:net';
import type { KubeService, ModelError } from './model.ts';
import { allocate, cidrUsable, type AllocationState, type Cidr, type PortRange } from './ipalloc.ts';

interface Claim { id: string; field: string; kind: 'clusterIPs' | 'nodePorts' }

export interface ServiceAllocOptions {
  serviceCidr: Cidr;
  nodePorts: PortRange;
  /** Addresses no Service may take: ip -> what has it ("Pod default/web-0", "Node node-a"). */
  reserved: Map<string, string>;
  onAllocated?: (service: string, ip: string) => void;
  onReallocated?: (service: string, oldIp: string) => void;
}

/**
 * Explicit claims of one Service (`dynamic`: it has no clusterIP of its own and needs one); null when
 * it takes no address (ExternalName, headless).
 */
function claimsOf(svc: KubeService): { list: Claim[]; dynamic: boolean } | null {
  const spec = svc.spec ?? {};
  if (spec.type === 'ExternalName') return null;
  const explicit = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  if (explicit[0] === 'None') return null;
  const field = spec.clusterIPs?.length ? 'spec.clusterIPs' : 'spec.clusterIP';
  const claims: Claim[] = [];
  explicit.forEach((ip, i) => {
    // malformed addresses are the model's to report; IPv6 ones are refused per part there
    if (typeof ip === 'string' && isIPv4(ip)) claims.push({ id: ip, field: spec.clusterIPs?.length ? `${field}[${i}]` : field, kind: 'clusterIPs' });
  });
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
  return { list: claims, dynamic: explicit.length === 0 };
}

/**
 * Assigns ClusterIPs and checks explicit addresses and NodePorts. Mutates `services` (refused ones
 * removed, allocated ClusterIPs filled in) and `st` (holders and allocations); appends errors.
 */
export function allocateServiceAddresses(services: Map<string, KubeService>, st: AllocationState, o: ServiceAllocOptions, errors: ModelError[]): void {
  const keys = [...services.keys()].sort();
  const claims = new Map<string, Claim[]>();
  const dynamicKeys = new Set<string>();
  for (const k of keys) {
    const c = claimsOf(services.get(k)!);
    if (c) claims.set(k, c.list);
    if (c?.dynamic) dynamicKeys.add(k);
  }
  const claimsNow = (key: string, kind: Claim['kind'], id: string): boolean => claims.get(key)?.some((c) => c.kind === kind && c.id === id) ?? false;
  const dynamic = (key: string): boolean => dynamicKeys.has(key);
  // Holds end when their holder is gone or no longer claims them.
  for (const kind of ['clusterIPs', 'nodePorts'] as const) {
    for (const [id, k] of Object.entries(st.held[kind])) if (!claimsNow(k, kind, id)) delete st.held[kind][id];
  }
  for (const k of Object.keys(st.services)) if (!services.has(k) || !dynamic(k)) delete st.services[k];
  const allocatedTo = new Map(Object.entries(st.services).map(([k, ip]) => [ip, k]));
  const holder = (c: Claim): string | undefined => st.held[c.kind][c.id] ?? (c.kind === 'clusterIPs' ? allocatedTo.get(c.id) : undefined);

  const refuse = (key: string, field: string, message: string): void => {
    errors.push({ kind: 'Service', object: key, field, message: `${message}; service refused` });
    services.delete(key);
  };
  function check(key: string, c: Claim): { field: string; message: string } | null {
    if (c.kind === 'clusterIPs') {
      if (!cidrUsable(o.serviceCidr, c.id)) return { field: c.field, message: `cluster IP ${c.id} is not in the service range ${o.serviceCidr.text}` };
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
  // Explicit cluster IPs first (so allocation avoids them), then the Services that need one.
  for (const [key, list] of claims) if (!dynamic(key)) admit(key, list);
  const taken = new Set<string>([...Object.keys(st.held.clusterIPs), ...o.reserved.keys()]);
  const needs: string[] = [];
  for (const [key, list] of claims) {
    if (!dynamic(key)) continue;
    const prev = st.services[key]; // kept even while refused, like any other hold
    if (prev && cidrUsable(o.serviceCidr, prev) && !taken.has(prev)) taken.add(prev);
    else if (prev) { o.onReallocated?.(key, prev); delete st.services[key]; }
    if (admit(key, list)) needs.push(key);
  }
  for (const key of needs) {
    let ip = st.services[key];
    if (!ip) {
      const a = allocate(o.serviceCidr, `svc:${key}`, taken);
      if (!a) { refuse(key, 'spec.clusterIP', `service range ${o.serviceCidr.text} exhausted`); continue; }
      ip = st.services[key] = a;
      taken.add(a);
      o.onAllocated?.(key, a);
    }
    const spec = (services.get(key)!.spec ??= {});
    spec.clusterIP = ip;
    spec.clusterIPs = [ip];
  }
}
