// Low-level helpers for the simulated cluster: run commands, enter namespaces, clean up leftovers.
// Every namespace made here is named `sluice-<run>-...`; <run> is `p<pid>` for tests (so a later
// run can tell a dead run's leftovers from a live parallel run's) or a fixed name such as `demo`.
import { execFile, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { inCgroup, removeStaleCgroupsSync } from './cgroup.ts';

const execFileP = promisify(execFile);

export const NS_PREFIX = 'sluice-';
export const PIN_ROOT = '/sys/fs/bpf/sluice';
export const RUN_DIR = '/run/sluice';

export async function run(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): Promise<string> {
  try {
    if (opts.input !== undefined) {
      return await new Promise((resolve, reject) => {
        const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '', err = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (err += d));
        p.on('error', reject);
        p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
        p.stdin.end(opts.input);
      });
    }
    const { stdout } = await execFileP(cmd, args, { maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    if (opts.allowFail) return '';
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

/**
 * Argument vector that runs `cmd` in network namespace `ns` (mounts, bpffs included, stay shared),
 * and in cgroup `cgroup` when given (sim/cgroup.ts).
 */
export function inNs(ns: string, cmd: string, args: string[] = [], cgroup?: string): [string, string[]] {
  const argv: [string, string[]] = ['nsenter', [`--net=/run/netns/${ns}`, '--', cmd, ...args]];
  return cgroup ? inCgroup(cgroup, ...argv) : argv;
}

/** Run `cmd` in namespace `ns` (and in `opts.cgroup`, a simulated node's or pod's) and return its output. */
export async function nsRun(ns: string, cmd: string, args: string[], opts: { input?: string; allowFail?: boolean; cgroup?: string } = {}): Promise<string> {
  const [c, a] = inNs(ns, cmd, args, opts.cgroup);
  return run(c, a, opts);
}

export function nsSpawn(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}, cgroup?: string): ChildProcess {
  const [c, a] = inNs(ns, cmd, args, cgroup);
  return spawn(c, a, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
}

export function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(NS_PREFIX));
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Kill every process inside `ns`, then delete it. Synchronous so it also works in exit handlers. */
export function deleteNamespaceSync(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  for (const p of pids.split('\n').map(Number).filter((n) => n > 0)) {
    try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

/** Remove pinned maps and agent status files of the given run (<pin root>/<run>-*, <run dir>/<run>-*). */
export function deletePinsSync(runId: string): void {
  for (const root of [PIN_ROOT, RUN_DIR]) {
    let dirs: string[] = [];
    try { dirs = fs.readdirSync(root); } catch { continue; }
    for (const d of dirs) if (d === runId || d.startsWith(`${runId}-`)) fs.rmSync(path.join(root, d), { recursive: true, force: true });
  }
}

/**
 * Delete what earlier runs left behind: namespaces, cgroups and pins of `p<pid>` runs whose process
 * is gone, and everything of `alsoRun` (a fixed-name run such as the demo, restarted from scratch).
 */
export function cleanupStale(alsoRun?: string): string[] {
  const removed: string[] = [];
  const runs = new Set<string>();
  for (const ns of listNamespaces()) {
    const run = ns.slice(NS_PREFIX.length).split('-')[0]!;
    const m = /^p(\d+)$/.exec(run);
    if ((m && !pidAlive(Number(m[1]))) || run === alsoRun) {
      deleteNamespaceSync(ns);
      removed.push(ns);
      runs.add(run);
    }
  }
  let pinned: string[] = [];
  try { pinned = fs.readdirSync(PIN_ROOT); } catch { /* no pins */ }
  for (const d of pinned) {
    const run = d.split('-')[0]!;
    const m = /^p(\d+)$/.exec(run);
    if ((m && !pidAlive(Number(m[1]))) || run === alsoRun) runs.add(run);
  }
  for (const r of runs) deletePinsSync(r);
  removed.push(...removeStaleCgroupsSync((run) => {
    const m = /^p(\d+)$/.exec(run);
    return (!!m && !pidAlive(Number(m[1]))) || run === alsoRun;
  }));
  return removed;
}

export function ensureBpffs(): void {
  const mounts = fs.readFileSync('/proc/mounts', 'utf8');
  if (!/ \/sys\/fs\/bpf bpf /.test(mounts)) {
    const r = spawnSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot mount bpffs on /sys/fs/bpf: ${r.stderr}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 15000, everyMs = 100): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) { last = e; }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}
