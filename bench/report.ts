// Writes a run's results: latest.json (the figures), latest.md (tables with ratios to the direct
// path) and crr.png (connection rate against service count, one line per contender, gnuplot).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isNotMeasured, type Results } from './lib/results.ts';
import type { Summary } from './lib/stats.ts';

/** Every node runs with netfilter conntrack loaded; sluice_no_conntrack is Sluice's node without it. */
const ORDER = ['direct', 'sluice', 'sluice_socket', 'sluice_no_conntrack', 'iptables', 'nftables'];
/** The sync tables: Sluice is measured two ways (its production path and its standalone mode). */
const PROGRAM_ROWS: [string, string][] = [
  ['sluice', 'sluice, standalone state-file mode'], ['sluice_control_plane', 'sluice via control plane (agent connects)'],
  ['iptables', 'iptables'], ['nftables', 'nftables'],
];
const CHANGE_ROWS: [string, string][] = [
  ['sluice', 'sluice via control plane (API watch event → control plane → gRPC delta → agent)'],
  ['sluice_state_file', 'sluice, standalone state-file mode (re-reads every service)'],
  ['iptables', 'iptables'], ['nftables', 'nftables'],
];
const num = (v: number, d = 0) => (Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : 'n/a');
const spread = (s: Summary, d = 0) => `${num(s.median, d)} (${num(s.min, d)}–${num(s.max, d)})`;
const counts = (o: Record<string, Record<string, unknown>>) =>
  [...new Set(Object.values(o).flatMap((x) => Object.keys(x)))].map(Number).sort((a, b) => a - b);

function ratio(v: number, base: number | undefined): string {
  return base && Number.isFinite(v) ? `${(v / base).toFixed(2)}×` : '–';
}

