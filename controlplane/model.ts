// The service model: pure functions from Kubernetes Service + EndpointSlice objects to the
// per-node `sluice.v1.Service` messages (`Service`, derived from the proto in proto/contract.ts),
// following kube-proxy's semantics. Errors are data. This is where a Service is validated and its
// defaults (the affinity timeout) applied: the agent trusts what it receives, up to its datapath's limits.
//
// Rules (see docs/control-plane.md):
// - Services: ClusterIP, NodePort, LoadBalancer. Headless (clusterIP None) and ExternalName are ignored.
// - Malformed data (bad IP, bad port, unknown protocol/type, duplicate port) drops the whole object
//   and reports {kind, object, field, message}. Unsupported-but-valid parts (SCTP ports) are refused
//   per part: the part is dropped and reported, the rest of the object is kept.
// - Both IP families, as kube-proxy serves them (one proxier per family, pkg/proxy/metaproxier): a
//   Service serves a family exactly when it has a cluster IP of it (spec.clusterIPs, one per family,
//   primary first); its externalIPs, LoadBalancer ingress IPs and loadBalancerSourceRanges of that
//   family go with it, those of a family it does not serve are left out without an error (kube-proxy
//   only logs them: with dual-stack they are expected). spec.ipFamilies and spec.ipFamilyPolicy are
//   checked against the cluster IPs as the API server guarantees them. Addresses are carried in the
//   contract's canonical text (common/ip.ts).
// - EndpointSlices feed the family of their addressType (IPv4 or IPv6; FQDN slices are not used, as
//   in kube-proxy); an address of the other family in a slice is refused alone. Endpoint sets are
//   computed per family (each proxier categorizes its own family's endpoints).
// - Endpoints come from the EndpointSlices labelled kubernetes.io/service-name=<service>; a Service
//   port takes its per-endpoint port from the slice port with the same name and protocol (the slice
//   holds the already-resolved targetPort). An endpoint whose slice lacks that port is omitted for it.
// - Conditions: ready unset = ready; serving unset = serving; terminating unset = false (kube-proxy's
//   endpointslicecache).
// - Per node, each endpoint is placed in kube-proxy's sets (topology.ts: CategorizeEndpoints, with
//   topology hints and the node's zone); the message carries the union, each endpoint flagged with
//   its sets (internal / external / cluster).
// - Label filters as kube-proxy's informers: Services and EndpointSlices labelled
//   service.kubernetes.io/service-proxy-name (any value) or service.kubernetes.io/headless are not
//   proxied. LoadBalancer ingress with ipMode Proxy is not an LB IP of this node.
import { canonicalIp, cidrText, compareIps, familyOf, ipProblem, parseCidr, type Family } from '../common/ip.ts';
import type { Endpoint, Service, ServicePort } from '../proto/contract.ts';
import { categorizeEndpoints, type NodeTopology } from './topology.ts';

export interface ModelError {
  kind: string; // Service | EndpointSlice | Pod | Deployment | File
  object: string; // namespace/name (or a file path)
  field: string;
  message: string;
}

