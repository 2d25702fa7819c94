// Socket-level balancing: attaches bpf/sluice_sock.c's programs to a cgroup v2 directory (the
// --cgroup-root) through BPF links pinned beside the maps. A pinned link outlives the agent, so a
// restart (or kill -9) never leaves sockets untranslated: the next agent finds the pins and swaps
// each link's program atomically (bpf_link_update), as tc's replace does for the pods' programs.
import fs from 'node:fs';
import path from 'node:path';
import * as bpf from './bpf/libbpf.ts';
import * as L from './bpf/layout.ts';
import type { Datapath } from './datapath.ts';

export const SOCKET_LB_MODES = ['off', 'on', 'host-only'] as const;
export type SocketLbMode = (typeof SOCKET_LB_MODES)[number];

const CGROUP2_SUPER_MAGIC = 0x63677270;
const POINTS = Object.keys(bpf.CGROUP_ATTACH) as bpf.CgroupAttachPoint[];

export interface SocketLbAttachment {
  mode: SocketLbMode;
  /** The cgroup v2 directory the programs are attached to (unset when off). */
  cgroup?: string;
  /** Attach points whose pinned link from an earlier agent was taken over. */
  adopted: bpf.CgroupAttachPoint[];
}

/** Where the links are pinned: <pin dir>/links/sock_<point>. */
export function linkPin(pinDir: string, point: bpf.CgroupAttachPoint): string {
  return path.join(pinDir, 'links', `sock_${point}`);
}

/** The cgroup id of a cgroup v2 directory (its inode number), as bpf_link_info reports it. */
function cgroupId(dir: string): bigint {
  if (fs.statfsSync(dir).type !== CGROUP2_SUPER_MAGIC) throw new Error(`--cgroup-root ${dir} is not a cgroup v2 directory`);
  return fs.statSync(dir, { bigint: true }).ino;
}

/**
 * Put the socket-level datapath in `mode`: `off` removes the links an earlier agent pinned (their
 * programs detach); `on` translates every socket under `cgroupRoot`, `host-only` only the node's
 * own (sockets in this agent's network namespace), leaving pods to the per-packet path. The scope
 * is written before any program is attached or replaced.
 */
export function applySocketLb(dp: Datapath, mode: SocketLbMode, cgroupRoot: string | undefined): SocketLbAttachment {
  if (mode === 'off') {
    for (const p of POINTS) fs.rmSync(linkPin(dp.pinDir, p), { force: true });
    return { mode, adopted: [] };
  }
  if (!cgroupRoot) throw new Error(`--socket-lb=${mode} needs --cgroup-root`);
  const id = cgroupId(cgroupRoot);
  dp.setSocketScope(mode === 'host-only' ? L.SL_SOCK_HOST_ONLY : L.SL_SOCK_ALL, bpf.netnsCookie());
  fs.mkdirSync(path.join(dp.pinDir, 'links'), { recursive: true, mode: 0o700 });
  const adopted: bpf.CgroupAttachPoint[] = [];
  const cgFd = bpf.openReadOnly(cgroupRoot, true);
  try {
    for (const point of POINTS) {
      if (adoptLink(linkPin(dp.pinDir, point), id, dp.sockPrograms[point])) {
        adopted.push(point);
        continue;
      }
      const fd = bpf.cgroupLinkCreate(dp.sockPrograms[point], cgFd, point);
      try { bpf.objPin(fd, linkPin(dp.pinDir, point)); } finally { bpf.closeFd(fd); }
    }
  } finally {
    bpf.closeFd(cgFd);
  }
  return { mode, cgroup: cgroupRoot, adopted };
}

/**
 * Swap `progFd` into the link pinned at `pin` when it is attached to cgroup `id`; a link to
 * another cgroup (--cgroup-root changed) is unpinned, which detaches it. Returns whether adopted.
 */
function adoptLink(pin: string, id: bigint, progFd: number): boolean {
  if (!fs.existsSync(pin)) return false;
  const fd = bpf.objGet(pin);
  try {
    if (bpf.linkInfo(fd).cgroupId === id) {
      bpf.linkUpdate(fd, progFd);
      return true;
    }
  } finally {
    bpf.closeFd(fd);
  }
  fs.rmSync(pin);
  return false;
}
