// The manifests source: a directory of YAML files (multi-document) holding Services,
// EndpointSlices, Pods and Deployments, watched for changes (fs.watch + debounce, plus a periodic
// rescan as a safety net). Every scan rebuilds the full desired content and hands it to the store,
// which only propagates what changed.
//
// - Services without spec.clusterIP get one from the service CIDR, persisted in a state file so it
//   is stable across restarts and never duplicated (explicit ClusterIPs win over allocated ones).
// - Deployments expand into Pods <name>-<i> (i = 0..replicas-1) with the template's labels and
//   containers. Pod IP: the i-th entry of annotation sluice.io/pod-ips ("10.244.1.2,10.244.2.3"),
//   else one allocated from the pod CIDR (persisted too). Node: the (i mod n)-th entry of annotation
//   sluice.io/node ("node-a,node-b"), else spec.template.spec.nodeName.
// - Endpoints are derived as the EndpointSlice controller would: Pods in the Service's namespace
//   whose labels match its selector, with status.podIP and spec.nodeName; ready = Ready condition
//   (a hand-written Pod without conditions counts as ready unless its phase says otherwise),
//   deletionTimestamp set = terminating (ready false, serving = Ready). Named targetPorts resolve to
//   the Pod's container port of that name; Pods resolving to different port numbers land in
//   different slices, and a Pod lacking a named port gets no endpoint for that service port.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { parseAllDocuments } from 'yaml';
import type { Logger } from 'pino';
import type { StateStore } from './store.ts';
import { SERVICE_NAME_LABEL, objectKey, type KubeEndpointSlice, type KubeMeta, type KubeService, type ModelError } from './model.ts';
import { StateFile, allocate, cidrContains, parseCidr, type Cidr } from './ipalloc.ts';

export const POD_IPS_ANNOTATION = 'sluice.io/pod-ips';
export const NODE_ANNOTATION = 'sluice.io/node';

interface ContainerPort { name?: string; containerPort?: number; protocol?: string }
interface PodSpec { nodeName?: string; containers?: { name?: string; ports?: ContainerPort[] }[] }
export interface KubePod {
  kind?: string;
  metadata?: KubeMeta;
  spec?: PodSpec;
  status?: { podIP?: string; phase?: string; conditions?: { type?: string; status?: string }[] };
}
interface KubeDeployment {
  kind?: string;
  metadata?: KubeMeta;
  spec?: { replicas?: number; template?: { metadata?: KubeMeta; spec?: PodSpec } };
}

export interface ManifestsSourceOptions {
  dir: string;
  store: StateStore;
  logger: Logger;
  /** Default: <parent of dir>/<basename of dir>.sluice-state.json (outside the watched dir). */
  stateFile?: string;
  serviceCidr?: string;
  podCidr?: string;
  rescanIntervalMs?: number;
  debounceMs?: number;
  onSourceError?: () => void;
}

export function defaultStateFile(dir: string): string {
  const abs = path.resolve(dir);
  return path.join(path.dirname(abs), `${path.basename(abs)}.sluice-state.json`);
}

interface FileCache { text: string; docs: unknown[] }

export class ManifestsSource {
  private readonly opts: ManifestsSourceOptions;
  private readonly log: Logger;
  private readonly serviceCidr: Cidr;
  private readonly podCidr: Cidr;
  readonly stateFile: StateFile;
  private readonly files = new Map<string, FileCache>();
  private watcher: fs.FSWatcher | null = null;
  private interval: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private stopped = false;
  private reportedKeys = new Set<string>();
  scans = 0;

  constructor(opts: ManifestsSourceOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.serviceCidr = parseCidr(opts.serviceCidr ?? '10.96.0.0/12');
    this.podCidr = parseCidr(opts.podCidr ?? '10.244.0.0/16');
    this.stateFile = new StateFile(opts.stateFile ?? defaultStateFile(opts.dir), this.serviceCidr.text, this.podCidr.text);
  }

