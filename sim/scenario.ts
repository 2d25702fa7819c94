// The examples cluster: examples/*.yaml running on a two-node simulated cluster with one Sluice
// agent per node and one control plane on the manifests source. Shared by `make demo`
// (sim/demo.ts) and the end-to-end tests (test/integration/e2e-*.test.ts).
//
// The sim plays scheduler and kubelet: it reads the examples, places every pod the control plane
// will know (Deployments expanded as the manifests source expands them, hand-written Pods) on a node
// with a fixed IP, writes that placement into a copy of the manifests (annotations sluice.io/node,
// sluice.io/pod-ips and sluice.io/pod-ips-v6 on Deployments, spec.nodeName, status.podIP and
// status.podIPs on Pods: every pod has both families, as in a dual-stack cluster), creates each pod's
// namespace with that IP on that node and starts sim/tools/podserver.ts on its container ports.
// Only then does the control plane read the copy, so every endpoint it announces already answers.
// Scaling edits `replicas` in the copy: new pods are created before the edit, removed ones are
// deleted by the caller once traffic has left them.
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { SimAgent } from './agent.ts';
import { NODE_BIN, REPO, SimCluster, simIp6, type BurstResult, type PodClient } from './cluster.ts';
import { SimControlPlane } from './controlplane.ts';
import { listNamespaces, NS_PREFIX, nsRun, PIN_ROOT, RUN_DIR, sleep, waitFor } from './netns.ts';

const execFileP = promisify(execFile);

export const EXAMPLES_DIR = `${REPO}examples`;
export const NODES = ['a', 'b'] as const;
/** Pod IPs reserved per Deployment (replica i uses the i-th), so scaling up needs no new annotation. */
export const MAX_REPLICAS = 8;
const POD_IPS = 'sluice.io/pod-ips';
const POD_IPS_V6 = 'sluice.io/pod-ips-v6';
const NODE_ANN = 'sluice.io/node';
/** Pod host numbers in 10.244.<node>.0/24: clients below, workload pods from here on. */
const FIRST_POD_HOST = 10;

export type Proto = 'TCP' | 'UDP';
export interface PortDecl { name?: string; port: number; protocol: Proto }

export interface ScenarioPod {
  name: string;
  namespace: string;
  /** Sim node name ('a' | 'b'). */
  node: string;
  ip: string;
  /** Its IPv6 address (the twin of `ip`, sim/cluster.ts). */
  ip6: string;
  labels: Record<string, string>;
  ports: PortDecl[];
  ready: boolean;
  /** Deployment key (ns/name) and replica index for expanded pods. */
  owner?: { deployment: string; index: number };
}

export interface ServicePort { name: string; port: number; protocol: Proto; targetPort: number | string }
export interface ScenarioService {
  key: string;
  name: string;
  namespace: string;
  file: string;
  selector: Record<string, string>;
  ports: ServicePort[];
  affinityTimeout?: number;
  /** spec.ipFamilyPolicy as written (undefined: SingleStack of the primary family, IPv4). */
  ipFamilyPolicy?: string;
  /** Filled in from the control plane's allocations once it runs; clusterIP6 '' when the Service has no IPv6 family. */
  clusterIP: string;
  clusterIP6: string;
}

/** A loose view of the Kubernetes objects we read; the control plane validates them for real. */
interface KObj {
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown> & {
    replicas?: number;
    nodeName?: string;
    selector?: Record<string, string>;
    ports?: Array<{ name?: string; port?: number; protocol?: string; targetPort?: number | string }>;
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpec };
    containers?: PodSpec['containers'];
  };
  status?: { podIP?: string; podIPs?: Array<{ ip: string }>; phase?: string; conditions?: Array<{ type?: string; status?: string }> };
}
interface PodSpec { containers?: Array<{ ports?: Array<{ name?: string; containerPort?: number; protocol?: string }> }> }

