// The benchmark's results document (latest.json): bench/run.ts fills it, bench/report.ts renders it.
import type { EntrySummary } from './bpfstats.ts';
import type { Summary } from './stats.ts';

/** A row that could not be measured, and why (never a figure in its place). */
export interface NotMeasured { not_measured: string }
export const isNotMeasured = (v: unknown): v is NotMeasured => typeof v === 'object' && v !== null && 'not_measured' in v;

/** Per service count ("1", "1000", ...). */
export type ByCount<T> = Record<string, T>;
export interface Results {
  meta: Record<string, unknown>;
  /** socket_translations (sluice_socket): connect() calls the socket-level programs translated during the measurement. */
  /** agent_cpu_pct: the agent process's CPU (user + system) during the measurement, % of one CPU. */
  crr: Record<string, ByCount<Summary & { errors: number; socket_translations?: number; agent_cpu_pct?: Summary }>>;
  /**
   * Connection rate from each node's own network namespace (a hostNetwork process) to the measured
   * service; a contender with no path for it is recorded as unreachable. Absent in older results.
   */
  crr_node?: Record<string, ByCount<(Summary & { errors: number; socket_translations?: number }) | { unreachable: true; errors: number; note: string }>>;
  throughput_gbps: Record<string, ByCount<Summary>>;
  /**
   * The IPv6 twins of crr, throughput_gbps and bpf_ns_per_run (issue 15): the same contenders, pods
   * and rounds over IPv6 (direct to be1's IPv6 address; services in fd00:10:96::/112; kube-proxy's
   * shapes in the ip6 nat table and nft's `ip6 kube-proxy`). vs_direct: median / direct's median in
   * the same rounds. A contender whose IPv6 service does not answer (Sluice before its IPv6 datapath)
   * is { not_measured: why }. Absent in older results.
   */
  crr_v6?: Record<string, ByCount<(Summary & { errors: number; socket_translations?: number; agent_cpu_pct?: Summary; vs_direct?: number }) | NotMeasured>>;
  throughput_gbps_v6?: Record<string, ByCount<(Summary & { vs_direct?: number }) | NotMeasured>>;
  bpf_ns_per_run_v6?: Record<string, ByCount<Record<string, EntrySummary>>>;
  /** IPv6 service set load times (ms) per contender and count, as load_ms. */
  load_ms_v6?: Record<string, ByCount<number[]>>;
  /**
   * Per entry point (sl_from_pod, sl_to_pod, sl_sock_connect4, ...) of a contender's node, from the
   * kernel's run-time statistics over each connection-rate round: ns per run, and runs and ns per
   * connection. Programs of the same name on several interfaces are summed.
   */
  bpf_ns_per_run: Record<string, ByCount<Record<string, EntrySummary>>>;
  /** North-south NodePort to a backend on another node (XDP, SNAT) vs direct, same run (bench/northsouth.ts). */
  nodeport_remote_ratio?: Record<string, unknown>;
  sync: {
    program: Record<string, ByCount<Summary & { agent_ms?: Summary; note: string }>>;
    one_change: Record<string, ByCount<{ median_ms: number; p99_ms: number; min_ms: number; max_ms: number; n: number; command_ms?: Summary; agent_ms?: Summary; api_to_cp_send_ms?: Summary & { p99: number }; cp_send_to_agent_applied_ms?: Summary & { p99: number }; answered_ms?: Summary & { p99: number }; stages_ms?: Record<string, Summary & { p99: number }>; note: string }>>;
    controlplane: unknown;
  };
  memory: Record<string, ByCount<Record<string, unknown>>> & {
    /** RSS (MiB) of the control plane with informers, as deployed, keyed "<services>x<endpoints>" (bench/cp-memory.ts). */
    controlplane_rss_mib?: Record<string, number | null>;
    /** The agent's RSS (MiB) and its BPF maps' bytes_memlock (MiB), keyed "<services>x<endpoints>". */
    agent_rss_mib?: Record<string, number>;
    bpf_maps_mib?: Record<string, number>;
  };
  load_ms: Record<string, ByCount<number[]>>;
  /** Sluice programming syncCount x 10 from nothing, median seconds: state-file mode and an agent connecting to the control plane. */
  programming_s?: { state_file?: number; control_plane?: number };
  /** One EndpointSlice change through the control plane -> first connection served by the new endpoint. */
  change_ms?: { p50: number; p99: number; n: number };
}