  /** Scans once (the store is then synced) and starts watching. */
  start(): void {
    if (!fs.statSync(this.opts.dir).isDirectory()) throw new Error(`manifests: ${this.opts.dir} is not a directory`);
    this.scan();
    this.opts.store.markSynced();
    try {
      this.watcher = fs.watch(this.opts.dir, () => this.schedule());
      this.watcher.on('error', (e) => this.log.warn({ dir: this.opts.dir, err: e.message }, 'manifests: fs.watch failed; relying on periodic rescans'));
    } catch (e) {
      this.log.warn({ dir: this.opts.dir, err: (e as Error).message }, 'manifests: fs.watch unavailable; relying on periodic rescans');
    }
    this.interval = setInterval(() => this.scan(), this.opts.rescanIntervalMs ?? 10_000);
    this.interval.unref();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.interval) clearInterval(this.interval);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => { this.debounce = null; this.scan(); }, this.opts.debounceMs ?? 100);
  }

  /** Reads the directory and replaces the store's content. Synchronous: never runs twice at once. */
  scan(): void {
    if (this.stopped) return;
    this.scans++;
    const errors: ModelError[] = [];
    const docs = this.readAll(errors);
    const services = new Map<string, KubeService>();
    const slices = new Map<string, KubeEndpointSlice>();
    const pods = new Map<string, KubePod>();
    const deployments: KubeDeployment[] = [];
    for (const { doc, file } of docs) {
      if (!doc || typeof doc !== 'object') continue;
      const o = doc as { kind?: string; metadata?: KubeMeta };
      const key = objectKey(o.metadata);
      const dup = (map: Map<string, unknown>): boolean => {
        if (!o.metadata?.name) { errors.push({ kind: o.kind ?? 'Object', object: file, field: 'metadata.name', message: 'missing name' }); return true; }
        if (map.has(key)) { errors.push({ kind: o.kind!, object: key, field: 'metadata.name', message: `defined twice (again in ${path.basename(file)}); later definition ignored` }); return true; }
        return false;
      };
      switch (o.kind) {
        case 'Service': if (!dup(services)) services.set(key, structuredClone(doc) as KubeService); break;
        case 'EndpointSlice': if (!dup(slices)) slices.set(key, doc as KubeEndpointSlice); break;
        case 'Pod': if (!dup(pods)) pods.set(key, doc as KubePod); break;
        case 'Deployment': if (!dup(new Map())) deployments.push(doc as KubeDeployment); break;
        default: break; // other kinds are not ours
      }
    }
    this.expandDeployments(deployments, pods, errors);
    this.allocateClusterIps(services, errors);
    const derived = deriveSlices([...services.values()], [...pods.values()]);
    for (const s of derived) slices.set(objectKey(s.metadata), s);
    try {
      if (this.stateFile.save()) this.log.debug({ file: this.stateFile.file }, 'manifests: allocation state saved');
    } catch (e) {
      this.log.error({ file: this.stateFile.file, err: (e as Error).message }, 'manifests: cannot write state file');
      this.opts.onSourceError?.();
    }
    this.opts.store.replaceAll([...services.values()], [...slices.values()]);
    this.reportSourceErrors(errors);
  }

  private reportSourceErrors(errors: ModelError[]): void {
    const byKey = new Map<string, ModelError[]>();
    for (const e of errors) {
      const k = `${e.kind} ${e.object}`;
      byKey.set(k, [...(byKey.get(k) ?? []), e]);
    }
    for (const k of this.reportedKeys) if (!byKey.has(k)) this.opts.store.reportErrors(k, []);
    for (const [k, errs] of byKey) this.opts.store.reportErrors(k, errs);
    this.reportedKeys = new Set(byKey.keys());
  }

  private readAll(errors: ModelError[]): { doc: unknown; file: string }[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.opts.dir).filter((n) => /\.ya?ml$/i.test(n) && !n.startsWith('.')).sort();
    } catch (e) {
      this.log.error({ dir: this.opts.dir, err: (e as Error).message }, 'manifests: cannot read directory; keeping previous content');
      this.opts.onSourceError?.();
      return [...this.files.entries()].flatMap(([file, c]) => c.docs.map((doc) => ({ doc, file })));
    }
    const out: { doc: unknown; file: string }[] = [];
    const seen = new Set<string>();
    for (const n of names) {
      const file = path.join(this.opts.dir, n);
      seen.add(file);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue; // removed between readdir and read
      }
      let cached = this.files.get(file);
      if (!cached || cached.text !== text) {
        const parsed = parseAllDocuments(text);
        const list = Array.isArray(parsed) ? parsed : [];
        const bad = list.flatMap((d) => d.errors);
        if (bad.length > 0) {
          const msg = bad[0]!.message.split('\n')[0] ?? 'parse error';
          errors.push({ kind: 'File', object: file, field: 'yaml', message: `${msg}${cached ? '; keeping the previous content of this file' : ''}` });
          this.opts.onSourceError?.();
          if (cached) out.push(...cached.docs.map((doc) => ({ doc, file })));
          continue;
        }
        cached = { text, docs: list.map((d) => d.toJS()) };
        this.files.set(file, cached);
      }
      out.push(...cached.docs.map((doc) => ({ doc, file })));
    }
    for (const f of [...this.files.keys()]) if (!seen.has(f)) this.files.delete(f);
    return out;
  }

  private expandDeployments(deployments: KubeDeployment[], pods: Map<string, KubePod>, errors: ModelError[]): void {
    const st = this.stateFile.state;
    const wanted = new Set<string>();
    const expanded: { key: string; pod: KubePod; fixedIp?: string }[] = [];
    for (const d of deployments) {
      const ns = d.metadata?.namespace || 'default';
      const name = d.metadata!.name!;
      const dkey = `${ns}/${name}`;
      const err = (field: string, message: string): void => { errors.push({ kind: 'Deployment', object: dkey, field, message }); };
      const replicas = d.spec?.replicas ?? 1;
      if (!Number.isInteger(replicas) || replicas < 0 || replicas > 10_000) { err('spec.replicas', `invalid replicas ${JSON.stringify(replicas)}`); continue; }
      const ann = d.metadata?.annotations ?? {};
      const ips = ann[POD_IPS_ANNOTATION]?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
      const badIp = ips.find((ip) => !isIPv4(ip));
      if (badIp !== undefined) { err(`metadata.annotations["${POD_IPS_ANNOTATION}"]`, `malformed IPv4 address ${JSON.stringify(badIp)}`); continue; }
      const nodes = ann[NODE_ANNOTATION]?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
      const tmplNode = d.spec?.template?.spec?.nodeName;
      if (nodes.length === 0 && !tmplNode && replicas > 0) err(`metadata.annotations["${NODE_ANNOTATION}"]`, 'no node placement (set the annotation or spec.template.spec.nodeName); pods get no endpoints');
      for (let i = 0; i < replicas; i++) {
        const podName = `${name}-${i}`;
        const key = `${ns}/${podName}`;
        if (pods.has(key)) { err('metadata.name', `pod ${key} already defined by a Pod manifest`); continue; }
        const pod: KubePod = {
          kind: 'Pod',
          metadata: { name: podName, namespace: ns, labels: { ...(d.spec?.template?.metadata?.labels ?? {}) } },
          spec: { ...(d.spec?.template?.spec ?? {}), nodeName: nodes.length > 0 ? nodes[i % nodes.length] : tmplNode },
          status: { phase: 'Running' },
        };
        wanted.add(key);
        expanded.push({ key, pod, fixedIp: ips[i] });
      }
    }
    // Pod IPs: fixed ones first (they win), then persisted allocations, then new allocations.
    const taken = new Set<string>();
    for (const p of pods.values()) if (p.status?.podIP) taken.add(p.status.podIP);
    for (const e of expanded) if (e.fixedIp) taken.add(e.fixedIp);
    for (const k of Object.keys(st.pods)) if (!wanted.has(k)) delete st.pods[k];
    const needs = expanded.filter((e) => !e.fixedIp);
    for (const e of needs) {
      const prev = st.pods[e.key];
      if (prev && cidrContains(this.podCidr, prev) && !taken.has(prev)) taken.add(prev);
      else delete st.pods[e.key];
    }
    for (const e of expanded) {
      let ip = e.fixedIp;
      if (!ip) {
        ip = st.pods[e.key];
        if (!ip) {
          const a = allocate(this.podCidr, `pod:${e.key}`, taken);
          if (!a) { errors.push({ kind: 'Pod', object: e.key, field: 'status.podIP', message: `pod CIDR ${this.podCidr.text} exhausted` }); continue; }
          ip = a;
          taken.add(a);
          st.pods[e.key] = a;
        }
      } else {
        delete st.pods[e.key];
      }
      e.pod.status!.podIP = ip;
      pods.set(e.key, e.pod);
    }
  }

  private allocateClusterIps(services: Map<string, KubeService>, errors: ModelError[]): void {
    const st = this.stateFile.state;
    const taken = new Map<string, string>(); // ip -> service key
    const needs: [string, KubeService][] = [];
    for (const [key, svc] of [...services.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const spec = (svc.spec ??= {});
      if (spec.type === 'ExternalName') continue;
      const explicit = spec.clusterIP || spec.clusterIPs?.[0];
      if (explicit) {
        if (explicit === 'None') continue;
        for (const ip of spec.clusterIPs?.length ? spec.clusterIPs : [explicit]) {
          const owner = taken.get(ip);
          if (owner !== undefined) {
            errors.push({ kind: 'Service', object: key, field: 'spec.clusterIP', message: `cluster IP ${ip} is already used by ${owner}; service ignored` });
            services.delete(key);
            break;
          }
          taken.set(ip, key);
        }
        continue;
      }
      needs.push([key, svc]);
    }
    const wanted = new Set(needs.map(([k]) => k));
    for (const k of Object.keys(st.services)) if (!wanted.has(k)) delete st.services[k];
    // Keep previous allocations unless an explicit IP now claims them.
    for (const [key] of needs) {
      const prev = st.services[key];
      if (prev && cidrContains(this.serviceCidr, prev) && !taken.has(prev)) taken.set(prev, key);
      else if (prev) {
        this.log.warn({ service: key, ip: prev }, 'manifests: allocated cluster IP now claimed elsewhere or out of the CIDR; reallocating');
        delete st.services[key];
      }
    }
    const takenSet = new Set(taken.keys());
    for (const [key, svc] of needs) {
      let ip = st.services[key];
      if (!ip) {
        const a = allocate(this.serviceCidr, `svc:${key}`, takenSet);
        if (!a) {
          errors.push({ kind: 'Service', object: key, field: 'spec.clusterIP', message: `service CIDR ${this.serviceCidr.text} exhausted; service ignored` });
          services.delete(key);
          continue;
        }
        ip = a;
        takenSet.add(a);
        st.services[key] = a;
        this.log.info({ service: key, clusterIP: a }, 'manifests: cluster IP allocated');
      }
      svc.spec!.clusterIP = ip;
      svc.spec!.clusterIPs = [ip];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// EndpointSlice derivation (pure)

function podReady(p: KubePod): boolean {
  const c = p.status?.conditions?.find((x) => x.type === 'Ready');
  if (c) return c.status === 'True';
  return p.status?.phase === undefined || p.status.phase === 'Running';
}

function selectorMatches(sel: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(sel)) if (labels?.[k] !== v) return false;
  return true;
}

/** EndpointSlices that Kubernetes' EndpointSlice controller would produce for these objects. */
export function deriveSlices(services: KubeService[], pods: KubePod[]): KubeEndpointSlice[] {
  const out: KubeEndpointSlice[] = [];
  for (const svc of services) {
    const sel = svc.spec?.selector;
    if (!sel || Object.keys(sel).length === 0 || svc.spec?.type === 'ExternalName') continue;
    const ns = svc.metadata?.namespace || 'default';
    const svcName = svc.metadata?.name ?? '';
    const groups = new Map<string, { ports: { name: string; protocol: string; port: number }[]; endpoints: NonNullable<KubeEndpointSlice['endpoints']> }>();
    for (const pod of pods) {
      if ((pod.metadata?.namespace || 'default') !== ns) continue;
      if (!selectorMatches(sel, pod.metadata?.labels)) continue;
      const ip = pod.status?.podIP;
      const node = pod.spec?.nodeName;
      if (!ip || !isIPv4(ip) || !node) continue;
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
      const ports: { name: string; protocol: string; port: number }[] = [];
      for (const sp of svc.spec?.ports ?? []) {
        const protocol = sp.protocol ?? 'TCP';
        const tp = sp.targetPort ?? sp.port;
        let port: number | undefined;
        if (typeof tp === 'number') port = tp;
        else if (typeof tp === 'string') {
          if (/^\d+$/.test(tp)) port = Number(tp);
          else for (const c of pod.spec?.containers ?? []) for (const cp of c.ports ?? []) {
            if (port === undefined && cp.name === tp && (cp.protocol ?? 'TCP') === protocol) port = cp.containerPort;
          }
        }
        if (port !== undefined) ports.push({ name: sp.name ?? '', protocol, port });
      }
      const sig = JSON.stringify(ports);
      let g = groups.get(sig);
      if (!g) groups.set(sig, (g = { ports, endpoints: [] }));
      const ready = podReady(pod);
      const terminating = pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null;
      g.endpoints.push({
        addresses: [ip],
        conditions: { ready: ready && !terminating, serving: ready, terminating },
        nodeName: node,
        targetRef: { kind: 'Pod', namespace: ns, name: pod.metadata?.name ?? '' },
      });
    }
    for (const [sig, g] of [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (g.ports.length === 0 && (svc.spec?.ports?.length ?? 0) > 0) continue; // no port resolves: nothing to serve
      const h = createHash('sha256').update(sig).digest('hex').slice(0, 5);
      g.endpoints.sort((a, b) => (a.addresses![0]! < b.addresses![0]! ? -1 : 1));
      out.push({
        kind: 'EndpointSlice',
        apiVersion: 'discovery.k8s.io/v1',
        metadata: { name: `${svcName}-${h}`, namespace: ns, labels: { [SERVICE_NAME_LABEL]: svcName, 'endpointslice.kubernetes.io/managed-by': 'sluice-manifests' } },
        addressType: 'IPv4',
        ports: g.ports,
        endpoints: g.endpoints,
      });
    }
  }
  return out;
}
