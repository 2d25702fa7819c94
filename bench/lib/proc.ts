// Small process helpers for the benchmark: line queues over a child's stdout, draining output
// nobody reads (a full pipe would stall the child), bounded waits.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { nsRun, sleep } from '../../sim/netns.ts';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

/** Every stdout line of a child, in order, for awaiting one at a time; stderr is kept (the tail). */
export class Lines {
  readonly proc: ChildProcess;
  #buf: string[] = [];
  #waiters: Array<{ match: (l: string) => boolean; resolve: (l: string) => void }> = [];
  #listeners: Array<(l: string) => void> = [];
  stderr = '';
  exited: number | null | undefined;

  constructor(p: ChildProcess) {
    this.proc = p;
    readline.createInterface({ input: p.stdout! }).on('line', (l) => this.#push(l));
    p.stderr?.on('data', (d) => { this.stderr = (this.stderr + String(d)).slice(-4000); });
    p.on('exit', (code) => { this.exited = code; });
  }

  #push(l: string): void {
    for (const f of this.#listeners) f(l);
    const i = this.#waiters.findIndex((w) => w.match(l));
    if (i >= 0) { const [w] = this.#waiters.splice(i, 1); w!.resolve(l); return; }
    this.#buf.push(l);
    if (this.#buf.length > 1000) this.#buf.shift();
  }

  onLine(f: (l: string) => void): void {
    this.#listeners.push(f);
  }

  /** The first line (already received or still to come) that `match` accepts. */
  next(match: (l: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    const i = this.#buf.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#buf.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (l: string) => { clearTimeout(timer); this.proc.off('exit', onExit); resolve(l); },
      };
      const fail = (why: string) => {
        const k = this.#waiters.indexOf(w);
        if (k >= 0) this.#waiters.splice(k, 1);
        this.proc.off('exit', onExit);
        reject(new Error(`${what}: ${why}. stderr: ${this.stderr.trim().slice(-1500)}`));
      };
      const timer = setTimeout(() => fail(`nothing after ${timeoutMs} ms`), timeoutMs);
      const onExit = (code: number | null) => { clearTimeout(timer); setTimeout(() => fail(`exited (${code})`), 50); };
      this.proc.once('exit', onExit);
      this.#waiters.push(w);
    });
  }
}

/** Read and drop a child's output so it never blocks on a full pipe. */
export function drain(p: ChildProcess): void {
  p.stdout?.resume();
  p.stderr?.resume();
}

/** Resident set size (VmRSS) and its peak (VmHWM) of a process, in bytes. */
export function rss(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/**
 * The process a namespace spawn really runs: `nsenter --net` execs its command in place, so the
 * child's pid is normally already it; if a wrapper forked, follow its only child.
 */
export function realPid(pid: number, comm: string): number {
  for (let depth = 0; depth < 3; depth++) {
    let name = '';
    try { name = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return pid; }
    if (name === comm) return pid;
    let kids: number[] = [];
    try { kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { /* none */ }
    if (kids.length !== 1) return pid;
    pid = kids[0]!;
  }
  return pid;
}

export function hrMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** iperf3 single-stream throughput in Gbit/s from a client in `ns` to host:port, up to 3 tries. */
export async function iperf3Gbps(ns: string, host: string, port: number, secs: number, what: string, cgroup?: string): Promise<number> {
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const out = await nsRun(ns, 'timeout', [String(secs + 20), 'iperf3', '-c', host, '-p', String(port), '-t', String(secs), '-J'], { allowFail: true });
    try {
      const j = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
      const bps = j.end?.sum_received?.bits_per_second;
      if (bps && bps > 0) return bps / 1e9;
      last = j.error ?? 'no result';
    } catch { last = out.slice(0, 200) || 'no output'; }
    await sleep(500);
  }
  throw new Error(`iperf3 through ${what}: ${last}`);
}

/** The first line of `cmd --version` (or "unknown"). */
function version(cmd: string): string {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').split('\n')[0]!.trim() || 'unknown';
}

/** The nft userspace version, quoted wherever an nft load time is: nft's own parsing and netlink
 *  batching are part of what is measured, and newer releases are faster. */
export function nftVersion(): string {
  return version('nft');
}

/** Userspace tool versions for a run's meta data. */
export function toolVersions(): { nft: string; iptables: string } {
  return { nft: nftVersion(), iptables: version('iptables') };
}

/**
 * Build the benchmark's C tools (`[source relative to @repo, binary]` pairs) with gcc, each only
 * when its binary is missing or older than its source.
 */
export function buildCTools(repo: string, tools: ReadonlyArray<readonly [string, string]>): void {
  for (const [src, bin] of tools) {
    const s = path.join(repo, src);
    fs.mkdirSync(path.dirname(bin), { recursive: true });
    if (fs.existsSync(bin) && fs.statSync(bin).mtimeMs > fs.statSync(s).mtimeMs) continue;
    const cc = spawnSync('gcc', ['-O2', '-Wall', '-o', bin, s], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`gcc ${src}: ${cc.stderr}`);
  }
}
