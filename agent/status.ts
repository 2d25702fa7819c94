// The agent's status file: what `sluice status` shows beyond the maps (versions, control plane
// link, interfaces). Written atomically, mode 0600, under <run dir>/<node>/status.json.
import fs from 'node:fs';
import path from 'node:path';

export const DEFAULT_RUN_DIR = '/run/sluice';
/** The agent rewrites its status at least this often, so readers can tell a live agent's from a dead one's. */
export const STATUS_HEARTBEAT_MS = 10_000;

export interface AgentStatus {
  node: string;
  pid: number;
  startedAt: string;
  adopted: boolean;
  source: string;
  controlPlane?: { target: string; connected: boolean; serverId?: string; lastError?: string; reconnects: number };
  appliedVersion: number;
  appliedAt?: string;
  nacked: Array<{ version: number; error: string; at: string }>;
  interfaces: string[];
  external?: string;
  /** Service ports the datapath leaves out, with why (SCTP). */
  refused?: Array<{ port: string; reason: string }>;
  /** The IP families this node programs ("IPv4", "IPv6"); absent in an older agent's file: IPv4. */
  ipFamilies?: string[];
  /** Frontends of a family this node does not program (IPv6 on a kernel with it off), per service; absent when none. */
  skipped?: SkippedStatus;
  /** Socket-level balancing: off, on or host-only, and the cgroup its programs are attached to. */
  socketLb?: { mode: string; cgroup?: string; staleSockets?: string };
  /**
   * What the control plane says of this node's Node object (absent until it has said anything):
   * not eligible while it is being deleted, with why and since when (this agent's clock).
   */
  nodeState?: { known: boolean; eligible: boolean; reason?: string; since?: string };
  /** Pinned maps of an older layout converted at this start (agent/bpf/migrate.ts). */
  migration?: { from: number; to: number; maps: string[]; entries: number; at: string };
  /** When this file was written (set by writeStatus). */
  updatedAt?: string;
  /** The kube-proxy replacement's configuration, for `sluice status --verbose`. */
  kubeProxyReplacement?: KubeProxyReplacementStatus;
}

export interface SkippedStatus {
  family: 'ipv6';
  reason: string;
  /** Frontends skipped in all (the list below may be cut short). */
  frontends: number;
  /** Services with skipped frontends; `whole`: none of its frontends is programmed (IPv6-only). */
  services: Array<{ service: string; whole: boolean; frontends: Array<{ frontend: string; type: string; name: string }> }>;
  /** More services than listed (the file stays small: at most SKIPPED_LISTED are). */
  truncated: boolean;
}

/** Services listed in the status file's `skipped`; the count covers them all. */
export const SKIPPED_LISTED = 1000;

export interface KubeProxyReplacementStatus {
  protocols: string[];
  /** Interfaces balancing north-south traffic, with their attach mode (xdp-native, xdp-generic, tc). */
  devices: Array<{ name: string; mode: string; addresses: string[] }>;
  /** Addresses NodePorts and health-check node ports answer on. */
  nodePortAddresses: string[];
  maglevSlots: number;
  conntrackTimeouts: { tcpSeconds: number; udpSeconds: number; closingSeconds: number };
  /** kube-proxy's node health server address, "" when off. */
  healthz: string;
  healthCheckNodePorts: number[];
}

export function statusPath(node: string, runDir = DEFAULT_RUN_DIR): string {
  return path.join(runDir, node, 'status.json');
}

export function writeStatus(s: AgentStatus, runDir = DEFAULT_RUN_DIR): void {
  const file = statusPath(s.node, runDir);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  s.updatedAt = new Date().toISOString();
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readStatus(node: string, runDir = DEFAULT_RUN_DIR): AgentStatus | undefined {
  return readStatusFile(node, runDir)?.status;
}

/** The status and the file's mtime; undefined when absent or unreadable JSON, EACCES thrown. */
export function readStatusFile(node: string, runDir = DEFAULT_RUN_DIR): { status: AgentStatus; mtimeMs: number } | undefined {
  const file = statusPath(node, runDir);
  try {
    return { status: JSON.parse(fs.readFileSync(file, 'utf8')) as AgentStatus, mtimeMs: fs.statSync(file).mtimeMs };
  } catch (e) {
    if (['EACCES', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    return undefined;
  }
}