interface DeploymentInfo { key: string; name: string; namespace: string; file: string; doc: KObj; replicas: number; ips: string[]; nodes: string[] }

function containerPorts(spec: PodSpec | undefined): PortDecl[] {
  return (spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => ({
    name: p.name, port: p.containerPort ?? 0, protocol: (p.protocol ?? 'TCP') as Proto,
  })));
}

function podReady(o: KObj): boolean {
  const c = o.status?.conditions?.find((x) => x.type === 'Ready');
  if (c) return c.status === 'True';
  return o.status?.phase === undefined || o.status.phase === 'Running';
}

export interface ScenarioOptions {
  /** Fixed run id (the demo uses "demo"); default p<pid>. */
  runId?: string;
  examplesDir?: string;
  /** Where the placed copy of the manifests goes; default a fresh temp dir. */
  manifestsDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What addExternalServices() adds: web's pods behind a NodePort and a LoadBalancer IP. */
export const EXTERNAL = { nodePort: 30080, lbIp: '192.0.2.80', lbNodePort: 30081 } as const;

export class ExamplesCluster {
  readonly cluster: SimCluster;
  readonly manifestsDir: string;
  readonly services = new Map<string, ScenarioService>();
  readonly pods = new Map<string, ScenarioPod>();
  readonly agents = new Map<string, SimAgent>();
  cp!: SimControlPlane;
  /** The client pod on node a and its traffic driver. */
  client!: PodClient;
  readonly clientPod = 'client';
  readonly #files = new Map<string, KObj[]>();
  readonly #deployments = new Map<string, DeploymentInfo>();
  readonly #servers = new Map<string, ChildProcess>();
  readonly #clients = new Map<string, PodClient>();
  /** Every process started for this scenario (pid) and every host-side interface name. */
  readonly pids = new Set<number>();
  readonly hostIfs = new Set<string>();
  readonly #log: (line: string) => void;

  private constructor(cluster: SimCluster, manifestsDir: string, log: (l: string) => void) {
    this.cluster = cluster;
    this.manifestsDir = manifestsDir;
    this.#log = log;
  }

  get runId(): string { return this.cluster.runId; }
  nodeName(node: string): string { return this.cluster.node(node).nodeName; }