// Minimal structural views of the Kubernetes objects (both the raw JSON from a watch and the typed
// objects from client-node's ObjectSerializer fit these).
export interface KubeMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: unknown;
}
export interface KubeServicePort {
  name?: string;
  protocol?: string;
  port?: unknown;
  targetPort?: unknown;
  nodePort?: unknown;
}
export interface KubeService {
  kind?: string;
  apiVersion?: string;
  metadata?: KubeMeta;
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    ports?: KubeServicePort[];
    selector?: Record<string, string>;
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: unknown } };
    internalTrafficPolicy?: string;
    externalTrafficPolicy?: string;
    externalIPs?: string[];
    externalName?: string;
    loadBalancerSourceRanges?: unknown[];
    trafficDistribution?: string;
    healthCheckNodePort?: unknown;
  };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string; ipMode?: string }[] } };
}
export interface KubeEndpointSlice {
  kind?: string;
  apiVersion?: string;
  metadata?: KubeMeta;
  addressType?: string;
  endpoints?: {
    addresses?: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    nodeName?: string;
    zone?: string;
    hints?: { forZones?: { name?: string }[]; forNodes?: { name?: string }[] };
    targetRef?: { kind?: string; namespace?: string; name?: string };
  }[];
  ports?: { name?: string; protocol?: string; port?: unknown }[];
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** kube-proxy's informers skip objects carrying either label (any value). */
export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
export const NOT_PROXIED_SELECTOR = `!${SERVICE_PROXY_NAME_LABEL},!${HEADLESS_LABEL}`;

/** Not kube-proxy's to program (another proxy's, or a headless service's slices). */
export function notProxied(meta: KubeMeta | undefined): boolean {
  const l: unknown = meta?.labels;
  return typeof l === 'object' && l !== null && (Object.hasOwn(l, SERVICE_PROXY_NAME_LABEL) || Object.hasOwn(l, HEADLESS_LABEL));
}

/**
 * An endpoint of the node-independent model: the contract's Endpoint without the per-node set flags
 * (internal / external / cluster: projectForNode sets them), plus its topology hints.
 */
export interface ModelEndpoint extends Omit<Endpoint, 'internal' | 'external' | 'cluster'> {
  zoneHints: string[];
  nodeHints: string[];
}
export interface ModelPort extends Omit<ServicePort, 'endpoints'> {
  endpoints: ModelEndpoint[];
}
/** The node-independent model of one Service (projectForNode turns it into one node's message). */
export interface ServiceModel extends Omit<Service, 'ports'> {
  ports: ModelPort[];
}
export const DEFAULT_AFFINITY_TIMEOUT = 10800;
const MAX_AFFINITY_TIMEOUT = 86400;

export function objectKey(meta: KubeMeta | undefined): string {
  return `${meta?.namespace || 'default'}/${meta?.name ?? ''}`;
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

// ---------------------------------------------------------------------------------------------
// EndpointSlices

export interface ParsedSlice {
  key: string; // namespace/name of the slice
  service: string; // namespace/service-name, '' when the label is missing
  /** addressType's family; 0 for a slice whose endpoints are not used (FQDN, unknown, not proxied). */
  family: 0 | Family;
  ports: { name: string; protocol: string; port: number }[];
  /**
   * Endpoints, with `port` set to the slice's port when it has exactly one (0 otherwise): the model
   * of a service then shares these objects instead of copying each endpoint per port.
   */
  endpoints: ModelEndpoint[];
  errors: ModelError[];
}

/** Shared by every endpoint without hints (never mutated: models are read-only once built). */
export const NO_HINTS: string[] = Object.freeze([]) as unknown as string[];

/**
 * `a` as an array of exactly its length, for arrays kept in the store. V8 grows an array built
 * by push() to 17 slots at its first element and never trims it: 184 bytes for one cluster IP or
 * one port, 136 once copied (issue 14: five such arrays per service).
 */
function exact<T>(a: T[]): T[] {
  return a.length === 0 ? a : a.slice();
}

/** Validates one EndpointSlice. Bad endpoints/ports are dropped individually and reported. */
export function parseSlice(slice: KubeEndpointSlice): ParsedSlice {
  const key = objectKey(slice.metadata);
  const errors: ModelError[] = [];
  const err = (field: string, message: string): void => {
    errors.push({ kind: 'EndpointSlice', object: key, field, message });
  };
  const svcName = slice.metadata?.labels?.[SERVICE_NAME_LABEL] ?? '';
  const out: ParsedSlice = { key, service: svcName ? `${slice.metadata?.namespace || 'default'}/${svcName}` : '', family: 0, ports: [], endpoints: [], errors };
  if (!slice.metadata?.name) err('metadata.name', 'missing name');
  if (notProxied(slice.metadata)) return { ...out, service: '' };
  const family = ADDRESS_TYPES[slice.addressType ?? ''];
  if (!family) {
    if (slice.addressType !== 'FQDN') err('addressType', `unsupported addressType ${JSON.stringify(slice.addressType)}; slice ignored`);
    return out; // FQDN slices are not used by kube-proxy either
  }
  out.family = family;
  (slice.ports ?? []).forEach((p, i) => {
    const protocol = p.protocol ?? 'TCP';
    if (protocol === 'SCTP') { err(`ports[${i}].protocol`, 'SCTP is not supported; port ignored'); return; }
    if (protocol !== 'TCP' && protocol !== 'UDP') { err(`ports[${i}].protocol`, `unknown protocol ${JSON.stringify(protocol)}; port ignored`); return; }
    if (p.port === undefined || p.port === null) return; // "all ports": not meaningful for services
    if (!isPort(p.port)) { err(`ports[${i}].port`, `invalid port ${JSON.stringify(p.port)}; port ignored`); return; }
    out.ports.push({ name: p.name ?? '', protocol, port: p.port });
  });
  (slice.endpoints ?? []).forEach((e, i) => {
    const raw = e.addresses?.[0];
    if (raw === undefined) { err(`endpoints[${i}].addresses`, 'no address; endpoint ignored'); return; }
    const ip = canonicalIp(raw);
    if (ip === null) { err(`endpoints[${i}].addresses[0]`, `${ipProblem(raw)}; endpoint ignored`); return; }
    const fam = familyOf(ip);
    if (fam !== family) { err(`endpoints[${i}].addresses[0]`, `IPv${fam} address ${ip} in an ${slice.addressType} slice; endpoint ignored`); return; }
    const c = e.conditions ?? {};
    const ready = c.ready ?? true;
    const serving = c.serving ?? true;
    const terminating = c.terminating ?? false;
    const t = e.targetRef;
    // join() makes one flat string; a template literal would keep a chain of concatenations (72 bytes, not 40).
    const targetRef = t?.name ? [t.kind ?? 'Pod', t.namespace ?? slice.metadata?.namespace ?? 'default', t.name].join('/') : '';
    const names = (l: { name?: string }[] | undefined): string[] => (l && l.length > 0 ? [...new Set(l.flatMap((h) => (h.name ? [h.name] : [])))].sort() : NO_HINTS);
    out.endpoints.push({
      ip, family, port: 0, ready, serving, terminating, nodeName: e.nodeName ?? '', targetRef,
      zoneHints: names(e.hints?.forZones), nodeHints: names(e.hints?.forNodes),
    });
  });
  if (out.ports.length === 1) for (const e of out.endpoints) e.port = out.ports[0]!.port;
  out.ports = exact(out.ports);
  out.endpoints = exact(out.endpoints);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Services

export interface ServiceResult {
  /** Node-independent model: every endpoint of every slice (all conditions), merged, sorted. */
  model: ServiceModel | null;
  errors: ModelError[];
  /** true when the object is intentionally not modelled (headless, ExternalName, another proxy's). */
  ignored: boolean;
}

/** EndpointSlice addressType -> the family it feeds. */
const ADDRESS_TYPES: Record<string, Family> = { IPv4: 4, IPv6: 6 };
const FAMILY_NAMES: Record<string, Family> = { IPv4: 4, IPv6: 6 };
const POLICIES = new Set(['SingleStack', 'PreferDualStack', 'RequireDualStack']);

/** Addresses of both families, canonical, without repeats; a malformed one is fatal. */
function ipList(list: unknown, field: string, err: (f: string, m: string) => void, fatal: { v: boolean }): string[] {
  const out: string[] = [];
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) { err(field, 'not a list'); fatal.v = true; return out; }
  list.forEach((raw: unknown, i) => {
    const ip = canonicalIp(raw);
    if (ip === null) { err(`${field}[${i}]`, ipProblem(raw)); fatal.v = true; return; }
    if (!out.includes(ip)) out.push(ip);
  });
  return out;
}

/**
 * CIDRs of both families, canonical (host bits cleared). A malformed entry is fatal: dropping it
 * silently would widen who may reach the service.
 */
function cidrList(list: unknown, field: string, err: (f: string, m: string) => void, fatal: { v: boolean }): string[] {
  const out: string[] = [];
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) { err(field, 'not a list'); fatal.v = true; return out; }
  list.forEach((raw: unknown, i) => {
    const c = parseCidr(raw);
    if (!c) { err(`${field}[${i}]`, `malformed CIDR ${JSON.stringify(raw)}`); fatal.v = true; return; }
    const text = cidrText(c);
    if (!out.includes(text)) out.push(text);
  });
  return out;
}

/**
 * The cluster IPs (spec.clusterIPs, or spec.clusterIP alone), checked as the API server guarantees
 * them: at most one per family, spec.clusterIP equal to the first, spec.ipFamilies naming each one's
 * family in the same order, spec.ipFamilyPolicy known and SingleStack holding one. Returns the
 * canonical list (primary first); null when there is none.
 */
function clusterIpsOf(spec: NonNullable<KubeService['spec']>, err: (f: string, m: string) => void, fatal: { v: boolean }): string[] | null {
  let ips: string[];
  if (spec.clusterIPs && spec.clusterIPs.length > 0) {
    ips = ipList(spec.clusterIPs, 'spec.clusterIPs', err, fatal);
    if (spec.clusterIPs.length > 2) { err('spec.clusterIPs', `${spec.clusterIPs.length} entries (at most one per family)`); fatal.v = true; }
    if (spec.clusterIP && canonicalIp(spec.clusterIP) !== ips[0]) { err('spec.clusterIP', `${spec.clusterIP} differs from spec.clusterIPs[0]`); fatal.v = true; }
  } else if (spec.clusterIP) {
    ips = ipList([spec.clusterIP], 'spec.clusterIP', err, fatal);
  } else {
    err('spec.clusterIP', 'no cluster IP');
    return null;
  }
  const fams = ips.map(familyOf);
  if (fams.length === 2 && fams[0] === fams[1]) { err('spec.clusterIPs', `two IPv${fams[0]} cluster IPs (at most one per family)`); fatal.v = true; }
  const want = spec.ipFamilies;
  if (want !== undefined && want !== null) {
    want.forEach((f, i) => {
      if (!(f in FAMILY_NAMES)) { err(`spec.ipFamilies[${i}]`, `unknown family ${JSON.stringify(f)} (IPv4 or IPv6)`); fatal.v = true; return; }
      if (want.indexOf(f) !== i) { err(`spec.ipFamilies[${i}]`, `${f} given twice`); fatal.v = true; return; }
      if (i < fams.length && fams[i] !== FAMILY_NAMES[f]) { err(`spec.ipFamilies[${i}]`, `${f} but the cluster IP at this position is ${ips[i]}`); fatal.v = true; }
    });
  }
  const policy = spec.ipFamilyPolicy;
  if (policy !== undefined && policy !== null) {
    if (!POLICIES.has(policy)) { err('spec.ipFamilyPolicy', `unknown policy ${JSON.stringify(policy)}`); fatal.v = true; }
    else if (policy === 'SingleStack' && ips.length > 1) { err('spec.ipFamilyPolicy', 'SingleStack with a cluster IP of each family'); fatal.v = true; }
  }
  return ips;
}

/** Builds the node-independent model of one Service from its (already parsed) slices. */
export function buildService(svc: KubeService, slices: Iterable<ParsedSlice>): ServiceResult {
  const key = objectKey(svc.metadata);
  const errors: ModelError[] = [];
  const err = (field: string, message: string): void => {
    errors.push({ kind: 'Service', object: key, field, message });
  };
  const fatal = { v: false };
  const spec = svc.spec ?? {};
  const type = spec.type ?? 'ClusterIP';
  if (!svc.metadata?.name) { err('metadata.name', 'missing name'); return { model: null, errors, ignored: false }; }
  if (type === 'ExternalName' || notProxied(svc.metadata)) return { model: null, errors, ignored: true };
  if (spec.clusterIP === 'None' || spec.clusterIPs?.[0] === 'None') return { model: null, errors, ignored: true };
  if (type !== 'ClusterIP' && type !== 'NodePort' && type !== 'LoadBalancer') {
    err('spec.type', `unknown type ${JSON.stringify(type)}`);
    return { model: null, errors, ignored: false };
  }

  const errCount = errors.length;
  const clusterIps = clusterIpsOf(spec, err, fatal);
  if (!clusterIps) return { model: null, errors, ignored: false };
  // spec.clusterIP alone: its error names that field, not a list entry.
  if (!spec.clusterIPs?.length) for (const e of errors.slice(errCount)) if (e.field === 'spec.clusterIP[0]') e.field = 'spec.clusterIP';
  /** Families served, primary first: an address of another family is left out (kube-proxy's filter). */
  const families = clusterIps.map(familyOf).filter((f): f is Family => f !== 0);
  const served = (ip: string) => families.includes(familyOf(ip) as Family);

  const ports: ModelPort[] = [];
  const seen = new Set<string>();
  const rawPorts = spec.ports ?? [];
  rawPorts.forEach((p, i) => {
    const protocol = p.protocol ?? 'TCP';
    if (protocol === 'SCTP') { err(`spec.ports[${i}].protocol`, 'SCTP is not supported; port ignored'); return; }
    if (protocol !== 'TCP' && protocol !== 'UDP') { err(`spec.ports[${i}].protocol`, `unknown protocol ${JSON.stringify(protocol)}`); fatal.v = true; return; }
    if (!isPort(p.port)) { err(`spec.ports[${i}].port`, `invalid port ${JSON.stringify(p.port)}`); fatal.v = true; return; }
    const tp = p.targetPort;
    if (tp !== undefined && tp !== null && !isPort(tp) && !(typeof tp === 'string' && /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(tp) && /[a-z]/.test(tp))) {
      err(`spec.ports[${i}].targetPort`, `invalid targetPort ${JSON.stringify(tp)}`); fatal.v = true; return;
    }
    const nodePort = p.nodePort ?? 0;
    if (nodePort !== 0 && !isPort(nodePort)) { err(`spec.ports[${i}].nodePort`, `invalid nodePort ${JSON.stringify(nodePort)}`); fatal.v = true; return; }
    const name = p.name ?? '';
    if (rawPorts.length > 1 && !name) { err(`spec.ports[${i}].name`, 'name is required when a Service has several ports'); fatal.v = true; return; }
    const id = `${p.port}/${protocol}`;
    if (seen.has(id) || seen.has(`name:${name}`)) { err(`spec.ports[${i}]`, `duplicate port ${id} or name ${JSON.stringify(name)}`); fatal.v = true; return; }
    seen.add(id); seen.add(`name:${name}`);
    ports.push({ name, protocol, port: p.port, nodePort: type === 'ClusterIP' ? 0 : (nodePort as number), endpoints: [] });
  });

  const affinity = spec.sessionAffinity === 'ClientIP';
  let affinityTimeout = 0;
  if (affinity) {
    const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_AFFINITY_TIMEOUT) {
      err('spec.sessionAffinityConfig.clientIP.timeoutSeconds', `invalid timeout ${JSON.stringify(t)} (1..${MAX_AFFINITY_TIMEOUT})`); fatal.v = true;
    } else affinityTimeout = t;
  } else if (spec.sessionAffinity !== undefined && spec.sessionAffinity !== 'None') {
    err('spec.sessionAffinity', `unknown sessionAffinity ${JSON.stringify(spec.sessionAffinity)}`); fatal.v = true;
  }
  for (const [f, v] of [['spec.internalTrafficPolicy', spec.internalTrafficPolicy], ['spec.externalTrafficPolicy', spec.externalTrafficPolicy]] as const) {
    if (v !== undefined && v !== 'Cluster' && v !== 'Local') { err(f, `unknown policy ${JSON.stringify(v)}`); fatal.v = true; }
  }
  const externalIps = ipList(spec.externalIPs, 'spec.externalIPs', err, fatal).filter(served);
  const lbIps: string[] = [];
  (svc.status?.loadBalancer?.ingress ?? []).forEach((ing, i) => {
    if (!ing.ip) return; // hostname-only ingress: nothing to program
    // ipMode Proxy: the load balancer proxies to the nodes, packets never carry this IP (kube-proxy skips it)
    if (ing.ipMode === 'Proxy') return;
    const ip = canonicalIp(ing.ip);
    if (ip === null) { err(`status.loadBalancer.ingress[${i}].ip`, ipProblem(ing.ip)); fatal.v = true; return; }
    if (served(ip) && !lbIps.includes(ip)) lbIps.push(ip);
  });

