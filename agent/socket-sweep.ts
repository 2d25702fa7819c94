// Destroys sockets left connected to removed backends (bpf/sluice_sock_destroy.c). Socket
// iterators walk one network namespace each, so after every change that removed backends the
// sweep enters, on this thread and only for the moment it creates an iterator, every network
// namespace of the processes under the --cgroup-root (the node's own and each pod's): exactly the
// sockets the socket-level programs can have translated. Both families: the iterators see IPv4 and
// IPv6 sockets and read sl_sock_rev / sl_backends or sl_sock_rev6 / sl_backends6 from the pins, so
// a removed IPv6 backend (counted in Datapath.backendsRemoved like an IPv4 one) is swept the same.
import fs from 'node:fs';
import path from 'node:path';
import * as bpf from './bpf/libbpf.ts';
import * as L from './bpf/layout.ts';
import { openObjects, type LoadedObjects } from './bpf/objects.ts';

export const SWEEP_OBJECT = 'sluice_sock_destroy.o';

export interface SweepResult { namespaces: number; udp: number; tcp: number }

export class StaleSocketSweeper {
  readonly #objs: LoadedObjects;
  readonly #links: { udp: number; tcp?: number };
  readonly #home: number;

  private constructor(objs: LoadedObjects, tcp: boolean) {
    this.#objs = objs;
    this.#home = bpf.openReadOnly('/proc/thread-self/ns/net');
    this.#links = { udp: bpf.iterLinkCreate(objs.programs.sl_sock_sweep_udp!) };
    if (tcp) this.#links.tcp = bpf.iterLinkCreate(objs.programs.sl_sock_sweep_tcp!);
  }

  /**
   * Load the sweep programs on the node's pinned maps. Throws on a kernel without the
   * bpf_sock_destroy kfunc (Linux < 6.5): the caller carries on without sweeping.
   */
  static open(bpfDir: string, pinDir: string, opts: { tcp: boolean }): StaleSocketSweeper {
    // Every map is pinned already: giving each a size makes openObjects take the pinned one's.
    const objs = openObjects([path.join(bpfDir, SWEEP_OBJECT)], pinDir, Object.fromEntries(L.MAP_NAMES.map((m) => [m, 1])));
    try {
      return new StaleSocketSweeper(objs, opts.tcp);
    } catch (e) {
      objs.close();
      throw e;
    }
  }

  /** Destroy the connected sockets to removed backends in every namespace under `cgroupRoot`. */
  sweep(cgroupRoot: string): SweepResult {
    const r: SweepResult = { namespaces: 0, udp: 0, tcp: 0 };
    for (const ns of namespacesUnder(cgroupRoot)) {
      let fd: number;
      try { fd = bpf.openReadOnly(ns); } catch { continue; } // the process is gone: so are its sockets
      try {
        r.udp += bpf.runIterIn(this.#links.udp, fd, this.#home).length / 8;
        if (this.#links.tcp !== undefined) r.tcp += bpf.runIterIn(this.#links.tcp, fd, this.#home).length / 8;
        r.namespaces++;
      } finally {
        bpf.closeFd(fd);
      }
    }
    return r;
  }

  close(): void {
    bpf.closeFd(this.#links.udp);
    if (this.#links.tcp !== undefined) bpf.closeFd(this.#links.tcp);
    bpf.closeFd(this.#home);
    this.#objs.close();
  }
}

/** /proc/<pid>/ns/net of one process per network namespace among those in `cgroup` and below. */
export function namespacesUnder(cgroup: string): string[] {
  const byInode = new Map<bigint, string>();
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    let pids: string[] = [];
    try { pids = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean); } catch { /* gone */ }
    for (const pid of pids) {
      const ns = `/proc/${pid}/ns/net`;
      try {
        const ino = fs.statSync(ns, { bigint: true }).ino;
        if (!byInode.has(ino)) byInode.set(ino, ns);
      } catch { /* exited */ }
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  walk(cgroup);
  return [...byInode.values()];
}
