// The simulated cluster: nodes and pods as network namespaces, one implementation for the tests,
// the demo and the benchmarks.
//
//   sluice-<run>-fabric      a bridge joining the nodes' eth0 (10.10.0.0/24, fd00:10:10::/64), like a
//                            ToR switch
//   sluice-<run>-<node>      a node: eth0 on the fabric, 169.254.1.1/32 on lo as the pods' gateway,
//                            a route per pod to its host-side veth (lxc*), routes to the other
//                            nodes' pod CIDRs (10.244.<i>.0/24, fd00:10:244:<i>::/64) over the fabric
//   sluice-<run>-<node>-<pod> a pod: eth0 with a /32 and a /128, default routes via 169.254.1.1 and
//                            fe80::1 (on the host side of its veth)
//
// Both families everywhere (a dual-stack cluster); an IPv6 address mirrors its IPv4 twin's last
// number as text (10.244.1.5 <-> fd00:10:244:1::5), so either names the other at a glance.
// Duplicate address detection is off in every namespace: addresses are usable at once.
//
// Each node also has a cgroup v2 directory of that name, each pod one inside its node's
// (sim/cgroup.ts); every process started for a node or a pod runs in it.
//
// Nothing is created in the root namespace, and addresses never leave these namespaces.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import readline from 'node:readline';
import { makeCgroup, removeCgroupSync } from './cgroup.ts';
import {
  cleanupStale, deleteNamespaceSync, deletePinsSync, ensureBpffs, NS_PREFIX, nsRun, nsSpawn, run, waitFor,
} from './netns.ts';

export const REPO = new URL('..', import.meta.url).pathname;
export const NODE_BIN = process.execPath;
export const GATEWAY = '169.254.1.1';
/** The pods' IPv6 gateway: a link-local address on the host side of every pod's veth. */
export const GATEWAY6 = 'fe80::1';

/** The IPv6 twin of a sim IPv4 address in 10.10.0.0/24 (fabric) or 10.244.<i>.0/24 (pods). */
export function simIp6(ip4: string): string {
  const [a, b, c, d] = ip4.split('.');
  if (a === '10' && b === '10' && c === '0') return `fd00:10:10::${d}`;
  if (a === '10' && b === '244') return `fd00:10:244:${c}::${d}`;
  throw new Error(`${ip4}: no IPv6 twin in the simulated cluster's ranges`);
}
/** Ephemeral source ports of clients in the simulation; tests bind fixed ports below 50000. */
export const CLIENT_EPHEMERAL_PORTS = '50000 60999';

export interface SimNode {
  name: string;
  index: number;
  ns: string;
  /** Node name as the agent knows it; also its pin directory name. */
  nodeName: string;
  ip: string;
  /** The node's IPv6 address on the fabric (fd00:10:10::<index>). */
  ip6: string;
  podCidr: string;
  podCidr6: string;
  /** The node's cgroup v2 directory: its agent attaches the socket-level programs here. */
  cgroup: string;
  pods: Map<string, SimPod>;
}

export interface SimPod {
  name: string;
  node: SimNode;
  ns: string;
  ip: string;
  ip6: string;
  hostIf: string;
  /** The pod's cgroup, a child of its node's. */
  cgroup: string;
}

const live = new Set<SimCluster>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const sync = () => { for (const c of live) c.destroySync(); };
  process.on('exit', sync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => { sync(); process.exit(130); });
  }
}

export class SimCluster {
  readonly runId: string;
  readonly nodes = new Map<string, SimNode>();
  readonly fabricNs: string;
  #procs = new Set<ChildProcess>();
  #namespaces: string[] = [];
  /** cgroup of each node's and pod's namespace; nodes' (which hold their pods') are removed on destroy. */
  #cgroups = new Map<string, string>();
  #nextPodHost = new Map<string, number>();
  #destroyed = false;

  private constructor(runId: string) {
    this.runId = runId;
    this.fabricNs = `${NS_PREFIX}${runId}-fabric`;
  }

