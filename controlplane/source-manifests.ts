// The manifests source: a directory of YAML files (multi-document) holding Services,
// EndpointSlices, Pods, Deployments and Nodes, watched for changes (fs.watch + debounce, plus a
// periodic rescan as a safety net). Every scan rebuilds the full desired content and hands it to the
// store, which only propagates what changed.
//
// - Files are parsed in a worker thread (manifest-parser.ts), only when their stat signature changed,
//   with a size limit. A file that becomes unreadable or invalid keeps its last good content and is
//   reported once per distinct problem; its objects go only when its name leaves the directory.
// - ClusterIPs and NodePorts as the API server allocates them (service-alloc.ts): IP families from
//   spec.ipFamilies/ipFamilyPolicy (an IPv6 service range, fd00:10:96::/112 by default, makes the
//   cluster dual-stack, IPv4 primary), explicit addresses in their family's range and free, first
//   come first served, never a Pod's or Node's address; each family without an explicit address gets
//   one, persisted in the state file with the holders.
// - Deployments expand into Pods <name>-<i> (i = 0..replicas-1) with the template's labels and
//   containers. Pod IP: the i-th entry of annotation sluice.io/pod-ips ("10.244.1.2,10.244.2.3"),
//   else one allocated from the pod CIDR (persisted too); an IPv6 address only from the i-th entry of
//   annotation sluice.io/pod-ips-v6 (none is allocated). Node: the (i mod n)-th entry of annotation
//   sluice.io/node ("node-a,node-b"), else spec.template.spec.nodeName.
// - Endpoints are derived as the EndpointSlice controller would: Pods in the Service's namespace
//   whose labels match its selector, with their address of each of the Service's families
//   (status.podIPs, or status.podIP) and spec.nodeName, one slice per family (addressType IPv4 or
//   IPv6, as the controller writes them); ready = Ready condition
//   (a hand-written Pod without conditions counts as ready unless its phase says otherwise),
//   deletionTimestamp set = terminating (ready false, serving = Ready). Named targetPorts resolve to
//   the Pod's container port of that name; Pods resolving to different port numbers land in
//   different slices, and a Pod lacking a named port gets no endpoint for that service port.
//   Each endpoint carries its node's topology.kubernetes.io/zone (from the Node manifests); with
//   spec.trafficDistribution PreferClose/PreferSameZone ready endpoints get a hint for their zone, with
//   PreferSameNode also one for their node (the EndpointSlice controller's trafficdist heuristic).
// - Node manifests: their addresses are never given to a Service, their labels (the zone) and
//   whether they are being deleted (deletionTimestamp, the autoscaler's taint) reach the store as the
//   Kubernetes source's Nodes do.
// - Services and EndpointSlices labelled service.kubernetes.io/service-proxy-name or
//   service.kubernetes.io/headless are not proxied (the model drops them, as kube-proxy's informers).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { canonicalIp, familyOf, type Family } from '../common/ip.ts';
import type { Logger } from 'pino';
import type { StateStore } from './store.ts';
import { ZONE_LABEL } from './topology.ts';
import { SERVICE_NAME_LABEL, objectKey, type KubeEndpointSlice, type KubeMeta, type KubeService, type ModelError } from './model.ts';
import { StateFile, allocate, cidrContains, parseCidr, parsePortRange, type Cidr, type PortRange } from './ipalloc.ts';
import { allocateServiceAddresses } from './service-alloc.ts';
import { shapeErrors } from './kube-shape.ts';
import { nodeDeletionReason, type KubeNodeLifecycle } from './node-state.ts';
import { ManifestParser, type FileFailure } from './manifest-parser.ts';

export const POD_IPS_ANNOTATION = 'sluice.io/pod-ips';
export const POD_IPS_V6_ANNOTATION = 'sluice.io/pod-ips-v6';
export const NODE_ANNOTATION = 'sluice.io/node';