  const sourceRanges = cidrList(spec.loadBalancerSourceRanges, 'spec.loadBalancerSourceRanges', err, fatal)
    .filter((c) => served(c.slice(0, c.lastIndexOf('/'))));

  if (fatal.v) return { model: null, errors, ignored: false };

  // Endpoints: merge slices, de-duplicate by ip:port (keeping the "best" conditions), sort.
  for (const port of ports) {
    const byAddr = new Map<string, ModelEndpoint>();
    for (const s of slices) {
      if (!families.includes(s.family as Family)) continue; // a family the service does not serve
      const sp = s.ports.find((x) => x.name === port.name && x.protocol === port.protocol);
      if (!sp) continue; // the slice's endpoints lack this port
      for (const e of s.endpoints) {
        const ep: ModelEndpoint = e.port === sp.port ? e : { ...e, port: sp.port };
        const k = `${e.ip}:${sp.port}`;
        const prev = byAddr.get(k);
        if (!prev || rank(ep) > rank(prev)) byAddr.set(k, ep);
      }
    }
    port.endpoints = [...byAddr.values()].sort(compareEndpoints);
  }

  const model: ServiceModel = {
    namespace: svc.metadata.namespace || 'default',
    name: svc.metadata.name,
    type,
    clusterIps: exact(clusterIps),
    ports: exact(ports),
    affinityClientIp: affinity,
    affinityTimeoutSeconds: affinityTimeout,
    internalTrafficLocal: spec.internalTrafficPolicy === 'Local',
    externalTrafficLocal: spec.externalTrafficPolicy === 'Local' && (type !== 'ClusterIP' || externalIps.length > 0),
    externalIps: exact(externalIps),
    loadBalancerIps: type === 'LoadBalancer' ? exact(lbIps) : [],
    loadBalancerSourceRanges: type === 'LoadBalancer' ? exact(sourceRanges) : [],
    // kube-proxy serves it only for LoadBalancer services with externalTrafficPolicy Local.
    healthCheckNodePort: type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local' && isPort(spec.healthCheckNodePort) ? spec.healthCheckNodePort : 0,
    lastChangeTriggerTime: '', // filled by the store from the slices' annotations
    ipFamilies: exact(families),
    ipFamilyPolicy: spec.ipFamilyPolicy ?? '',
  };
  return { model, errors, ignored: false };
}

