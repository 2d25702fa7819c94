// `sluice status --verbose`: the kube-proxy replacement's configuration, in the spirit of
// `cilium-dbg status --verbose`'s KubeProxyReplacement section. Read from the agent's status file
// (what it was started with) and the pinned maps (what is programmed now).
import type { FrontendRow } from '../inspect.ts';
import type { AgentStatus, KubeProxyReplacementStatus } from '../status.ts';

export interface KprDetails {
  socketLb: string;
  protocols: string[];
  /** Families programmed, and the frontends of the others left out (IPv6 on a node with it off). */
  ipFamilies: { programmed: string[]; skipped: Record<string, number> };
  devices: Array<{ name: string; mode: string; addresses: string[] }>;
  backendSelection: { algorithm: 'maglev'; tableSizes: Record<string, number>; slotsUsed: number; slots: number | undefined };
  sessionAffinity: { services: number };
  gracefulTermination: string;
  nodePortAddresses: string[];
  healthz: string;
  /** Why /healthz answers 503 whatever the datapath's state (node being deleted), '' otherwise. */
  nodeNotEligible: string;
  healthCheckNodePorts: number[];
  conntrackTimeouts: KubeProxyReplacementStatus['conntrackTimeouts'] | undefined;
  mapFill: Array<{ map: string; entries: number; capacity: number }>;
}

function socketLbText(s: AgentStatus['socketLb']): string {
  if (!s) return 'off';
  return s.cgroup ? `${s.mode} (attached to cgroup ${s.cgroup})` : s.mode;
}

export function kprDetails(status: AgentStatus | undefined, services: FrontendRow[], fill: KprDetails['mapFill']): KprDetails {
  const k = status?.kubeProxyReplacement;
  const tableSizes: Record<string, number> = {};
  for (const s of services) if (s.maglevSize) tableSizes[s.maglevSize] = (tableSizes[s.maglevSize] ?? 0) + 1;
  return {
    socketLb: socketLbText(status?.socketLb),
    protocols: k?.protocols ?? ['TCP', 'UDP'],
    ipFamilies: { programmed: status?.ipFamilies ?? ['IPv4'], skipped: { IPv6: status?.skipped?.frontends ?? 0 } },
    devices: k?.devices ?? [],
    backendSelection: { algorithm: 'maglev', tableSizes, slotsUsed: services.reduce((n, s) => n + s.maglevSize, 0), slots: k?.maglevSlots },
    sessionAffinity: { services: services.filter((s) => s.affinityTimeout > 0).length },
    gracefulTermination: 'enabled: flows to terminating backends run on; serving terminating endpoints are used when none is ready',
    nodePortAddresses: k?.nodePortAddresses ?? [],
    healthz: k?.healthz ?? '',
    nodeNotEligible: status?.nodeState && !status.nodeState.eligible ? `node being deleted: ${status.nodeState.reason}` : '',
    healthCheckNodePorts: k?.healthCheckNodePorts ?? [],
    conntrackTimeouts: k?.conntrackTimeouts,
    mapFill: fill,
  };
}

const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)}%`;

export function renderKpr(d: KprDetails): string[] {
  const sizes = Object.entries(d.backendSelection.tableSizes).map(([m, n]) => `${m} x${n}`).join(', ') || 'none yet';
  const slots = d.backendSelection.slots;
  const ct = d.conntrackTimeouts;
  return [
    'KubeProxyReplacement Details:',
    `  Socket LB:             ${d.socketLb}`,
    `  Protocols:             ${d.protocols.join(', ')}`,
    `  IP Families:           ${d.ipFamilies.programmed.join(', ')}${d.ipFamilies.programmed.includes('IPv6') ? '' : ` (IPv6: off on this node${d.ipFamilies.skipped.IPv6 ? `, ${d.ipFamilies.skipped.IPv6} frontend(s) left out` : ''})`}`,
    `  Devices:               ${d.devices.length ? d.devices.map((x) => `${x.name} ${x.addresses.join(' ')} (XDP: ${x.mode.startsWith('xdp') ? x.mode.slice(4) : `off, ${x.mode}`})`).join('; ') : 'none (north-south off)'}`,
    `  Backend Selection:     Maglev (table sizes: ${sizes}; ${d.backendSelection.slotsUsed}${slots ? ` of ${slots} slots, ${pct(d.backendSelection.slotsUsed, slots)}` : ' slots'})`,
    `  Session Affinity:      enabled (ClientIP; ${d.sessionAffinity.services} frontend(s) use it)`,
    `  Graceful Termination:  ${d.gracefulTermination}`,
    `  NodePort Addresses:    ${d.nodePortAddresses.join(', ') || 'none'}`,
    `  Health Server:         ${d.healthz || 'off'}${d.healthz && d.nodeNotEligible ? ` (/healthz 503: ${d.nodeNotEligible})` : ''}`,
    `  Health Check Ports:    ${d.healthCheckNodePorts.join(', ') || 'none'}`,
    ...(ct ? [`  Conntrack Timeouts:    TCP ${ct.tcpSeconds}s, TCP closing ${ct.closingSeconds}s, UDP ${ct.udpSeconds}s`] : []),
    `  Map Fill:              ${d.mapFill.map((f) => `${f.map} ${pct(f.entries, f.capacity)}`).join(', ')}`,
  ];
}