export function markdown(r: Results): string {
  const m = r.meta as { date?: string; host?: string; kernel?: string; cpu?: string; cpus?: number; mode?: string; duration_s?: number; config?: Record<string, unknown>; nft?: string; iptables?: string };
  const cfg = m.config ?? {};
  const L: string[] = [];
  L.push(`# Sluice benchmark results (${m.mode ?? '?'} run)`, '');
  L.push(`${m.date ?? ''} on ${m.host ?? '?'}: ${m.cpu ?? '?'}, ${m.cpus ?? '?'} CPUs, kernel ${m.kernel ?? '?'}, ${m.nft ?? 'nft ?'}, ${m.iptables ?? 'iptables ?'}; run took ${m.duration_s ?? '?'} s.`);
  L.push(`Each figure: median of ${String(cfg.rounds)} interleaved rounds (min–max); connection rate ${String(cfg.crrSecs)} s and iperf3 ${String(cfg.iperfSecs)} s per round.`, '');

  L.push('## Connection rate (new TCP connection, 1-byte request and reply, close), connections/s', '');
  L.push('| services | contender | connections/s median (min–max) | vs direct | iperf3 single stream Gbit/s | vs direct |');
  L.push('|---:|---|---:|---:|---:|---:|');
  for (const n of counts(r.crr)) {
    const d = r.crr.direct?.[String(n)], dt = r.throughput_gbps.direct?.[String(n)];
    for (const name of ORDER) {
      const c = r.crr[name]?.[String(n)], t = r.throughput_gbps[name]?.[String(n)];
      if (!c || !t) continue;
      L.push(`| ${num(n)} | ${name} | ${spread(c)}${c.errors ? ` ⚠ ${c.errors} errors` : ''} | ${name === 'direct' ? '1.00×' : ratio(c.median, d?.median)} | ${spread(t, 1)} | ${name === 'direct' ? '1.00×' : ratio(t.median, dt?.median)} |`);
    }
  }
  L.push('', 'Every node runs with netfilter conntrack loaded (an nftables rule matching ct state, as a real node\'s CNI and firewall rules load it; ' +
    'kube-proxy\'s nat rules need it anyway). sluice_no_conntrack: Sluice\'s node with that rule removed for its rounds.', '');
  L.push('![connection rate against service count](crr.png)', '');

  if (r.crr_v6 && Object.keys(r.crr_v6).length > 0) L.push(...ipv6Section(r));

  if (r.crr_node && Object.keys(r.crr_node).length > 0) {
    L.push('## Node → ClusterIP: connection rate from the node\'s own namespace, connections/s', '');
    L.push('A process in the node\'s network namespace (a hostNetwork pod, the kubelet) connecting to the measured service ' +
      '(direct: to be1\'s pod IP). sluice is the per-packet agent (socket-level balancing off), sluice_socket the same agent with `--socket-lb on`; ' +
      'iptables and nftables go through kube-proxy\'s nat OUTPUT rules.', '');
    L.push('| services | contender | connections/s median (min–max) | vs direct |');
    L.push('|---:|---|---:|---:|');
    for (const n of counts(r.crr_node)) {
      const d = r.crr_node.direct?.[String(n)];
      const base = d && !('unreachable' in d) ? d.median : undefined;
      for (const name of ORDER) {
        const c = r.crr_node[name]?.[String(n)];
        if (!c) continue;
        if ('unreachable' in c) { L.push(`| ${num(n)} | ${name} | unreachable | – |`); continue; }
        L.push(`| ${num(n)} | ${name} | ${spread(c)}${c.errors ? ` ⚠ ${c.errors} errors` : ''} | ${name === 'direct' ? '1.00×' : ratio(c.median, base)} |`);
      }
    }
    const why = Object.values(r.crr_node.sluice ?? {}).find((c) => 'unreachable' in c);
    if (why && 'note' in why) L.push('', `sluice unreachable: ${why.note}.`);
    L.push('');
  }
  const np = r.nodeport_remote_ratio as Record<string, {
    ratio?: number; sluice_xdp_remote?: number; direct?: number; errors?: number;
    direct_remote?: number; ratio_same_hops?: number; uncached?: number; uncached_ratio?: number;
  }> | undefined;
  if (np) {
    const x = (v?: number) => (v === undefined ? 'n/a' : `${v.toFixed(2)}×`);
    L.push('## NodePort to a backend on another node (XDP, SNAT), from bench/northsouth.ts', '');
    L.push('| services | connections/s sluice-xdp-remote | direct | ratio | direct-remote (same hops) | ratio to it | next-hop cache off | its ratio to direct | errors |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const [n, v] of Object.entries(np)) {
      if (typeof v === 'object' && v && v.ratio !== undefined) {
        L.push(`| ${num(Number(n))} | ${num(v.sluice_xdp_remote ?? NaN)} | ${num(v.direct ?? NaN)} | ${v.ratio.toFixed(2)}× | ${num(v.direct_remote ?? NaN)} | ` +
          `${x(v.ratio_same_hops)} | ${num(v.uncached ?? NaN)} | ${x(v.uncached_ratio)} | ${v.errors ?? 0} |`);
      }
    }
    L.push('');
  }
  if (Object.keys(r.bpf_ns_per_run ?? {}).length) {
    L.push('## Cost per program (kernel run-time statistics, in uncounted connection-rate runs after the counted rounds)', '');
    L.push('| contender | services | program | ns per run median (min–max) | runs per connection | ns per connection |');
    L.push('|---|---:|---|---:|---:|---:|');
    for (const [name, byCount] of Object.entries(r.bpf_ns_per_run)) {
      for (const [n, progs] of Object.entries(byCount)) {
        for (const [p, v] of Object.entries(progs)) {
          L.push(`| ${name} | ${num(Number(n))} | ${p} | ${spread(v.ns_per_run, 0)} | ${v.runs_per_conn ? num(v.runs_per_conn.median, 1) : '–'} | ${v.ns_per_conn ? num(v.ns_per_conn.median) : '–'} |`);
        }
      }
    }
    L.push('', 'Programs of one name on several interfaces are summed. Measured in uncounted runs after the counted rounds (run-time statistics add some tens of ns to every BPF run, so the counted rounds run without them); ' +
      'the figures include cache misses caused by everything else running on the machine.', '');
  }

  L.push('## Programming from nothing', '');
  L.push('| contender | services × endpoints | ms median (min–max) | what is timed |');
  L.push('|---|---|---:|---|');
  for (const [name, label] of PROGRAM_ROWS) {
    for (const [n, p] of Object.entries(r.sync.program[name] ?? {})) {
      L.push(`| ${label} | ${num(Number(n))} × 10 (+ measured services) | ${spread(p, 0)} | ${p.note}${p.agent_ms ? `; agent's own apply: ${spread(p.agent_ms, 0)} ms` : ''} |`);
    }
  }
  L.push('', '## One endpoint change until the datapath uses it', '');
  L.push('| contender | services | median ms | p99 ms | min–max ms | changes | part figures |');
  L.push('|---|---:|---:|---:|---:|---:|---|');
  for (const [name, label] of CHANGE_ROWS) {
    for (const [n, o] of Object.entries(r.sync.one_change[name] ?? {})) {
      const part = [
        o.agent_ms ? `agent apply ${spread(o.agent_ms, 2)} ms` : o.command_ms ? `command ${spread(o.command_ms, 1)} ms` : '',
        o.api_to_cp_send_ms ? `API event → control plane sends delta ${num(o.api_to_cp_send_ms.median, 2)} ms (p99 ${num(o.api_to_cp_send_ms.p99, 2)})` : '',
        o.cp_send_to_agent_applied_ms ? `sent → agent applied ${num(o.cp_send_to_agent_applied_ms.median, 2)} ms (p99 ${num(o.cp_send_to_agent_applied_ms.p99, 2)})` : '',
      ].filter(Boolean).join('; ');
      L.push(`| ${label} | ${num(Number(n))} | ${num(o.median_ms, 1)} | ${num(o.p99_ms, 1)} | ${num(o.min_ms, 1)}–${num(o.max_ms, 1)} | ${o.n} | ${part} |`);
    }
  }
  L.push('', 'Each row times a change from its start to the opening of the first new connection the probe (bench/crr.c watch) sees answered by the new endpoint (to its answer before 2026-11-29 night). ' +
    'Sluice via control plane: the fake Kubernetes API server emits the MODIFIED EndpointSlice watch event -> control plane informers -> store -> gRPC delta of that one service -> agent applyDelta -> maps. ' +
    'Standalone state-file mode: the state file is replaced and the agent re-reads and re-applies every service (the agent notices the new file through inotify). ' +
    `iptables / nftables: kube-proxy's partial-sync commands (see each row's note in latest.json; nft: ${m.nft ?? '?'}), started -> used. ` +
    'Every contender first makes unmeasured warm-up changes.');
  L.push('');
  const cp = r.sync.controlplane as Record<string, unknown> | null;
  L.push('## Control plane (controlplane/bench-sync.ts)', '');
  L.push(cp && !('skipped' in cp) ? '```json\n' + JSON.stringify(cp, null, 1).slice(0, 3000) + '\n```' : `Skipped: ${String(cp?.skipped ?? 'not run')}`, '');

  L.push('## Memory', '');
  L.push('| services | endpoints each | agent RSS MiB (peak) | BPF map memory MiB | largest maps |');
  L.push('|---:|---:|---:|---:|---|');
  for (const [n, o] of Object.entries(r.memory.sluice ?? {})) {
    const mm = o as { agent_rss_bytes: number; agent_peak_rss_bytes: number; bpf_map_bytes: number; endpoints_per_service: number; bpf_maps: Record<string, { bytes_memlock: number }> };
    const top = Object.entries(mm.bpf_maps).sort((a, b) => b[1].bytes_memlock - a[1].bytes_memlock).slice(0, 3)
      .map(([k, v]) => `${k} ${(v.bytes_memlock / 2 ** 20).toFixed(1)}`).join(', ');
    L.push(`| ${num(Number(n))} | ${mm.endpoints_per_service} | ${(mm.agent_rss_bytes / 2 ** 20).toFixed(1)} (${(mm.agent_peak_rss_bytes / 2 ** 20).toFixed(1)}) | ${(mm.bpf_map_bytes / 2 ** 20).toFixed(1)} | ${top} |`);
  }
  const cpRss = cp && typeof cp === 'object' ? Object.entries(cp).filter(([k]) => /rss/i.test(k)) : [];
  if (cpRss.length) L.push('', `Control plane: ${cpRss.map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ')} (from controlplane/bench-sync.ts).`);
  L.push('');
  return L.join('\n');
}

/** The README's column order and headings for the connection-rate table. */
const README_COLUMNS: [string, string][] = [
  ['direct', 'direct pod IP'], ['sluice', 'Sluice per packet'], ['sluice_socket', 'Sluice socket-level (`--socket-lb=on`)'],
  ['sluice_no_conntrack', 'Sluice, no netfilter conntrack'], ['iptables', 'kube-proxy ip6tables shape'], ['nftables', 'kube-proxy nftables `ip6` shape'],
];

/**
 * The IPv6 rows (crr_v6, throughput_gbps_v6): the full table with min–max and iperf3, then the same
 * figures in the README's layout (one row per service count, ratio to direct in the same rounds),
 * and every "not measured" reason once.
 */
export function ipv6Section(r: Results): string[] {
  const crr6 = r.crr_v6 ?? {}, t6 = r.throughput_gbps_v6 ?? {};
  const L: string[] = ['## IPv6: connection rate and iperf3 (crr_v6, throughput_gbps_v6)', ''];
  L.push('The same pods, rounds and contenders over IPv6: direct to be1\'s IPv6 address; the measured service at fd00:10:96::ff01 ' +
    '(fillers in fd00:10:96::/112); kube-proxy\'s IPv6 proxier\'s shapes (ip6tables-restore into the ip6 nat table; nft table `ip6 kube-proxy`). ' +
    'Ratios are to direct over IPv6 in the same rounds.', '');
  L.push('| services | contender | connections/s median (min–max) | vs direct | iperf3 single stream Gbit/s | vs direct |');
  L.push('|---:|---|---:|---:|---:|---:|');
  const why = new Map<string, string>();
  for (const n of counts(crr6)) {
    const d = crr6.direct?.[String(n)], dt = t6.direct?.[String(n)];
    const base = d && !isNotMeasured(d) ? d.median : undefined, baseT = dt && !isNotMeasured(dt) ? dt.median : undefined;
    for (const name of ORDER) {
      const c = crr6[name]?.[String(n)], t = t6[name]?.[String(n)];
      if (!c) continue;
      if (isNotMeasured(c)) { why.set(name, c.not_measured); L.push(`| ${num(n)} | ${name} | not measured (below) | – | not measured | – |`); continue; }
      const tt = t && !isNotMeasured(t) ? t : undefined;
      L.push(`| ${num(n)} | ${name} | ${spread(c)}${c.errors ? ` ⚠ ${c.errors} errors` : ''} | ${name === 'direct' ? '1.00×' : ratio(c.median, base)} | ${tt ? spread(tt, 1) : '–'} | ${name === 'direct' ? '1.00×' : tt ? ratio(tt.median, baseT) : '–'} |`);
    }
  }
  L.push('');
  for (const [name, w] of why) L.push(`- ${name}: not measured: ${w}`);
  if (why.size) L.push('');
  L.push('In the README\'s layout (connections/s, ratio to direct):', '');
  L.push(`| services | ${README_COLUMNS.map(([, h]) => h).join(' | ')} |`, `|---:|${README_COLUMNS.map(() => '---:').join('|')}|`);
  for (const n of counts(crr6)) {
    const d = crr6.direct?.[String(n)];
    const base = d && !isNotMeasured(d) ? d.median : undefined;
    const cells = README_COLUMNS.map(([name]) => {
      const c = crr6[name]?.[String(n)];
      if (!c) return '—';
      if (isNotMeasured(c)) return 'not measured';
      return name === 'direct' ? `${num(c.median)}/s` : `${num(c.median)}/s (${ratio(c.median, base)})`;
    });
    L.push(`| ${num(n)} | ${cells.join(' | ')} |`);
  }
  L.push('');
  return L;
}

/** crr.png: connection rate (median, min–max bars) against service count, log x axis. */
export function plot(r: Results, outDir: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plot-'));
  try {
    const series: string[] = [];
    const styles: Record<string, string> = { direct: 'lc rgb "#555555" dt 2', sluice: 'lc rgb "#1f77b4"', sluice_socket: 'lc rgb "#9467bd"', sluice_no_conntrack: 'lc rgb "#1f77b4" dt 3', iptables: 'lc rgb "#d62728"', nftables: 'lc rgb "#2ca02c"' };
    for (const name of ORDER) {
      const by = r.crr[name];
      if (!by) continue;
      const rows = Object.entries(by).map(([n, s]) => [Number(n), s.median, s.min, s.max]).sort((a, b) => a[0]! - b[0]!);
      const f = path.join(dir, `${name}.dat`);
      fs.writeFileSync(f, rows.map((x) => x.join(' ')).join('\n') + '\n');
      series.push(`'${f}' using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 1.2 ${styles[name] ?? ''} title '${name}'`);
    }
    // A run without traffic rounds (BENCH_ONLY=programming) has nothing to plot.
    if (!series.length) return;
    const script = [
      'set terminal pngcairo size 1000,620 font "DejaVu Sans,12"',
      `set output '${path.join(outDir, 'crr.png')}'`,
      `set title "Connection rate through each datapath (${String((r.meta as { date?: string }).date ?? '').slice(0, 10)}, ${String((r.meta as { mode?: string }).mode)} run)"`,
      'set xlabel "services programmed (measured service last)"',
      'set ylabel "new connections per second (median, min–max)"',
      'set logscale x', 'set xrange [0.5:200000]', 'set yrange [0:*]', 'set grid', 'set key bottom left box opaque',
      'set format x "%.0s%c"', 'set xtics ("1" 1, "10" 10, "100" 100, "1,000" 1000, "10,000" 10000, "100,000" 100000)',
      `plot ${series.join(', \\\n  ')}`,
    ].join('\n');
    const g = spawnSync('gnuplot', [], { input: script, encoding: 'utf8' });
    if (g.status !== 0) throw new Error(`gnuplot: ${g.stderr || g.error?.message}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function writeReport(r: Results, outDir: string, _quick: boolean): void {
  fs.writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(r, null, 1) + '\n');
  fs.writeFileSync(path.join(outDir, 'latest.md'), markdown(r));
  plot(r, outDir);
}