  /** `runId` defaults to p<pid>; a fixed one (e.g. "demo") first removes that run's leftovers. */
  static async create(opts: { runId?: string; nodes: string[] }): Promise<SimCluster> {
    const runId = opts.runId ?? `p${process.pid}`;
    if (!/^[a-z0-9]+$/.test(runId)) throw new Error(`run id ${runId}: use lower-case letters and digits`);
    ensureBpffs();
    cleanupStale(opts.runId);
    const c = new SimCluster(runId);
    live.add(c);
    hookExit();
    try {
      await c.#addNamespace(c.fabricNs);
      await nsRun(c.fabricNs, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
      await nsRun(c.fabricNs, 'ip', ['link', 'set', 'br0', 'up']);
      let i = 0;
      for (const n of opts.nodes) await c.#addNode(n, ++i);
      // Every node routes every other node's pod CIDRs over the fabric.
      for (const a of c.nodes.values()) {
        for (const b of c.nodes.values()) {
          if (a === b) continue;
          await nsRun(a.ns, 'ip', ['route', 'add', b.podCidr, 'via', b.ip, 'dev', 'eth0']);
          await nsRun(a.ns, 'ip', ['-6', 'route', 'add', b.podCidr6, 'via', b.ip6, 'dev', 'eth0']);
        }
      }
      return c;
    } catch (e) {
      await c.destroy();
      throw e;
    }
  }

  async #addNamespace(ns: string): Promise<void> {
    await run('ip', ['netns', 'add', ns]);
    this.#namespaces.push(ns);
    // Before any interface exists, so every one (and a veth moved in) inherits it: no tentative
    // addresses waiting out duplicate address detection.
    await nsRun(ns, 'sysctl', ['-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0']);
    await nsRun(ns, 'ip', ['link', 'set', 'lo', 'up']);
  }