  static async start(opts: ScenarioOptions = {}): Promise<ExamplesCluster> {
    const log = opts.log ?? (() => {});
    const cluster = await SimCluster.create({ nodes: [...NODES], runId: opts.runId });
    let dir = opts.manifestsDir;
    if (dir) { fs.rmSync(dir, { recursive: true, force: true }); fs.mkdirSync(dir, { recursive: true }); }
    else dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-examples-'));
    const s = new ExamplesCluster(cluster, dir, log);
    try {
      s.#load(opts.examplesDir ?? EXAMPLES_DIR);
      log(`nodes ${NODES.map((n) => `${n} (${cluster.node(n).ns}, ${cluster.node(n).ip}, pods ${cluster.node(n).podCidr})`).join(', ')}`);
      await s.#addPod({ name: s.clientPod, namespace: 'default', node: 'a', ip: '10.244.1.2', ip6: simIp6('10.244.1.2'), labels: {}, ports: [], ready: true });
      // Four pods at a time: namespaces and veths are quick, podserver start-ups are the slow part.
      const todo = [...s.pods.values()].filter((p) => p.name !== s.clientPod);
      await Promise.all(Array.from({ length: 4 }, async () => { for (let p = todo.shift(); p; p = todo.shift()) await s.#addPod(p); }));
      log(`${s.pods.size - 1} pods serving on their container ports (sim/tools/podserver.ts), and pod "client"`);
      for (const f of s.#files.keys()) s.#writeFile(f);
      s.cp = await SimControlPlane.start(cluster, { manifestsDir: dir, args: ['--log-level', 'info'] });
      s.pids.add(s.cp.proc.pid!);
      log(`control plane on ${s.cp.address} (manifests ${dir})`);
      for (const n of NODES) {
        // No north-south interface here: nodes take NodePorts on their fabric address (sim/cluster.ts).
        const a = await SimAgent.start(cluster, n, { controlPlane: s.cp.address, args: ['--log-level', 'info', '--nodeport-addresses', '10.10.0.0/24'] });
        s.agents.set(n, a);
        s.pids.add(a.proc.pid!);
      }
      await s.#readClusterIPs();
      s.client = await s.podClient(s.clientPod);
      await s.waitConverged();
      log(`agents on ${NODES.map((n) => s.nodeName(n)).join(', ')} programmed ${s.services.size} services`);
      return s;
    } catch (e) {
      await s.destroy();
      throw e;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Manifests: read, place, write

  #load(examplesDir: string): void {
    const hosts = new Map<string, number>(NODES.map((n) => [n, FIRST_POD_HOST]));
    const nextIp = (node: string): string => {
      const h = hosts.get(node)!;
      hosts.set(node, h + 1);
      return `10.244.${this.cluster.node(node).index}.${h}`;
    };
    let rotation = 0;
    const files = fs.readdirSync(examplesDir).filter((f) => /\.ya?ml$/.test(f)).sort();
    if (files.length === 0) throw new Error(`no examples in ${examplesDir}`);
    for (const file of files) {
      const parsed = parseAllDocuments(fs.readFileSync(path.join(examplesDir, file), 'utf8'));
      const docs = (Array.isArray(parsed) ? parsed : []).map((d) => {
        if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
        return d.toJS() as KObj;
      }).filter((d) => d && typeof d === 'object');
      this.#files.set(file, docs);
      for (const o of docs) {
        const namespace = o.metadata?.namespace ?? 'default';
        const name = o.metadata?.name ?? '';
        const key = `${namespace}/${name}`;
        if (o.kind === 'Deployment') {
          // Replica i runs on nodes[i mod 2] (the manifests source's rule); the node order rotates
          // per Deployment so that small Deployments land on both nodes.
          const order = rotation++ % 2 === 0 ? [...NODES] : [...NODES].reverse();
          const ips = Array.from({ length: MAX_REPLICAS }, (_, i) => nextIp(order[i % order.length]!));
          const nodes = order.map((n) => this.nodeName(n));
          o.metadata = { ...o.metadata, annotations: { ...o.metadata?.annotations, [NODE_ANN]: nodes.join(','), [POD_IPS]: ips.join(','), [POD_IPS_V6]: ips.map(simIp6).join(',') } };
          const d: DeploymentInfo = { key, name, namespace, file, doc: o, replicas: o.spec?.replicas ?? 1, ips, nodes: order };
          this.#deployments.set(key, d);
          for (let i = 0; i < d.replicas; i++) this.#expectPod(d, i);
        } else if (o.kind === 'Pod') {
          const node = NODES[rotation++ % NODES.length]!;
          const ip = o.status?.podIP ?? nextIp(node);
          o.spec = { ...o.spec, nodeName: this.nodeName(node) };
          o.status = { ...o.status, podIP: ip, podIPs: [{ ip }, { ip: simIp6(ip) }] };
          this.pods.set(name, {
            name, namespace, node, ip, ip6: simIp6(ip), labels: o.metadata?.labels ?? {}, ports: containerPorts(o.spec as PodSpec), ready: podReady(o),
          });
        } else if (o.kind === 'Service') {
          const spec = o.spec ?? {};
          this.services.set(name, {
            key, name, namespace, file, selector: spec.selector ?? {},
            ports: (spec.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port ?? 0, protocol: (p.protocol ?? 'TCP') as Proto, targetPort: p.targetPort ?? p.port ?? 0 })),
            affinityTimeout: spec.sessionAffinity === 'ClientIP' ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 : undefined,
            ipFamilyPolicy: typeof spec.ipFamilyPolicy === 'string' ? spec.ipFamilyPolicy : undefined,
            clusterIP: '', clusterIP6: '',
          });
        }
      }
    }
  }

  #expectPod(d: DeploymentInfo, i: number): ScenarioPod {
    const tmpl = d.doc.spec?.template;
    const pod: ScenarioPod = {
      name: `${d.name}-${i}`, namespace: d.namespace, node: d.nodes[i % d.nodes.length]!, ip: d.ips[i]!, ip6: simIp6(d.ips[i]!),
      labels: tmpl?.metadata?.labels ?? {}, ports: containerPorts(tmpl?.spec), ready: true, owner: { deployment: d.key, index: i },
    };
    this.pods.set(pod.name, pod);
    return pod;
  }

  /**
   * Add web's pods behind a NodePort (web-nodeport, EXTERNAL.nodePort) and a LoadBalancer IP
   * (web-lb, EXTERNAL.lbIp) whose loadBalancerSourceRanges admit @allowed only: a manifest the
   * scenario does not track (expectedFrontends() and the spread checks leave it out). Resolves once
   * both nodes program them with web's backends.
   */
  async addExternalServices(allowed: string): Promise<void> {
    const file = 'web-external.yaml';
    const text = `# Added during the run: web's pods behind a NodePort and a LoadBalancer with source ranges.
apiVersion: v1
kind: Service
metadata: {name: web-nodeport, namespace: default}
spec:
  type: NodePort
  selector: {app: web, tier: frontend}
  ports: [{protocol: TCP, port: 80, targetPort: 8080, nodePort: ${EXTERNAL.nodePort}}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: web, tier: frontend}
  loadBalancerSourceRanges: [${allowed}/32]
  ports: [{protocol: TCP, port: 80, targetPort: 8080, nodePort: ${EXTERNAL.lbNodePort}}]
status:
  loadBalancer:
    ingress: [{ip: ${EXTERNAL.lbIp}}]
`;
    const tmp = path.join(this.manifestsDir, `.${file}.tmp`);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, path.join(this.manifestsDir, file));
    const want = this.expectedBackends('web-service').map((b) => `${b.pod.ip}:${b.port}`).sort().join(',');
    let missing = '';
    const programmed = async () => {
      for (const n of NODES) {
        const rows = await this.serviceList(n);
        for (const fe of [`${this.cluster.node(n).ip}:${EXTERNAL.nodePort}/TCP`, `${EXTERNAL.lbIp}:80/TCP`]) {
          const row = rows.find((r) => r.frontend === fe);
          const have = row?.backends.filter((b) => b.state === 'active').map((b) => b.address).sort().join(',');
          missing = `node ${n}: ${fe} ${row ? `has [${have}], want [${want}]` : 'absent'}`;
          if (have !== want) return false;
        }
      }
      return true;
    };
    await waitFor(`${file} on both nodes`, programmed, 15000, 50).catch((e: Error) => { throw new Error(`${e.message}; ${missing}`); });
  }

  /** Write one manifest file of the copy atomically (the control plane watches the directory). */
  #writeFile(file: string): void {
    const docs = this.#files.get(file)!;
    const text = docs.map((d) => stringify(d)).join('---\n');
    const tmp = path.join(this.manifestsDir, `.${file}.tmp`);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, path.join(this.manifestsDir, file));
  }