interface ContainerPort { name?: string; containerPort?: number; protocol?: string }
interface PodSpec { nodeName?: string; containers?: { name?: string; ports?: ContainerPort[] }[] }
export interface KubePod {
  kind?: string;
  metadata?: KubeMeta;
  spec?: PodSpec;
  status?: { podIP?: string; podIPs?: { ip?: string }[]; hostIP?: string; phase?: string; conditions?: { type?: string; status?: string }[] };
}
interface KubeNode { status?: { addresses?: { type?: string; address?: string }[] } }
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
  /** The IPv6 service range (default fd00:10:96::/112); '' or 'none': single-stack (IPv4). */
  serviceCidr6?: string;
  podCidr?: string;
  /** NodePort range, "MIN-MAX" (default 30000-32767, the API server's). */
  nodePortRange?: string;
  /** Files above this size are refused (default 1 MiB). */
  maxFileBytes?: number;
  /** Parsing one file may take this long (default 20 s); the parser is then replaced. */
  parseTimeoutMs?: number;
  /** Heap limit of each parser worker (default 512 MiB). */
  parserHeapMb?: number;
  /**
   * A scan waits this long for the files it sent to the parser (default 500 ms; the first scan waits
   * for all); slower files are taken in by a later scan, so one huge file does not hold up the rest.
   */
  parseWaitMs?: number;
  rescanIntervalMs?: number;
  debounceMs?: number;
  /** Called once per distinct problem (a file's new error, an unreadable directory, a failed state write). */
  onSourceError?: (reason: SourceErrorReason) => void;
}

export type SourceErrorReason = FileFailure | 'directory-unreadable' | 'state-file' | 'scan-failed';

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;
/** The IPv6 service range when none is given (kind's dual-stack default is of this shape). */
export const DEFAULT_SERVICE_CIDR_V6 = 'fd00:10:96::/112';

export function defaultStateFile(dir: string): string {
  const abs = path.resolve(dir);
  return path.join(path.dirname(abs), `${path.basename(abs)}.sluice-state.json`);
}

/**
 * What the source knows of one file: the documents of its last good version (kept while the file is
 * unreadable or invalid) and its current problem. `tried` is the stat signature last parsed, so an
 * unchanged file is never parsed again (neither a good one nor a bad one).
 */
interface FileEntry {
  docs: unknown[];
  tried: string;
  /** Outcome of parsing `tried` (null = fine). */
  parsed: FileError | null;
  error: FileError | null;
  /** The parse in progress (of the version with this stat signature). */
  parsing: { sig: string; done: Promise<void> } | null;
}
interface FileError { reason: FileFailure; message: string }

const statSignature = (st: fs.Stats): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

export class ManifestsSource {
  private readonly opts: ManifestsSourceOptions;
  private readonly log: Logger;
  private readonly serviceCidr: Cidr;
  private readonly serviceCidr6: Cidr | undefined;
  private readonly podCidr: Cidr;
  private readonly nodePorts: PortRange;
  private readonly maxBytes: number;
  private readonly parser: ManifestParser;
  readonly stateFile: StateFile;
  private readonly files = new Map<string, FileEntry>();
  private watcher: fs.FSWatcher | null = null;
  private interval: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  /** When the first event of the current debounce burst came. */
  private burstStart = 0;
  private stopped = false;
  private reportedKeys = new Set<string>();
  private running: Promise<void> | null = null;
  private again = false;
  /** Problems not tied to one file, by reason: the message last reported. */
  private readonly problems = new Map<SourceErrorReason, string>();
  private firstScanDone = false;
  scans = 0;
  /** Files parsed (by the worker) since start: unchanged files are not parsed again. */
  parses = 0;

  constructor(opts: ManifestsSourceOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.serviceCidr = parseCidr(opts.serviceCidr ?? '10.96.0.0/12');
    if (this.serviceCidr.family !== 4) throw new Error(`service CIDR ${this.serviceCidr.text}: the primary range is IPv4 (the IPv6 one is serviceCidr6)`);
    const v6 = opts.serviceCidr6 ?? DEFAULT_SERVICE_CIDR_V6;
    this.serviceCidr6 = v6 && v6 !== 'none' ? parseCidr(v6) : undefined;
    if (this.serviceCidr6 && this.serviceCidr6.family !== 6) throw new Error(`IPv6 service CIDR ${v6} is not an IPv6 range`);
    this.podCidr = parseCidr(opts.podCidr ?? '10.244.0.0/16');
    this.nodePorts = parsePortRange(opts.nodePortRange ?? '30000-32767');
    this.maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.parser = new ManifestParser({ maxBytes: this.maxBytes, timeoutMs: opts.parseTimeoutMs ?? 20_000, maxHeapMb: opts.parserHeapMb ?? 512 });
    this.stateFile = new StateFile(opts.stateFile ?? defaultStateFile(opts.dir), this.serviceCidr.text, this.podCidr.text, this.serviceCidr6?.text ?? '');
  }

