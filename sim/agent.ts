// A Sluice agent process on a simulated node, with its structured log at hand.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { ServiceJson } from '../proto/contract.ts';
import type { SimCluster, SimNode } from './cluster.ts';

/**
 * Node flags the agent runs with: those of the image's launcher, deploy/image/bin/sluice-agent (its
 * `exec node <flags> ...` line; docs/benchmarks.md, "Where the memory goes", says why each).
 * Passed on the command line, as there (V8 flags such as --optimize-for-size are not allowed in
 * NODE_OPTIONS). SLUICE_AGENT_NODE_FLAGS replaces them.
 */
export const AGENT_NODE_FLAGS = process.env.SLUICE_AGENT_NODE_FLAGS ?? launcherFlags();

function launcherFlags(): string {
  const launcher = new URL('../deploy/image/bin/sluice-agent', import.meta.url);
  const m = /^exec node((?:\s+--\S+)*)\s+"/m.exec(fs.readFileSync(launcher, 'utf8'));
  if (!m) throw new Error(`${launcher.pathname}: no "exec node <flags> ..." line`);
  return m[1]!.trim();
}

/** The agent's log message when it keeps its previous state instead of a version. */
export const REFUSED = 'version not applied; previous state kept';

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface AgentOptions {
  /** Standalone source: the agent re-reads this JSON file. Made in a temp dir when neither source is given. */
  stateFile?: string;
  /** gRPC control plane address (host:port or unix:/path). */
  controlPlane?: string;
  /** More flags; a flag given here overrides the launcher's default (e.g. --log-level). */
  args?: string[];
  /** How long to wait for "agent ready" (default 30 s). */
  readyTimeoutMs?: number;
  /**
   * Another checkout whose agent (and, by default, datapath build) to run instead of this one's: a
   * benchmark's base build side by side with this one (bench/sockcost.ts).
   */
  checkout?: string;
  /**
   * The agent's compiled entry point (agent/main.js of a tree laid out by deploy/image/assemble.sh or
   * bench/lib/deployed.ts compileToJs) to run instead of agent/main.ts: JavaScript as the image runs
   * it, without Node's type stripper (its WebAssembly module and memory, ~18 MiB of RSS the image
   * does not have). The memory benchmarks use it.
   */
  main?: string;
}

export class SimAgent {
  readonly node: SimNode;
  readonly cluster: SimCluster;
  readonly stateFile: string | undefined;
  readonly #opts: AgentOptions;
  proc!: ChildProcess;
  logs: LogLine[] = [];
  stderr = '';
  #listeners = new Set<(l: LogLine) => void>();

  private constructor(cluster: SimCluster, node: SimNode, opts: AgentOptions) {
    this.cluster = cluster;
    this.node = node;
    this.#opts = opts;
    this.stateFile = opts.stateFile ?? (opts.controlPlane ? undefined
      : path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-state-')), 'services.json'));
  }

  static async start(cluster: SimCluster, nodeName: string, opts: AgentOptions = {}, services?: ServiceJson[]): Promise<SimAgent> {
    const a = new SimAgent(cluster, cluster.node(nodeName), opts);
    if (a.stateFile && (services || !fs.existsSync(a.stateFile))) writeAtomic(a.stateFile, { services: services ?? [] });
    await a.restart();
    return a;
  }

  /** (Re)start the process and wait for "agent ready". */
  async restart(): Promise<void> {
    const args = ['--node-name', this.node.nodeName, '--log-level', 'debug', '--cgroup-root', this.node.cgroup, ...(this.#opts.args ?? [])];
    if (this.stateFile) args.push('--state-file', this.stateFile);
    if (this.#opts.controlPlane) args.push('--control-plane', this.#opts.controlPlane);
    const since = this.logs.length;
    // As deploy/image/bin/sluice-agent runs it: its Node flags (AGENT_NODE_FLAGS) on the command line.
    const flags = AGENT_NODE_FLAGS.split(/\s+/).filter(Boolean);
    const env = { NODE_OPTIONS: process.env.NODE_OPTIONS ?? '' };
    const main = this.#opts.main ?? path.join(this.#opts.checkout ?? path.join(import.meta.dirname, '..'), 'agent/main.ts');
    const p = this.cluster.spawn(this.node.ns, process.execPath, [...flags, main, ...args], env);
    this.proc = p;
    p.stderr!.on('data', (d) => { this.stderr = (this.stderr + d).slice(-8000); });
    readline.createInterface({ input: p.stdout! }).on('line', (line) => {
      let l: LogLine;
      try { l = JSON.parse(line) as LogLine; } catch { l = { msg: line }; }
      this.logs.push(l);
      for (const fn of this.#listeners) fn(l);
    });
    // This process's own line, not an earlier run's.
    await this.waitLog((l) => l.msg === 'agent ready', this.#opts.readyTimeoutMs ?? 30000, since);
  }

  /** Call `fn` with every log line from now on (as it arrives); returns a function that stops it. */
  onLog(fn: (l: LogLine) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Resolve with the first log line (from `since` on) that matches. */
  waitLog(match: (l: LogLine) => boolean, timeoutMs = 15000, since = 0): Promise<LogLine> {
    const seen = this.logs.slice(since).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null, sig: string | null) => done(new Error(`agent on ${this.node.name} exited (code ${code}, signal ${sig}). stderr: ${this.stderr}; last lines: ${JSON.stringify(this.logs.slice(-5))}`));
      const timer = setTimeout(() => done(new Error(`agent on ${this.node.name}: no matching log line after ${timeoutMs} ms; last lines: ${JSON.stringify(this.logs.slice(-5))}`)), timeoutMs);
      const fn = (l: LogLine) => { if (match(l)) done(undefined, l); };
      const done = (err?: Error, l?: LogLine) => {
        clearTimeout(timer);
        this.#listeners.delete(fn);
        this.proc.off('exit', onExit);
        if (err) reject(err); else resolve(l!);
      };
      this.#listeners.add(fn);
      this.proc.once('exit', onExit);
    });
  }

  /** Standalone mode: write the services and wait until the agent has applied them; a refusal
   *  rejects (use offerServices to expect one). */
  async setServices(services: ServiceJson[]): Promise<LogLine> {
    const l = await this.offerServices(services);
    if (l.msg !== 'applied') throw new Error(`agent on ${this.node.name} refused the services: ${JSON.stringify(l)}`);
    return l;
  }

  /** Standalone mode: write the services and resolve with the agent's answer, applied or refused. */
  async offerServices(services: ServiceJson[]): Promise<LogLine> {
    if (!this.stateFile) throw new Error('agent runs with a control plane, not a state file');
    const since = this.logs.length;
    writeAtomic(this.stateFile, { services });
    return this.waitLog((l) => l.msg === 'applied' || l.msg === REFUSED, 20000, since);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) return resolve();
      this.proc.once('exit', () => resolve());
      // nsenter execs the agent, so this pid is the agent's own.
      this.proc.kill(signal);
    });
  }
}

export function writeAtomic(file: string, doc: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(doc));
  fs.renameSync(tmp, file);
}