  async #addPod(p: ScenarioPod): Promise<void> {
    const sp = await this.cluster.addPod(p.node, p.name, { ip: p.ip });
    this.hostIfs.add(sp.hostIf);
    if (p.name === this.clientPod) { this.pods.set(p.name, p); return; }
    const tcp = [...new Set(p.ports.filter((x) => x.protocol === 'TCP').map((x) => x.port))];
    const udp = [...new Set(p.ports.filter((x) => x.protocol === 'UDP').map((x) => x.port))];
    const proc = await this.cluster.serve(p.name, { tcp, udp });
    this.pids.add(proc.pid!);
    this.#servers.set(p.name, proc);
  }

  // ---------------------------------------------------------------------------------------------
  // Queries

  async #readClusterIPs(): Promise<void> {
    // A dual-stack policy gets both families on the sim's dual-stack cluster (the control plane's
    // default IPv6 service range): wait for its IPv6 address too.
    const dual = (s: ScenarioService) => s.ipFamilyPolicy === 'PreferDualStack' || s.ipFamilyPolicy === 'RequireDualStack';
    const st = await waitFor('cluster IP allocations', () => {
      const st = JSON.parse(fs.readFileSync(this.cp.stateFile, 'utf8')) as { services?: Record<string, string>; services6?: Record<string, string> };
      const all = [...this.services.values()].every((s) => st.services?.[s.key] && (!dual(s) || st.services6?.[s.key]));
      return all ? st : undefined;
    }, 20000, 100);
    for (const s of this.services.values()) {
      s.clusterIP = st.services![s.key]!;
      s.clusterIP6 = st.services6?.[s.key] ?? '';
    }
  }

  service(name: string): ScenarioService {
    const s = this.services.get(name);
    if (!s) throw new Error(`no service ${name} in the examples`);
    return s;
  }

  /** `ip:port` of a service port (by port name, or the first); `[ip6]:port` over IPv6 (family 6). */
  target(service: string, portName?: string, family: 4 | 6 = 4): { target: string; proto: 'tcp' | 'udp'; port: ServicePort } {
    const s = this.service(service);
    const port = portName === undefined ? s.ports[0] : s.ports.find((p) => p.name === portName);
    if (!port) throw new Error(`service ${service} has no port ${portName}`);
    if (family === 6 && !s.clusterIP6) throw new Error(`service ${service} has no IPv6 cluster IP`);
    return { target: family === 6 ? `[${s.clusterIP6}]:${port.port}` : `${s.clusterIP}:${port.port}`, proto: port.protocol === 'UDP' ? 'udp' : 'tcp', port };
  }

  /** The pods a service should send to (selector match, Ready), with the port each resolves to. */
  expectedBackends(service: string, portName?: string): Array<{ pod: ScenarioPod; port: number }> {
    const s = this.service(service);
    const sp = portName === undefined ? s.ports[0]! : s.ports.find((p) => p.name === portName)!;
    const out: Array<{ pod: ScenarioPod; port: number }> = [];
    for (const p of this.pods.values()) {
      if (p.namespace !== s.namespace || !p.ready || Object.keys(s.selector).length === 0) continue;
      if (!Object.entries(s.selector).every(([k, v]) => p.labels[k] === v)) continue;
      const port = typeof sp.targetPort === 'number' ? sp.targetPort
        : /^\d+$/.test(sp.targetPort) ? Number(sp.targetPort)
          : p.ports.find((c) => c.name === sp.targetPort && c.protocol === sp.protocol)?.port;
      if (port !== undefined) out.push({ pod: p, port });
    }
    return out.sort((a, b) => (a.pod.name < b.pod.name ? -1 : 1));
  }

  /** Every service port with the backends the datapath should hold for it. */
  expectedFrontends(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const s of this.services.values()) {
      for (const p of s.ports) {
        m.set(`${s.clusterIP}:${p.port}/${p.protocol}`, this.expectedBackends(s.name, p.name).map((b) => `${b.pod.ip}:${b.port}`).sort());
      }
    }
    return m;
  }

  /**
   * `sluice service list -o json` on a node: the programmed frontends. The IPv6 frontends the agent
   * reports as not programmed (`programmed: false`, no backends) are left out unless `all`.
   */
  async serviceList(node: string, all = false): Promise<Array<{ frontend: string; name: string; programmed?: boolean; affinityTimeout: number; backends: Array<{ address: string; state: string }> }>> {
    const rows = JSON.parse(await this.sluice(node, 'service', 'list', '-o', 'json')) as Array<{ frontend: string; name: string; programmed?: boolean; affinityTimeout: number; backends: Array<{ address: string; state: string }> }>;
    return all ? rows : rows.filter((r) => r.programmed !== false);
  }

  /** Run the `sluice` CLI for a node. */
  async sluice(node: string, ...args: string[]): Promise<string> {
    const { stdout } = await execFileP(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', this.nodeName(node), ...args], { maxBuffer: 16 << 20 });
    return stdout;
  }

  /** Both nodes' datapaths hold exactly the expected frontends and backends. */
  async datapathMismatch(): Promise<string | undefined> {
    const want = this.expectedFrontends();
    for (const n of NODES) {
      const rows = await this.serviceList(n);
      const have = new Map(rows.map((r) => [r.frontend, r.backends.filter((b) => b.state === 'active').map((b) => b.address).sort()]));
      for (const [fe, bes] of want) {
        const got = have.get(fe);
        if (!got) return `node ${n}: no frontend ${fe}`;
        if (got.join(',') !== bes.join(',')) return `node ${n}: ${fe} has [${got.join(', ')}], want [${bes.join(', ')}]`;
      }
    }
    return undefined;
  }

  async waitConverged(timeoutMs = 30000): Promise<void> {
    let last: string | undefined;
    await waitFor('both datapaths to hold the examples', async () => { last = await this.datapathMismatch(); return last === undefined; }, timeoutMs, 250)
      .catch((e: Error) => { throw new Error(`${e.message} (${last})`); });
  }

  /** A traffic driver in a pod (cached). */
  async podClient(pod: string): Promise<PodClient> {
    let c = this.#clients.get(pod);
    if (!c) {
      c = await this.cluster.client(pod);
      this.pids.add(c.proc.pid!);
      this.#clients.set(pod, c);
    }
    return c;
  }

  /** `count` requests from `from` to a service port (over IPv6 with family 6); counts keyed by answering pod ("pod client-address" with byClient). */
  async requests(service: string, opts: { from?: string; port?: string; count?: number; concurrency?: number; byPort?: boolean; byClient?: boolean; family?: 4 | 6 } = {}): Promise<BurstResult> {
    const c = await this.podClient(opts.from ?? this.clientPod);
    const t = this.target(service, opts.port, opts.family);
    return c.burst(t.target, { proto: t.proto, count: opts.count ?? 100, concurrency: opts.concurrency ?? 4, byPort: opts.byPort, byClient: opts.byClient, timeoutMs: 2000 });
  }

  // ---------------------------------------------------------------------------------------------
  // Scaling

  deploymentReplicas(name: string, namespace = 'default'): number {
    const d = this.#deployments.get(`${namespace}/${name}`);
    if (!d) throw new Error(`no deployment ${namespace}/${name}`);
    return d.replicas;
  }

  /**
   * Set a Deployment's replicas by editing its manifest. New pods are created and serving before
   * the edit; removed pods keep running until `finish()` (call it once traffic has left them).
   * `writtenAt` is performance.now() right after the file was renamed into place.
   */
  async scale(name: string, replicas: number, namespace = 'default'): Promise<{ writtenAt: number; added: string[]; removed: string[]; finish: () => Promise<void> }> {
    const d = this.#deployments.get(`${namespace}/${name}`);
    if (!d) throw new Error(`no deployment ${namespace}/${name}`);
    if (replicas < 0 || replicas > MAX_REPLICAS) throw new Error(`replicas ${replicas}: the sim reserves IPs for at most ${MAX_REPLICAS}`);
    const added: string[] = [], removed: string[] = [];
    for (let i = d.replicas; i < replicas; i++) {
      const p = this.#expectPod(d, i);
      await this.#addPod(p);
      added.push(p.name);
    }
    for (let i = replicas; i < d.replicas; i++) {
      const pod = `${d.name}-${i}`;
      removed.push(pod);
      const p = this.pods.get(pod);
      if (p) p.ready = false; // no longer an expected backend
    }
    d.replicas = replicas;
    d.doc.spec = { ...d.doc.spec, replicas };
    this.#writeFile(d.file);
    const writtenAt = performance.now();
    return {
      writtenAt, added, removed,
      finish: async () => {
        for (const pod of removed) {
          this.#servers.get(pod)?.kill('SIGKILL');
          this.#servers.delete(pod);
          await this.cluster.removePod(pod);
          this.pods.delete(pod);
        }
      },
    };
  }

  /**
   * After a manifest change: short bursts to `service` until `done` says so (or `maxMs`), each
   * burst's end time relative to `since`, with the pods that answered in it.
   */
  async poll(service: string, since: number, opts: { maxMs: number; burst?: number; done?: (seen: Set<string>, elapsedMs: number) => boolean }): Promise<Poll[]> {
    const out: Poll[] = [];
    for (;;) {
      const r = await this.requests(service, { count: opts.burst ?? 12, concurrency: 4 });
      const atMs = performance.now() - since;
      out.push({ atMs, counts: r.counts, failed: r.failed, stalled: r.slow.length });
      if (opts.done?.(new Set(Object.keys(r.counts)), atMs) || atMs > opts.maxMs) return out;
      await sleep(5); // ~100 bursts a second at most: fine-grained, yet bounded load
    }
  }

  /**
   * Scale a Deployment up and measure, with short bursts from the client pod to `service`, how long
   * after the manifest write the first new pod answered (an upper bound: the end of that burst).
   */
  async scaleUp(deployment: string, service: string, replicas: number, maxMs = 5000): Promise<{ added: string[]; reactionMs: number | undefined; failed: number; stalled: number; polls: number }> {
    const up = await this.scale(deployment, replicas);
    const polls = await this.poll(service, up.writtenAt, { maxMs, done: (seen) => up.added.some((p) => seen.has(p)) });
    const hit = polls.find((p) => up.added.some((a) => p.counts[a]));
    return { added: up.added, reactionMs: hit?.atMs, failed: polls.reduce((n, p) => n + p.failed, 0), stalled: stalled(polls), polls: polls.length };
  }

  /**
   * Scale a Deployment down, keep sending short bursts for `windowMs` and report when the last
   * request reached a removed pod (an upper bound: the end of that burst; 0 if none did); the
   * removed pods are deleted afterwards, once both datapaths have dropped them.
   */
  async scaleDown(deployment: string, service: string, replicas: number, windowMs = 2000): Promise<{ removed: string[]; lastSeenMs: number; failed: number; stalled: number; polls: number; pollsAfter: number; windowMs: number }> {
    const dn = await this.scale(deployment, replicas);
    const polls = await this.poll(service, dn.writtenAt, { maxMs: windowMs });
    const seen = polls.filter((p) => dn.removed.some((r) => p.counts[r]));
    const lastSeenMs = seen.length ? seen[seen.length - 1]!.atMs : 0;
    await this.waitConverged(10000);
    await dn.finish();
    return {
      removed: dn.removed, lastSeenMs, failed: polls.reduce((n, p) => n + p.failed, 0), stalled: stalled(polls), polls: polls.length,
      pollsAfter: polls.filter((p) => p.atMs > lastSeenMs).length, windowMs: polls[polls.length - 1]!.atMs,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Teardown

  async destroy(): Promise<void> {
    await this.cluster.destroy();
    fs.rmSync(this.manifestsDir, { recursive: true, force: true });
    if (this.cp) fs.rmSync(path.dirname(this.cp.stateFile), { recursive: true, force: true });
  }

  /** What this run left behind: namespaces, root-namespace links, pins, status files, processes, files. */
  async leftovers(timeoutMs = 5000): Promise<string[]> {
    const run = this.runId;
    const find = (): string[] => {
      const out: string[] = [];
      for (const ns of listNamespaces()) if (ns.startsWith(`${NS_PREFIX}${run}-`)) out.push(`namespace ${ns}`);
      const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
      for (const l of links.split('\n')) {
        const name = /^\d+: ([^:@]+)/.exec(l)?.[1];
        if (name && this.hostIfs.has(name)) out.push(`root-namespace link ${name}`);
      }
      for (const root of [PIN_ROOT, RUN_DIR]) {
        let dirs: string[] = [];
        try { dirs = fs.readdirSync(root); } catch { /* none */ }
        for (const d of dirs) if (d === run || d.startsWith(`${run}-`)) out.push(`${root}/${d}`);
      }
      for (const pid of this.pids) if (pidRunning(pid)) out.push(`process ${pid} (${cmdline(pid)})`);
      for (const f of [this.manifestsDir, this.cp ? path.dirname(this.cp.stateFile) : '']) if (f && fs.existsSync(f)) out.push(`directory ${f}`);
      return out;
    };
    const until = Date.now() + timeoutMs;
    for (;;) {
      const l = find();
      if (l.length === 0 || Date.now() > until) return l;
      await sleep(100);
    }
  }
}

/** Alive and not a zombie (a killed child is a zombie until Node reaps it). */
export function pidRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch { return false; }
}

function cmdline(pid: number): string {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120); } catch { return '?'; }
}

