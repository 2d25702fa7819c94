// Sluice's production path for the benchmark: a Kubernetes API server (the test fixture that
// speaks the real list/watch protocol, run in this process on 127.0.0.1 in the root namespace),
// the control plane (controlplane/main.ts --source kubernetes: client-node informers -> store)
// in the root namespace serving gRPC on a Unix socket, which the agent in the node namespace
// dials by path. The benchmark's services become Service + EndpointSlice objects.
import fs from 'node:fs';
import path from 'node:path';
import { FakeApiServer, type KObj } from '../../test/fixtures/fake-apiserver.ts';
import { NODE_BIN, type SimCluster } from '../../sim/cluster.ts';
import type { BenchService } from './model.ts';
import { hrMs, Lines } from './proc.ts';
import { controlPlaneNodeEnv } from './deployed.ts';

export const SVC = '/api/v1/services';
export const EPS = '/apis/discovery.k8s.io/v1/endpointslices';

export function kubeService(s: BenchService): KObj {
  return {
    metadata: { name: s.name, namespace: s.namespace },
    spec: {
      type: 'ClusterIP', clusterIP: s.vip, clusterIPs: [s.vip],
      ports: s.ports.map((p) => ({ name: p.name, port: p.port, protocol: 'TCP', targetPort: p.endpoints[0]?.port ?? p.port })),
    },
  };
}

/** One EndpointSlice per service port (the benchmark's ports have different endpoint sets). */
export function kubeSlices(s: BenchService, nodeName: string): KObj[] {
  return s.ports.map((p) => ({
    metadata: { name: `${s.name}-${p.name}`, namespace: s.namespace, labels: { 'kubernetes.io/service-name': s.name } },
    addressType: 'IPv4',
    ports: [{ name: p.name, port: p.endpoints[0]?.port ?? p.port, protocol: 'TCP' }],
    endpoints: p.endpoints.map((e, i) => ({
      addresses: [e.ip], conditions: { ready: true, serving: true, terminating: false }, nodeName,
      targetRef: { kind: 'Pod', namespace: s.namespace, name: `${s.name}-${i}` },
    })),
  }));
}

/** `env` over the control plane's Deployment settings; NODE_OPTIONS of both are joined. */
function withDeployedNode(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const deployed = controlPlaneNodeEnv();
  return { ...env, GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? deployed.GLIBC_TUNABLES, NODE_OPTIONS: `${deployed.NODE_OPTIONS} ${env.NODE_OPTIONS ?? ''}`.trim() };
}

export interface CpUpdate { at: number; snapshot: boolean; upserts: number; removals: number; version: number; trace?: Record<string, number> }

/** The fake API server (in this process) and the control plane process reading it. */
export class ProductionPath {
  readonly api = new FakeApiServer();
  readonly socket: string;
  readonly dir: string;
  cp!: Lines;
  updates: CpUpdate[] = [];
  /** When (hrMs) the control plane logged each agent's hello ("agent connected"). */
  connected: number[] = [];
  #cluster: SimCluster;

  constructor(cluster: SimCluster, dir: string) {
    this.#cluster = cluster;
    this.dir = dir;
    this.socket = path.join(dir, 'cp.sock');
  }

  get address(): string { return `unix:${this.socket}`; }

  /**
   * Load `services` (no watch events: as if they existed before anyone watched), start the API
   * server and the control plane with its Deployment's Node settings (bench/lib/deployed.ts; `env`:
   * more environment for it, its NODE_OPTIONS added to the Deployment's); resolves once the
   * control plane has synced.
   */
  async start(services: BenchService[], nodeName: string, env: NodeJS.ProcessEnv = {}): Promise<{ syncedMs: number }> {
    for (const s of services) {
      this.api.upsert(SVC, kubeService(s), { silent: true });
      for (const sl of kubeSlices(s, nodeName)) this.api.upsert(EPS, sl, { silent: true });
    }
    await this.api.start();
    const kubeconfig = this.api.writeKubeconfig(this.dir, 'bench');
    const t0 = hrMs();
    const p = this.#cluster.spawnLocal(NODE_BIN, [path.join(import.meta.dirname, '../../controlplane/main.ts'),
      '--source', 'kubernetes', '--kubeconfig', kubeconfig, '--listen', this.address, '--log-level', 'debug'], withDeployedNode(env));
    this.cp = new Lines(p);
    this.cp.onLine((l) => {
      if (process.env.BENCH_DEBUG) process.stderr.write(`[cp] ${l.slice(0, 300)}\n`);
      if (l.includes('"agent connected"')) this.connected.push(hrMs());
      if (!l.includes('"update sent"')) return;
      try {
        const o = JSON.parse(l) as { version: number; snapshot: boolean; upserts: number; removals: number; trace?: Record<string, number> };
        this.updates.push({ at: hrMs(), snapshot: o.snapshot, upserts: o.upserts, removals: o.removals, version: o.version, trace: o.trace });
      } catch { /* not JSON */ }
    });
    await this.cp.next((l) => l.includes('"kubernetes source synced"'), 120000, 'control plane sync');
    const syncedMs = hrMs() - t0;
    await this.cp.next((l) => l.includes('"gRPC state server listening"'), 30000, 'control plane listen');
    return { syncedMs };
  }

  /** Replace the EndpointSlices of `s` (a MODIFIED watch event each); returns hrMs just before. */
  modify(s: BenchService, nodeName: string): number {
    const slices = kubeSlices(s, nodeName);
    const t0 = hrMs();
    for (const sl of slices) this.api.upsert(EPS, sl);
    return t0;
  }

  async stop(): Promise<void> {
    const p = this.cp?.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    await this.api.close();
  }
}
