// The benchmark's results document (latest.json): bench/run.ts fills it, bench/report.ts renders it.
import type { Summary } from './stats.ts';

/** Per service count ("1", "1000", ...). */
export type ByCount<T> = Record<string, T>;
export interface Results {
  meta: Record<string, unknown>;
  crr: Record<string, ByCount<Summary & { errors: number }>>;
  throughput_gbps: Record<string, ByCount<Summary>>;
  sync: {
    program: Record<string, ByCount<Summary & { agent_ms?: Summary; note: string }>>;
    one_change: Record<string, ByCount<{ median_ms: number; p99_ms: number; min_ms: number; max_ms: number; n: number; command_ms?: Summary; agent_ms?: Summary; api_to_cp_send_ms?: Summary & { p99: number }; cp_send_to_agent_applied_ms?: Summary & { p99: number }; note: string }>>;
    controlplane: unknown;
  };
  memory: Record<string, ByCount<Record<string, unknown>>>;
  load_ms: Record<string, ByCount<number[]>>;
}