function rank(e: Pick<Endpoint, 'ready' | 'serving' | 'terminating'>): number {
  return (e.ready ? 4 : 0) + (e.serving ? 2 : 0) + (e.terminating ? 0 : 1);
}

/** IPv4 first, then by address and port. */
function compareEndpoints(a: Pick<Endpoint, 'ip' | 'port'>, b: Pick<Endpoint, 'ip' | 'port'>): number {
  return compareIps(a.ip, b.ip) || a.port - b.port;
}

/** A model whose per-node message differs between nodes (policy Local, or topology hints). */
export function dependsOnNode(model: ServiceModel): boolean {
  return model.internalTrafficLocal || model.externalTrafficLocal || usesHints(model);
}

export function usesHints(model: ServiceModel): boolean {
  return model.ports.some((p) => p.endpoints.some((e) => e.zoneHints.length > 0 || e.nodeHints.length > 0));
}

/**
 * The message for one node: per port, the union of kube-proxy's endpoint sets on that node (in the
 * model's order: by address), each endpoint flagged with the sets it is in.
 */
export function projectForNode(model: ServiceModel, node: NodeTopology | string): Service {
  const n = typeof node === 'string' ? { name: node, zone: '' } : node;
  const policy = { internalLocal: model.internalTrafficLocal, externalLocal: model.externalTrafficLocal };
  return {
    ...model,
    ports: model.ports.map((p) => {
      // Per family, as each of kube-proxy's proxiers categorizes only its own family's endpoints
      // (an IPv4 endpoint being ready says nothing about the IPv6 frontends' fallback or hints).
      const internal = new Set<ModelEndpoint>(), external = new Set<ModelEndpoint>(), cluster = new Set<ModelEndpoint>();
      for (const fam of model.ipFamilies) {
        const sets = categorizeEndpoints(p.endpoints.filter((e) => e.family === fam), policy, n);
        for (const e of sets.internal) internal.add(e);
        for (const e of sets.external) external.add(e);
        for (const e of sets.cluster) cluster.add(e);
      }
      const endpoints: Endpoint[] = [];
      for (const e of p.endpoints) {
        if (!internal.has(e) && !external.has(e) && !cluster.has(e)) continue;
        const { zoneHints: _z, nodeHints: _n, ...ep } = e;
        endpoints.push({ ...ep, internal: internal.has(e), external: external.has(e), cluster: cluster.has(e) });
      }
      return { ...p, endpoints };
    }),
  };
}