  /**
   * Clients (pods, outside hosts) take ephemeral ports from CLIENT_EPHEMERAL_PORTS only, so a test
   * may bind fixed source ports below it (to compare the same flows before and after a change)
   * without a connection it holds open having taken one of them (EADDRINUSE).
   */
  async #clientPorts(ns: string): Promise<void> {
    await nsRun(ns, 'sysctl', ['-qw', `net.ipv4.ip_local_port_range=${CLIENT_EPHEMERAL_PORTS}`]);
  }

  async #addNode(name: string, index: number): Promise<void> {
    if (!/^[a-z0-9]+$/.test(name)) throw new Error(`node name ${name}: use lower-case letters and digits`);
    const ns = `${NS_PREFIX}${this.runId}-${name}`;
    await this.#addNamespace(ns);
    const node: SimNode = {
      name, index, ns, nodeName: `${this.runId}-${name}`, ip: `10.10.0.${index}`, ip6: `fd00:10:10::${index}`,
      podCidr: `10.244.${index}.0/24`, podCidr6: `fd00:10:244:${index}::/64`,
      cgroup: makeCgroup(ns), pods: new Map(),
    };
    this.#cgroups.set(ns, node.cgroup);
    // The fabric end is created inside the fabric namespace and its peer moved straight into the node.
    await nsRun(this.fabricNs, 'ip', ['link', 'add', `n${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await nsRun(this.fabricNs, 'ip', ['link', 'set', `n${index}`, 'master', 'br0', 'up']);
    // Native XDP_TX on the node's eth0 hands frames to this peer, which takes them only while it
    // runs XDP itself (as a NIC's receive path would): a program that passes everything.
    await nsRun(this.fabricNs, 'ip', ['link', 'set', 'dev', `n${index}`, 'xdpdrv', 'obj', `${REPO}build/bpf/sim_xdp_pass.o`, 'sec', 'xdp']);
    await nsRun(ns, 'ip', ['addr', 'add', `${node.ip}/24`, 'dev', 'eth0']);
    await nsRun(ns, 'ip', ['addr', 'add', `${node.ip6}/64`, 'dev', 'eth0', 'nodad']);
    await nsRun(ns, 'ip', ['link', 'set', 'eth0', 'up']);
    await wireChecksums(ns);
    await nsRun(ns, 'ip', ['addr', 'add', `${GATEWAY}/32`, 'dev', 'lo']);
    await nsRun(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    this.nodes.set(name, node);
  }

  /**
   * A host outside the cluster on the nodes' link (a client, or a router in front of the nodes):
   * `sluice-<run>-<name>` with eth0 <ip>/24 on the fabric, and its IPv6 twin (simIp6) /64. `routes`
   * send prefixes of either family (external or LoadBalancer IPs, pod CIDRs) to a node, as a router
   * would.
   */
  async addOutside(name: string, ip: string, routes: Array<{ to: string; via: string }> = []): Promise<{ ns: string; ip: string; ip6: string }> {
    const ns = `${NS_PREFIX}${this.runId}-${name}`;
    await this.#addNamespace(ns);
    await this.#clientPorts(ns);
    const end = `o${this.#namespaces.length}`;
    await nsRun(this.fabricNs, 'ip', ['link', 'add', end, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await nsRun(this.fabricNs, 'ip', ['link', 'set', end, 'master', 'br0', 'up']);
    const ip6 = simIp6(ip);
    await nsRun(ns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await nsRun(ns, 'ip', ['addr', 'add', `${ip6}/64`, 'dev', 'eth0', 'nodad']);
    await nsRun(ns, 'ip', ['link', 'set', 'eth0', 'up']);
    await wireChecksums(ns);
    for (const r of routes) {
      const v6 = r.to.includes(':');
      await nsRun(ns, 'ip', [...(v6 ? ['-6'] : []), 'route', 'add', r.to, 'via', v6 ? this.node(r.via).ip6 : this.node(r.via).ip]);
    }
    return { ns, ip, ip6 };
  }

  /** A traffic driver (sim/tools/podclient.ts) in any namespace of this cluster. */
  async clientIn(ns: string): Promise<PodClient> {
    const c = new PodClient(this.spawnTs(ns, 'sim/tools/podclient.ts', []));
    await c.ready();
    return c;
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name} in the simulated cluster`);
    return n;
  }

  pod(name: string): SimPod {
    for (const n of this.nodes.values()) { const p = n.pods.get(name); if (p) return p; }
    throw new Error(`no pod ${name} in the simulated cluster`);
  }

  /** Pod "client" and `backends` serving `ports` on node `nodeName`: the usual single-node test setup. */
  async addClientAndBackends(nodeName: string, backends: string[], ports: { tcp?: number[]; udp?: number[] }): Promise<void> {
    await this.addPod(nodeName, 'client');
    for (const b of backends) {
      await this.addPod(nodeName, b);
      await this.serve(b, ports);
    }
  }

  /**
   * Add a pod on `nodeName`; its IPv4 address is the next free one in the node's pod CIDR unless
   * given, its IPv6 address that one's twin (simIp6).
   */
  async addPod(nodeName: string, name: string, opts: { ip?: string } = {}): Promise<SimPod> {
    const node = this.node(nodeName);
    if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`pod name ${name}: use lower-case letters, digits and dashes`);
    let ip = opts.ip;
    if (!ip) {
      const host = (this.#nextPodHost.get(node.name) ?? 1) + 1;
      this.#nextPodHost.set(node.name, host);
      ip = `10.244.${node.index}.${host}`;
    }
    const ns = `${node.ns}-${name}`;
    const hostIf = `lxc${crypto.createHash('sha1').update(ns).digest('hex').slice(0, 10)}`;
    await this.#addNamespace(ns);
    await this.#clientPorts(ns);
    const cgroup = makeCgroup(ns, node.cgroup);
    this.#cgroups.set(ns, cgroup);
    await nsRun(node.ns, 'ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    const ip6 = simIp6(ip);
    await nsRun(ns, 'ip', ['addr', 'add', `${ip}/32`, 'dev', 'eth0']);
    await nsRun(ns, 'ip', ['addr', 'add', `${ip6}/128`, 'dev', 'eth0', 'nodad']);
    await nsRun(ns, 'ip', ['link', 'set', 'eth0', 'up']);
    await nsRun(ns, 'ip', ['route', 'add', GATEWAY, 'dev', 'eth0', 'scope', 'link']);
    await nsRun(ns, 'ip', ['route', 'add', 'default', 'via', GATEWAY, 'dev', 'eth0']);
    await nsRun(ns, 'ip', ['-6', 'route', 'add', 'default', 'via', GATEWAY6, 'dev', 'eth0']);
    await nsRun(node.ns, 'ip', ['addr', 'add', `${GATEWAY6}/64`, 'dev', hostIf, 'nodad']);
    await nsRun(node.ns, 'ip', ['link', 'set', hostIf, 'up']);
    await nsRun(node.ns, 'ip', ['route', 'add', `${ip}/32`, 'dev', hostIf]);
    await nsRun(node.ns, 'ip', ['-6', 'route', 'add', `${ip6}/128`, 'dev', hostIf]);
    const pod: SimPod = { name, node, ns, ip, ip6, hostIf, cgroup };
    node.pods.set(name, pod);
    return pod;
  }

  async removePod(name: string): Promise<void> {
    const pod = this.pod(name);
    deleteNamespaceSync(pod.ns);
    removeCgroupSync(pod.cgroup);
    this.#cgroups.delete(pod.ns);
    this.#namespaces = this.#namespaces.filter((n) => n !== pod.ns);
    await nsRun(pod.node.ns, 'ip', ['route', 'del', `${pod.ip}/32`], { allowFail: true });
    await nsRun(pod.node.ns, 'ip', ['-6', 'route', 'del', `${pod.ip6}/128`], { allowFail: true });
    pod.node.pods.delete(name);
  }

  /** Start a process in a namespace (and its node's or pod's cgroup); it is killed on destroy(). */
  spawn(ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const p = nsSpawn(ns, cmd, args, { env: { ...process.env, ...env } }, this.#cgroups.get(ns));
    this.#procs.add(p);
    p.on('exit', () => this.#procs.delete(p));
    return p;
  }

  /** Start a process in the root namespace (for what needs no network of its own, such as a
   *  control plane on a Unix socket); it is killed on destroy(). */
  spawnLocal(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.#procs.add(p);
    p.on('exit', () => this.#procs.delete(p));
    return p;
  }

  /** Run a TypeScript entry point of this repo with the current Node inside a namespace. */
  spawnTs(ns: string, script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    return this.spawn(ns, NODE_BIN, [`${REPO}${script}`, ...args], env);
  }

  /** Start the pod's workload (sim/tools/podserver.ts) and wait until it listens. */
  async serve(podName: string, ports: { tcp?: number[]; udp?: number[] }, opts: { name?: string } = {}): Promise<ChildProcess> {
    const pod = this.pod(podName);
    const p = this.spawnTs(pod.ns, 'sim/tools/podserver.ts', [
      '--name', opts.name ?? pod.name, '--tcp', (ports.tcp ?? []).join(','), '--udp', (ports.udp ?? []).join(','),
    ]);
    await waitForLine(p, (l) => l === 'ready', 20000, `podserver in ${pod.name}`);
    return p;
  }

  /** A driver for client traffic from this pod (sim/tools/podclient.ts). */
  async client(podName: string): Promise<PodClient> {
    const pod = this.pod(podName);
    const p = this.spawnTs(pod.ns, 'sim/tools/podclient.ts', []);
    const c = new PodClient(p);
    await c.ready();
    return c;
  }

  async destroy(): Promise<void> {
    this.destroySync();
  }

  /** Kill processes, delete namespaces (which removes their links and routes), cgroups and pinned maps. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const p of this.#procs) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
    for (const ns of [...this.#namespaces].reverse()) deleteNamespaceSync(ns);
    // Every cgroup made, not only the nodes': one made for a node whose setup then failed is in no
    // node yet. A node's removal takes its pods' with it (the rest are then gone).
    for (const dir of this.#cgroups.values()) {
      try { removeCgroupSync(dir); } catch (e) { process.stderr.write(`${(e as Error).message}\n`); }
    }
    deletePinsSync(this.runId);
    live.delete(this);
  }
}

/**
 * The fabric stands for a physical link, where every frame carries a complete checksum. A veth
 * would otherwise hand on the partial (pseudo-header only) checksums of the local stack, which
 * no NIC ever receives and XDP is not meant to see.
 */
async function wireChecksums(ns: string): Promise<void> {
  await nsRun(ns, 'ethtool', ['-K', 'eth0', 'tx', 'off']);
}

/** Resolve with the first stdout line that `match` accepts. */
export function waitForLine(p: ChildProcess, match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = '';
    const rl = readline.createInterface({ input: p.stdout! });
    p.stderr?.on('data', (d) => { err = (err + d).slice(-4000); });
    const timer = setTimeout(() => { rl.close(); reject(new Error(`${what}: no ready line after ${timeoutMs} ms. stderr: ${err}`)); }, timeoutMs);
    const onExit = (code: number | null) => { clearTimeout(timer); rl.close(); reject(new Error(`${what} exited (${code}) before it was ready. stderr: ${err}`)); };
    p.once('exit', onExit);
    rl.on('line', (l) => {
      if (match(l)) { clearTimeout(timer); p.off('exit', onExit); rl.close(); resolve(l); }
    });
  });
}

export interface BurstResult {
  ok: number;
  failed: number;
  counts: Record<string, number>;
  errors: Record<string, number>;
  ms: number[];
  /** With srcPort: local port -> pod that answered. */
  flows?: Record<string, string>;
  /** The first 100 failed attempts: error, when it started (epoch ms), how long it took. */
  failures: Array<{ code: string; at: number; ms: number }>;
  /** The first 100 attempts (failed or not) that took slowMs (default 1000) or longer. */
  slow: Array<{ at: number; ms: number }>;
}

/** One JSON command per line to sim/tools/podclient.ts, one JSON result back. */
export class PodClient {
  readonly proc: ChildProcess;
  #lines: string[] = [];
  #waiters: Array<(l: string) => void> = [];

  constructor(p: ChildProcess) {
    this.proc = p;
    const rl = readline.createInterface({ input: p.stdout! });
    rl.on('line', (l) => {
      const w = this.#waiters.shift();
      if (w) w(l); else this.#lines.push(l);
    });
  }

  #next(timeoutMs: number): Promise<string> {
    const l = this.#lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pod client: no answer after ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push((line) => { clearTimeout(timer); resolve(line); });
    });
  }

  async ready(): Promise<void> {
    const l = await this.#next(20000);
    if (!JSON.parse(l).ready) throw new Error(`pod client: unexpected first line ${l}`);
  }

  async cmd<T>(c: Record<string, unknown>, timeoutMs = 120000): Promise<T> {
    this.proc.stdin ? this.proc.stdin.write(JSON.stringify(c) + '\n') : undefined;
    const out = JSON.parse(await this.#next(timeoutMs)) as T & { error?: string };
    if (out.error) throw new Error(`pod client ${String(c.op)}: ${out.error}`);
    return out;
  }

  burst(target: string, opts: { proto?: 'tcp' | 'udp'; slowMs?: number; count?: number; concurrency?: number; timeoutMs?: number; byPort?: boolean; byClient?: boolean; srcPort?: number; durationMs?: number } = {}): Promise<BurstResult> {
    return this.cmd({ op: 'burst', target, ...opts });
  }

  echo(target: string, bytes: number, proto: 'tcp' | 'udp' = 'tcp'): Promise<{ pod: string; intact: boolean }> {
    return this.cmd({ op: 'echo', target, bytes, proto });
  }

  open(target: string, n: number): Promise<{ pods: string[] }> {
    return this.cmd({ op: 'open', target, n });
  }

  ping(): Promise<{ ok: number; failed: number; byPod: Record<string, { ok: number; failed: number }> }> {
    return this.cmd({ op: 'ping' });
  }

  closeAll(): Promise<{ closed: number }> {
    return this.cmd({ op: 'closeAll' });
  }
}
