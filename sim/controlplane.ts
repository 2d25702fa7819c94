// A Sluice control plane process for the simulated cluster, with its structured log at hand.
// By default it runs in the root namespace on a Unix socket (mode 0600), which agents in any node
// namespace reach by path; with `ns` and a TCP `listen` it runs inside that namespace instead (a TCP
// address needs the mTLS flags in `args`, or --insecure-listen: see docs/security.md).
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { REPO, NODE_BIN, type SimCluster } from './cluster.ts';
import type { LogLine } from './agent.ts';

export interface ControlPlaneOptions {
  /** The manifests source's directory; or, with `kubeconfig`, the Kubernetes source instead. */
  manifestsDir?: string;
  kubeconfig?: string;
  /** gRPC address; default unix:<temp dir>/cp.sock. */
  listen?: string;
  /** Run inside this network namespace (for a TCP address on a node); default the root namespace. */
  ns?: string;
  args?: string[];
}

export class SimControlPlane {
  readonly cluster: SimCluster;
  readonly opts: ControlPlaneOptions;
  readonly address: string;
  readonly stateFile: string;
  proc!: ChildProcess;
  logs: LogLine[] = [];
  stderr = '';

  private constructor(cluster: SimCluster, opts: ControlPlaneOptions) {
    this.cluster = cluster;
    this.opts = opts;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cp-'));
    this.address = opts.listen ?? `unix:${path.join(dir, 'cp.sock')}`;
    this.stateFile = path.join(dir, 'allocations.json');
  }

  static async start(cluster: SimCluster, opts: ControlPlaneOptions): Promise<SimControlPlane> {
    const cp = new SimControlPlane(cluster, opts);
    await cp.restart();
    return cp;
  }

  async restart(): Promise<void> {
    const source = this.opts.kubeconfig ? ['--source', 'kubernetes', '--kubeconfig', this.opts.kubeconfig]
      : ['--source', 'manifests', '--manifests', this.opts.manifestsDir!, '--state-file', this.stateFile];
    const args = [`${REPO}controlplane/main.ts`, ...source, '--listen', this.address, '--rescan-interval', '2', '--log-level', 'debug', ...(this.opts.args ?? [])];
    const p = this.opts.ns ? this.cluster.spawn(this.opts.ns, NODE_BIN, args) : this.cluster.spawnLocal(NODE_BIN, args);
    this.proc = p;
    p.stderr!.on('data', (d) => { this.stderr = (this.stderr + d).slice(-8000); });
    const lines = readline.createInterface({ input: p.stdout! });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`control plane not listening after 30 s. stderr: ${this.stderr}`)), 30000);
      p.once('exit', (code) => { clearTimeout(timer); reject(new Error(`control plane exited (${code}). stderr: ${this.stderr}`)); });
      lines.on('line', (line) => {
        let l: LogLine;
        try { l = JSON.parse(line) as LogLine; } catch { l = { msg: line }; }
        this.logs.push(l);
        if (l.msg === 'gRPC state server listening') { clearTimeout(timer); resolve(); }
      });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) return resolve();
      this.proc.once('exit', () => resolve());
      this.proc.kill(signal);
    });
  }
}
