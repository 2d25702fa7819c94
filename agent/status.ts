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
  /** Socket-level balancing: off, on or host-only, and the cgroup its programs are attached to. */
  socketLb?: { mode: string; cgroup?: string; staleSockets?: string };
  /** Pinned maps of an older layout converted at this start (agent/bpf/migrate.ts). */
  migration?: { from: number; to: number; maps: string[]; entries: number; at: string };
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