  /**
   * Checks the directory (throws at once if it is not one), then scans once (the store is then
   * synced) and starts watching. The returned promise resolves after that first scan.
   */
  start(): Promise<void> {
    if (!fs.statSync(this.opts.dir).isDirectory()) throw new Error(`manifests: ${this.opts.dir} is not a directory`);
    return this.scan().then(() => {
      this.firstScanDone = true;
      if (this.stopped) return;
      this.opts.store.markSynced();
      try {
        this.watcher = fs.watch(this.opts.dir, () => this.schedule());
        this.watcher.on('error', (e) => this.log.warn({ dir: this.opts.dir, err: e.message }, 'manifests: fs.watch failed; relying on periodic rescans'));
      } catch (e) {
        this.log.warn({ dir: this.opts.dir, err: (e as Error).message }, 'manifests: fs.watch unavailable; relying on periodic rescans');
      }
      this.interval = setInterval(() => void this.scan(), this.opts.rescanIntervalMs ?? 10_000);
      this.interval.unref();
    });
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.interval) clearInterval(this.interval);
    if (this.debounce) clearTimeout(this.debounce);
    this.parser.close();
  }

  private schedule(): void {
    if (this.stopped) return;
    // Trailing debounce, but a steady stream of writes (50 a second in bench/soak.ts) must not hold
    // the scan back until the rescan interval: after 5 debounce periods of events, the pending one stands.
    const now = Date.now();
    const wait = this.opts.debounceMs ?? 100;
    if (this.debounce && now - this.burstStart >= 5 * wait) return;
    if (!this.debounce) this.burstStart = now;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => { this.debounce = null; void this.scan(); }, wait);
  }

  /**
   * Reads the directory and replaces the store's content. Never runs twice at once: a scan asked
   * for while one runs makes that one go round again; the promise resolves when none is left.
   */
  scan(): Promise<void> {
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          if (this.stopped) return;
          try {
            await this.scanOnce();
            this.problem('scan-failed', null, 'scan failed; keeping previous content');
          } catch (e) {
            // a bug must not take the control plane down: the store keeps what it had
            this.problem('scan-failed', (e as Error).message, 'scan failed; keeping previous content');
          }
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async scanOnce(): Promise<void> {
    this.scans++;
    const errors: ModelError[] = [];
    const docs = await this.readAll(errors);
    if (this.stopped) return;
    const services = new Map<string, KubeService>();
    const slices = new Map<string, KubeEndpointSlice>();
    const pods = new Map<string, KubePod>();
    const deployments: KubeDeployment[] = [];
    const reserved = new Map<string, string>(); // addresses no Service may take
    const nodes = new Map<string, Record<string, string> | undefined>();
    const nodeDeletions = new Map<string, string>();
    for (const { doc, file } of docs) {
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) continue;
      const o = doc as { kind?: string; metadata?: KubeMeta };
      const key = objectKey(o.metadata);
      const bad = shapeErrors(o.kind ?? '', key, doc);
      if (bad.length > 0) { errors.push(...bad); continue; }
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
        case 'Node':
          if (o.metadata?.name) { nodes.set(o.metadata.name, o.metadata.labels); nodeDeletions.set(o.metadata.name, nodeDeletionReason(doc as KubeNodeLifecycle)); }
          for (const a of (doc as KubeNode).status?.addresses ?? []) if (a.address) reserved.set(a.address, `Node ${o.metadata?.name ?? '?'}`);
          break;
        default: break; // other kinds are not ours
      }
    }
    this.expandDeployments(deployments, pods, errors);
    for (const [k, p] of pods) {
      for (const ip of podAddresses(p)) reserved.set(ip, `Pod ${k}`);
      if (p.status?.hostIP && !reserved.has(p.status.hostIP)) reserved.set(p.status.hostIP, `Node ${p.spec?.nodeName ?? p.status.hostIP}`);
    }
    allocateServiceAddresses(services, this.stateFile.state, {
      serviceCidr: this.serviceCidr, ...(this.serviceCidr6 ? { serviceCidr6: this.serviceCidr6 } : {}), nodePorts: this.nodePorts, reserved,
      onAllocated: (service, clusterIP) => this.log.info({ service, clusterIP }, 'manifests: cluster IP allocated'),
      onReallocated: (service, ip) => this.log.warn({ service, ip }, 'manifests: allocated cluster IP now out of the range or taken by a pod or node; reallocating'),
    }, errors);
    const zones = new Map([...nodes].map(([n, l]) => [n, l?.[ZONE_LABEL] ?? '']));
    const derived = deriveSlices([...services.values()], [...pods.values()], zones);
    for (const s of derived) slices.set(objectKey(s.metadata), s);
    try {
      if (this.stateFile.save()) this.log.debug({ file: this.stateFile.file }, 'manifests: allocation state saved');
      this.problem('state-file', null, `cannot write state file ${this.stateFile.file}`);
    } catch (e) {
      this.problem('state-file', (e as Error).message, `cannot write state file ${this.stateFile.file}`);
    }
    this.opts.store.replaceNodes(nodes, nodeDeletions);
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

  /** A scan is in progress, or a file is being parsed. */
  get busy(): boolean {
    return this.running !== null || [...this.files.values()].some((f) => f.parsing !== null);
  }

  /** Files being parsed now. */
  get parsing(): string[] {
    return [...this.files].flatMap(([file, f]) => (f.parsing ? [file] : []));
  }

  /** Files currently unreadable or invalid (their last good content is still served). */
  get fileErrors(): ({ file: string } & FileError)[] {
    return [...this.files].flatMap(([file, f]) => (f.error ? [{ file, ...f.error }] : []));
  }

  /**
   * The documents of every *.yaml / *.yml file. Only files whose stat signature changed are parsed
   * (in the worker); a file that cannot be read or parsed keeps its last good documents; a file is
   * forgotten only when its name is gone from the directory.
   */
  private async readAll(errors: ModelError[]): Promise<{ doc: unknown; file: string }[]> {
    const all = (): { doc: unknown; file: string }[] => [...this.files].flatMap(([file, f]) => f.docs.map((doc) => ({ doc, file })));
    let names: string[];
    try {
      names = (await fs.promises.readdir(this.opts.dir)).filter((n) => /\.ya?ml$/i.test(n) && !n.startsWith('.')).sort();
    } catch (e) {
      this.problem('directory-unreadable', (e as Error).message, 'cannot read directory; keeping previous content');
      return all();
    }
    this.problem('directory-unreadable', null, 'cannot read directory; keeping previous content');
    const seen = new Set<string>();
    const checked: { file: string; entry: FileEntry; r: FileError | null | 'parsing' }[] = [];
    for (const n of names) {
      if (this.stopped) break;
      const file = path.join(this.opts.dir, n);
      seen.add(file);
      let entry = this.files.get(file);
      if (!entry) this.files.set(file, (entry = { docs: [], tried: '', parsed: null, error: null, parsing: null }));
      const r = await this.readOne(file, entry);
      if (r === 'gone') { this.files.delete(file); seen.delete(file); continue; }
      checked.push({ file, entry, r });
    }
    // Wait for the parses (all of them on the first scan); a file still parsing after that keeps its
    // current content and problem, and its parse schedules a rescan when it ends.
    const parsing = checked.flatMap((c) => (c.r === 'parsing' && c.entry.parsing ? [c.entry.parsing.done] : []));
    if (parsing.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const wait = !this.firstScanDone ? [] : [new Promise<void>((r) => { timer = setTimeout(r, this.opts.parseWaitMs ?? 500); })];
      await Promise.race([Promise.all(parsing), ...wait]);
      clearTimeout(timer);
    }
    for (const { file, entry, r } of checked) {
      if (r !== 'parsing') this.setFileError(file, entry, r);
      else if (!entry.parsing) this.setFileError(file, entry, entry.parsed);
      if (entry.error) errors.push({ kind: 'File', object: file, field: entry.error.reason, message: `${entry.error.message}${entry.docs.length > 0 ? '; keeping the last good content of this file' : ''}` });
    }
    for (const [f, e] of [...this.files]) {
      if (seen.has(f)) continue;
      this.files.delete(f);
      if (e.error) this.log.info({ file: f }, 'manifests: file removed');
    }
    return all();
  }

  /** Looks at one file: 'gone', its current problem (null = none), or 'parsing' (see entry.parsing). */
  private async readOne(file: string, entry: FileEntry): Promise<'gone' | 'parsing' | FileError | null> {
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(file);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'ENOENT') return { reason: 'unreadable', message: err.message };
      // ENOENT from stat: either the name is gone (removed between readdir and now) or a dangling link
      try { await fs.promises.lstat(file); } catch { return 'gone'; }
      return { reason: 'dangling-link', message: `symbolic link to a missing file (${await fs.promises.readlink(file).catch(() => '?')})` };
    }
    if (!st.isFile()) return { reason: 'not-a-file', message: st.isDirectory() ? 'a directory, not a file' : 'not a regular file' };
    if (st.size > this.maxBytes) return { reason: 'too-large', message: `${st.size} bytes, above the limit of ${this.maxBytes} bytes (maxFileBytes)` };
    const sig = statSignature(st);
    if (sig === entry.tried) return entry.parsed;
    if (entry.parsing?.sig === sig) return 'parsing';
    this.parses++;
    const parsing = {
      sig,
      done: this.parser.parse(file).then((r) => {
        if (entry.parsing !== parsing) return; // superseded by a newer version of the file
        entry.parsing = null;
        entry.tried = sig;
        if (r.ok) entry.docs = r.docs;
        entry.parsed = r.ok ? null : { reason: r.reason, message: r.message };
        this.schedule();
      }),
    };
    entry.parsing = parsing;
    return 'parsing';
  }

  /** Logs (error) and counts a problem of the source once per distinct message (null: it is over). */
  private problem(reason: SourceErrorReason, message: string | null, what: string): void {
    const before = this.problems.get(reason);
    if (message === null) {
      if (before !== undefined) this.log.info({ dir: this.opts.dir, reason }, `manifests: fixed: ${what}`);
      this.problems.delete(reason);
      return;
    }
    if (before === message) return;
    this.problems.set(reason, message);
    this.log.error({ dir: this.opts.dir, reason, err: message }, `manifests: ${what}`);
    this.opts.onSourceError?.(reason);
  }

  /** Logs (warn) and counts a file's problem once per distinct problem; logs when it is fixed. */
  private setFileError(file: string, entry: FileEntry, error: FileError | null): void {
    const before = entry.error;
    entry.error = error;
    if (!error) {
      if (before) this.log.info({ file }, 'manifests: file valid again');
      return;
    }
    if (before?.reason === error.reason && before.message === error.message) return;
    this.log.warn({ file, reason: error.reason, err: error.message, keeping: entry.docs.length > 0 ? 'last good content' : 'nothing' }, 'manifests: cannot use file');
    this.opts.onSourceError?.(error.reason);
  }

  private expandDeployments(deployments: KubeDeployment[], pods: Map<string, KubePod>, errors: ModelError[]): void {
    const st = this.stateFile.state;
    const wanted = new Set<string>();
    const expanded: { key: string; pod: KubePod; fixedIp?: string; ip6?: string }[] = [];
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
      const ips6 = ann[POD_IPS_V6_ANNOTATION]?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
      const badIp6 = ips6.find((ip) => familyOf(ip) !== 6 || canonicalIp(ip) === null);
      if (badIp6 !== undefined) { err(`metadata.annotations["${POD_IPS_V6_ANNOTATION}"]`, `malformed IPv6 address ${JSON.stringify(badIp6)}`); continue; }
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
        expanded.push({ key, pod, fixedIp: ips[i], ip6: ips6[i] !== undefined ? canonicalIp(ips6[i]!)! : undefined });
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
      if (e.ip6) e.pod.status!.podIPs = [{ ip }, { ip: e.ip6 }];
      pods.set(e.key, e.pod);
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

const CLOSE_DISTRIBUTIONS = new Set(['PreferClose', 'PreferSameZone', 'PreferSameNode']);

/** A Pod's addresses, canonical: status.podIPs (one per family), else status.podIP. */
export function podAddresses(p: KubePod): string[] {
  const listed = (p.status?.podIPs ?? []).flatMap((x) => (x.ip ? [x.ip] : []));
  const raw = listed.length ? listed : p.status?.podIP ? [p.status.podIP] : [];
  return [...new Set(raw.flatMap((ip) => canonicalIp(ip) ?? []))];
}

/** The families a Service's endpoints are published for (spec.ipFamilies as the allocator settled them). */
function sliceFamilies(svc: KubeService): Family[] {
  const named = (svc.spec?.ipFamilies ?? []).flatMap((f) => (f === 'IPv4' ? [4 as const] : f === 'IPv6' ? [6 as const] : []));
  if (named.length) return named;
  const fromIps = (svc.spec?.clusterIPs ?? []).map(familyOf).filter((f): f is Family => f !== 0);
  return fromIps.length ? fromIps : [4];
}

/** EndpointSlices that Kubernetes' EndpointSlice controller would produce for these objects. */
export function deriveSlices(services: KubeService[], pods: KubePod[], zones: Map<string, string> = new Map()): KubeEndpointSlice[] {
  const out: KubeEndpointSlice[] = [];
  for (const svc of services) for (const family of sliceFamilies(svc)) out.push(...deriveFamilySlices(svc, family, pods, zones));
  return out;
}

function deriveFamilySlices(svc: KubeService, family: Family, pods: KubePod[], zones: Map<string, string>): KubeEndpointSlice[] {
  const out: KubeEndpointSlice[] = [];
  const dist = svc.spec?.trafficDistribution ?? '';
  const sel = svc.spec?.selector;
  if (!sel || Object.keys(sel).length === 0 || svc.spec?.type === 'ExternalName') return out;
  const ns = svc.metadata?.namespace || 'default';
  const svcName = svc.metadata?.name ?? '';
  const groups = new Map<string, { ports: { name: string; protocol: string; port: number }[]; endpoints: NonNullable<KubeEndpointSlice['endpoints']> }>();
  for (const pod of pods) {
    if ((pod.metadata?.namespace || 'default') !== ns) continue;
    if (!selectorMatches(sel, pod.metadata?.labels)) continue;
    const ip = podAddresses(pod).find((a) => familyOf(a) === family);
    const node = pod.spec?.nodeName;
    if (!ip || !node) continue;
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
    const zone = zones.get(node) || undefined;
    const hinted = CLOSE_DISTRIBUTIONS.has(dist) && ready && !terminating && (zone !== undefined || dist === 'PreferSameNode');
    g.endpoints.push({
      addresses: [ip],
      conditions: { ready: ready && !terminating, serving: ready, terminating },
      nodeName: node,
      ...(zone !== undefined ? { zone } : {}),
      ...(hinted ? { hints: { ...(zone !== undefined ? { forZones: [{ name: zone }] } : {}), ...(dist === 'PreferSameNode' ? { forNodes: [{ name: node }] } : {}) } } : {}),
      targetRef: { kind: 'Pod', namespace: ns, name: pod.metadata?.name ?? '' },
    });
  }
  for (const [sig, g] of [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (g.ports.length === 0 && (svc.spec?.ports?.length ?? 0) > 0) continue; // no port resolves: nothing to serve
    // IPv4 slices keep the names they had before IPv6 existed here
    const h = createHash('sha256').update(family === 4 ? sig : `IPv6 ${sig}`).digest('hex').slice(0, 5);
    g.endpoints.sort((a, b) => (a.addresses![0]! < b.addresses![0]! ? -1 : 1));
    out.push({
      kind: 'EndpointSlice',
      apiVersion: 'discovery.k8s.io/v1',
      metadata: { name: `${svcName}-${h}`, namespace: ns, labels: { [SERVICE_NAME_LABEL]: svcName, 'endpointslice.kubernetes.io/managed-by': 'sluice-manifests' } },
      addressType: family === 4 ? 'IPv4' : 'IPv6',
      ports: g.ports,
      endpoints: g.endpoints,
    });
  }
  return out;
}
