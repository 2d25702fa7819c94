// cgroup v2 directories for the simulated cluster: one per node, named sluice-<run>-<node>, right
// under the machine's cgroup v2 mount, and one per pod inside its node's. A process started for a
// node or a pod joins its cgroup before it execs, so a node agent's socket-level programs, attached
// at its node's cgroup, see exactly that node's processes and pods. Never the mount's root itself.
import fs from 'node:fs';
import path from 'node:path';

let mount: string | undefined;

/** Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified in the hybrid layout). */
export function cgroupV2Mount(): string {
  if (mount) return mount;
  const line = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2');
  if (!line) throw new Error('no cgroup v2 hierarchy is mounted (see /proc/mounts)');
  mount = line[1]!;
  return mount;
}

/** Make a cgroup: `name` right under the v2 mount, or inside `parent`. */
export function makeCgroup(name: string, parent = cgroupV2Mount()): string {
  if (!name.startsWith('sluice-')) throw new Error(`cgroup ${name}: the simulation only makes sluice-… cgroups`);
  const dir = path.join(parent, name);
  fs.mkdirSync(dir);
  return dir;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Kill every process in cgroup `dir` and its children, then remove them all (synchronous, for exit handlers). */
export function removeCgroupSync(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupSync(path.join(dir, e.name));
  try { fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1'); } catch { /* gone, or a kernel without cgroup.kill */ }
  // rmdir answers EBUSY until the killed processes have exited.
  for (let i = 0; ; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 100) throw new Error(`cannot remove cgroup ${dir}: ${(e as Error).message}`);
      sleepSync(20);
    }
  }
}

/** Remove the top-level sluice-<run>-… cgroups of the runs `isGone` names. */
export function removeStaleCgroupsSync(isGone: (run: string) => boolean): string[] {
  let names: string[] = [];
  try { names = fs.readdirSync(cgroupV2Mount()); } catch { return []; }
  const removed: string[] = [];
  for (const n of names) {
    if (!n.startsWith('sluice-') || !isGone(n.slice('sluice-'.length).split('-')[0]!)) continue;
    removeCgroupSync(path.join(cgroupV2Mount(), n));
    removed.push(n);
  }
  return removed;
}

/**
 * Argument vector that runs `cmd` as a member of cgroup `dir`: a shell writes its own pid to
 * cgroup.procs and then execs, so the command (and all it starts) is in the cgroup from its first
 * instruction, with the same pid.
 */
export function inCgroup(dir: string, cmd: string, args: string[]): [string, string[]] {
  return ['sh', ['-c', 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', 'sh', dir, cmd, ...args]];
}
