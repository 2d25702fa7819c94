// How much `sluice status` may believe the agent's status file: the agent rewrites it at least every
// STATUS_HEARTBEAT_MS, so a file much older than that, or a pid that is gone, is a dead agent's last word.
import { STATUS_HEARTBEAT_MS, type AgentStatus } from '../status.ts';

/** A status file older than this is stale (three missed heartbeats). */
export const STALE_AFTER_MS = 3 * STATUS_HEARTBEAT_MS;

export interface Liveness {
  running: boolean;
  /** Milliseconds since the agent last wrote the file. */
  ageMs: number;
  why?: string;
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export function liveness(s: AgentStatus, mtimeMs: number, now = Date.now()): Liveness {
  const written = s.updatedAt ? Date.parse(s.updatedAt) : mtimeMs;
  const ageMs = Math.max(0, now - written);
  if (!s.pid || !pidAlive(s.pid)) return { running: false, ageMs, why: `pid ${s.pid} is not alive` };
  if (ageMs > STALE_AFTER_MS) return { running: false, ageMs, why: `status file not rewritten for ${Math.round(ageMs / 1000)} s` };
  return { running: true, ageMs };
}

export function age(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