/** Convenience for callers holding plain lists: the services (sorted by key) for one node. */
export function buildNodeServices(services: KubeService[], slices: KubeEndpointSlice[], node: NodeTopology | string): { services: Service[]; errors: ModelError[] } {
  const errors: ModelError[] = [];
  const byService = new Map<string, ParsedSlice[]>();
  for (const s of slices) {
    const p = parseSlice(s);
    errors.push(...p.errors);
    if (!p.service) continue;
    const list = byService.get(p.service) ?? [];
    list.push(p);
    byService.set(p.service, list);
  }
  const out: Service[] = [];
  for (const svc of services) {
    const r = buildService(svc, byService.get(objectKey(svc.metadata)) ?? []);
    errors.push(...r.errors);
    if (r.model) out.push(projectForNode(r.model, node));
  }
  out.sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
  return { services: out, errors };
}

/** Deep equality of two models (plain data: objects, arrays, strings, numbers, booleans). */
export function sameModel(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameModel(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !sameModel((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** Names of the nodes a model mentions (endpoints' nodeName, node hints): only these nodes can have a view of their own. */
export function nodesNamed(model: ServiceModel): Set<string> {
  const out = new Set<string>();
  for (const p of model.ports) for (const e of p.endpoints) {
    if (e.nodeName) out.add(e.nodeName);
    for (const n of e.nodeHints) out.add(n);
  }
  return out;
}

/**
 * Which nodes share a message (projectForNode depends on the node only through these): a node the
 * model does not mention sees what every such node of its zone sees (every such node, without hints).
 */
export function viewClass(named: ReadonlySet<string>, hinted: boolean, node: NodeTopology): string {
  const zone = hinted ? `z:${node.zone}` : '';
  return named.has(node.name) ? `n:${node.name}/${zone}` : zone;
}