/** `bpftool map dump pinned .../sl_services` on a node (named fields thanks to BTF). */
export async function bpftoolServices(s: ExamplesCluster, node: string): Promise<string> {
  return nsRun(s.cluster.node(node).ns, 'bpftool', ['map', 'dump', 'pinned', `${PIN_ROOT}/${s.nodeName(node)}/sl_services`]);
}

/** Share of each pod in a burst's counts. */
export function shares(r: BurstResult): Record<string, number> {
  const total = Object.values(r.counts).reduce((a, b) => a + b, 0) || 1;
  return Object.fromEntries(Object.entries(r.counts).map(([k, v]) => [k, v / total]));
}

/** One burst of ExamplesCluster.poll: when it ended, who answered, what failed, and how many
 *  requests took 1 s or more (a lost packet: a dropped SYN waits the 1 s retransmission timeout). */
export interface Poll { atMs: number; counts: Record<string, number>; failed: number; stalled: number }

const stalled = (polls: Poll[]): number => polls.reduce((n, p) => n + p.stalled, 0);

/**
 * Spread tolerance: each backend's count lies within 4.5 standard deviations of a binomial(count,
 * 1/backends) around the fair share — for a fair spread about 1 in 150,000 per backend, so the suite's
 * few dozen checks do not flake, while 100 requests over 3 backends must land each in 13..54 (70/15/15
 * is 7.8 sd out) and over 2 in 28..72. Nothing else answers and nothing fails.
 */
export function spreadOk(r: BurstResult, backends: string[], count: number): { ok: boolean; why: string } {
  if (r.failed > 0) return { ok: false, why: `${r.failed} failed (${JSON.stringify(r.errors)})` };
  if (r.ok !== count) return { ok: false, why: `${r.ok}/${count} answered` };
  const stray = Object.keys(r.counts).filter((k) => !backends.includes(k));
  if (stray.length) return { ok: false, why: `unexpected answers from ${stray.join(', ')}` };
  const p = 1 / backends.length, sd = Math.sqrt(count * p * (1 - p));
  const min = Math.ceil(count * p - 4.5 * sd), max = Math.floor(count * p + 4.5 * sd);
  const off = backends.filter((b) => (r.counts[b] ?? 0) < min || (r.counts[b] ?? 0) > max);
  if (off.length) return { ok: false, why: `${off.map((b) => `${b} ${r.counts[b] ?? 0}`).join(', ')} outside ${min}..${max}` };
  return { ok: true, why: `each in ${min}..${max}` };
}
