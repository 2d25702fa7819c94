// The agent's status file: what `sluice status` shows beyond the maps (versions, control plane
// link, interfaces). Written atomically, mode 0600, under <run dir>/<node>/status.json.
import fs from 'node:fs';
import path from 'node:path';

export const DEFAULT_RUN_DIR = '/run/sluice';

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
  /** Pinned maps of an older layout converted at this start (agent/bpf/migrate.ts). */
  migration?: { from: number; to: number; maps: string[]; entries: number; at: string };
  /** The kube-proxy replacement's configuration, for `sluice status --verbose`. */
  kubeProxyReplacement?: KubeProxyReplacementStatus;
  /** Socket-level load balancing, written by the socket-LB datapath when it runs; absent: off. */
  socketLb?: { mode: string; attachPoint: string } | string;
}

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
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readStatus(node: string, runDir = DEFAULT_RUN_DIR): AgentStatus | undefined {
  try {
    return JSON.parse(fs.readFileSync(statusPath(node, runDir), 'utf8')) as AgentStatus;
  } catch {
    return undefined;
  }
}
