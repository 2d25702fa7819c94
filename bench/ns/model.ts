// NodePort services for the north-south benchmark, and how each contender writes them down: the
// Sluice agent's state file, kube-proxy's iptables-mode nat table and its nftables-mode table.
// Rule shapes follow kube-proxy's proxier output for type NodePort:
//   iptables: PREROUTING -> KUBE-SERVICES (every cluster IP first, the nodeports jump last, as
//             kube-proxy orders it) -> KUBE-NODEPORTS -> KUBE-EXT-<hash>; with externalTrafficPolicy
//             Cluster that marks for masquerade and jumps to KUBE-SVC-<hash>, with Local it
//             short-circuits pod and node-local sources to KUBE-SVC and sends the rest, unmarked, to
//             KUBE-SVL-<hash> (local endpoints) -> KUBE-SEP-<hash> DNAT; KUBE-POSTROUTING
//             masquerades marked packets.
//   nftables: services chain: cluster IPs through the service-ips verdict map, then
//             `fib daddr type local ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`
//             -> external-<hash> (Cluster: mark-for-masquerade, goto service-<hash>; Local: the same
//             short-circuits, then goto local-<hash>) -> endpoint-<hash> dnat.
// The measured service uses externalTrafficPolicy Local on every contender, so all of them do the
// same work for it (DNAT to the local backend, the client address kept, no SNAT); the remote
// service (Sluice only) uses Cluster, where Sluice SNATs to reach the other node.
// Only the nat part is modelled (kube-proxy's filter-table chains accept this traffic anyway).
import crypto from 'node:crypto';
import type { ServiceJson } from '../../proto/contract.ts';
import { KUBE_NAT_CHAINS, KUBE_NAT_RULES } from '../lib/model.ts';

export interface NpEndpoint { ip: string; port: number; nodeName: string }
export interface NpPort { name: string; proto: 'tcp' | 'udp'; port: number; nodePort: number; endpoints: NpEndpoint[] }
export interface NpService { namespace: string; name: string; vip: string; ports: NpPort[]; local?: boolean }

export const CLUSTER_CIDR = '10.244.0.0/16';
export const NP_CRR = 30080;
export const NP_IPERF = 30201;
export const NP_UDP = 30053;
export const NP_CRR_REMOTE = 30081;
export const NP_IPERF_REMOTE = 30202;
export const NP_UDP_REMOTE = 30054;

/** Filler service i: cluster IP 10.96.x.y, NodePort 31000+i (never hit), endpoints nobody answers on. */
function filler(i: number, nodeName: string): NpService {
  const n = i + 1;
  return {
    namespace: `ns-${i % 50}`, name: `svc-${i}`, vip: `10.${96 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`,
    ports: [{
      name: 'http', proto: 'tcp', port: 80, nodePort: 31000 + i,
      endpoints: Array.from({ length: 2 }, (_, e) => ({ ip: `10.${128 + (((i * 2 + e) >> 16) & 63)}.${((i * 2 + e) >> 8) & 255}.${(i * 2 + e) & 255}`, port: 8080, nodeName })),
    }],
  };
}

/**
 * `count` services in all: count-1 fillers, then the measured service last (so every rule-walking
 * contender compares it last): NodePorts for crr (TCP 80), iperf3 (TCP 5201) and UDP (5353) to the
 * local backend, and with `remote`, the same to a backend on another node.
 */
export function npServices(count: number, nodeName: string, local: string, remote?: { ip: string; nodeName: string }): NpService[] {
  const out: NpService[] = [];
  for (let i = 0; i < count - 1; i++) out.push(filler(i, nodeName));
  const ports: NpPort[] = [
    { name: 'crr', proto: 'tcp', port: 80, nodePort: NP_CRR, endpoints: [{ ip: local, port: 80, nodeName }] },
    { name: 'iperf', proto: 'tcp', port: 5201, nodePort: NP_IPERF, endpoints: [{ ip: local, port: 5201, nodeName }] },
    { name: 'udp', proto: 'udp', port: 5353, nodePort: NP_UDP, endpoints: [{ ip: local, port: 5353, nodeName }] },
  ];
  out.push({ namespace: 'bench', name: 'target', vip: '10.111.255.1', ports, local: true });
  if (remote) {
    out.push({
      namespace: 'bench', name: 'remote', vip: '10.111.255.2', ports: [
        { name: 'crr', proto: 'tcp', port: 80, nodePort: NP_CRR_REMOTE, endpoints: [{ ip: remote.ip, port: 80, nodeName: remote.nodeName }] },
        { name: 'iperf', proto: 'tcp', port: 5201, nodePort: NP_IPERF_REMOTE, endpoints: [{ ip: remote.ip, port: 5201, nodeName: remote.nodeName }] },
        { name: 'udp', proto: 'udp', port: 5353, nodePort: NP_UDP_REMOTE, endpoints: [{ ip: remote.ip, port: 5353, nodeName: remote.nodeName }] },
      ],
    });
  }
  return out;
}

// ---- Sluice --------------------------------------------------------------------------------

export function sluiceServices(services: NpService[]): ServiceJson[] {
  return services.map((s) => ({
    namespace: s.namespace, name: s.name, type: 'NodePort', clusterIps: [s.vip], externalTrafficLocal: !!s.local,
    ports: s.ports.map((p) => ({
      name: p.name, protocol: p.proto.toUpperCase(), port: p.port, nodePort: p.nodePort,
      endpoints: p.endpoints.map((e) => ({ ip: e.ip, port: e.port, ready: true, nodeName: e.nodeName })),
    })),
  }));
}

// ---- kube-proxy, iptables mode -------------------------------------------------------------

const digest = (prefix: string, text: string) =>
  prefix + crypto.createHash('sha256').update(text).digest('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 16).toUpperCase();
const spn = (s: NpService, p: NpPort) => `${s.namespace}/${s.name}:${p.name}`;

export function iptablesNodePort(services: NpService[]): string {
  const decl: string[] = [...KUBE_NAT_CHAINS];
  const rules: string[] = [...KUBE_NAT_RULES];
  const portals: string[] = [], nodeports: string[] = [];
  for (const s of services) {
    for (const p of s.ports) {
      const name = spn(s, p), svc = digest('KUBE-SVC-', `${name}${p.proto}`), ext = digest('KUBE-EXT-', `${name}${p.proto}`);
      decl.push(`:${svc} - [0:0]`, `:${ext} - [0:0]`);
      portals.push(`-A KUBE-SERVICES -d ${s.vip}/32 -p ${p.proto} -m comment --comment "${name} cluster IP" -m ${p.proto} --dport ${p.port} -j ${svc}`);
      nodeports.push(`-A KUBE-NODEPORTS -p ${p.proto} -m comment --comment "${name}" -m ${p.proto} --dport ${p.nodePort} -j ${ext}`);
      const svl = digest('KUBE-SVL-', `${name}${p.proto}`);
      if (s.local) {
        decl.push(`:${svl} - [0:0]`);
        rules.push(`-A ${ext} -s ${CLUSTER_CIDR} -m comment --comment "pod traffic for ${name} external destinations" -j ${svc}`);
        rules.push(`-A ${ext} -m comment --comment "masquerade LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
        rules.push(`-A ${ext} -m comment --comment "route LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${svc}`);
        rules.push(`-A ${ext} -j ${svl}`);
      } else {
        rules.push(`-A ${ext} -m comment --comment "masquerade traffic for ${name} external destinations" -j KUBE-MARK-MASQ`);
        rules.push(`-A ${ext} -j ${svc}`);
      }
      rules.push(`-A ${svc} ! -s ${CLUSTER_CIDR} -d ${s.vip}/32 -p ${p.proto} -m comment --comment "${name} cluster IP" -m ${p.proto} --dport ${p.port} -j KUBE-MARK-MASQ`);
      const n = p.endpoints.length;
      p.endpoints.forEach((e, i) => {
        const sep = digest('KUBE-SEP-', `${name}${p.proto}${e.ip}:${e.port}`);
        const left = n - i;
        const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : '';
        rules.push(`-A ${svc} -m comment --comment "${name} -> ${e.ip}:${e.port}"${stat} -j ${sep}`);
        // Every endpoint here runs on the node being programmed: the local chain lists them all.
        if (s.local) rules.push(`-A ${svl} -m comment --comment "${name} -> ${e.ip}:${e.port}"${stat} -j ${sep}`);
        decl.push(`:${sep} - [0:0]`);
        rules.push(`-A ${sep} -s ${e.ip}/32 -m comment --comment "${name}" -j KUBE-MARK-MASQ`);
        rules.push(`-A ${sep} -p ${p.proto} -m comment --comment "${name}" -m ${p.proto} -j DNAT --to-destination ${e.ip}:${e.port}`);
      });
    }
  }
  portals.push('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  return ['*nat', ...decl, ...rules, ...portals, ...nodeports, 'COMMIT', ''].join('\n');
}

// ---- kube-proxy, nftables mode -------------------------------------------------------------

const T = 'ip kube-proxy';

export function nftNodePort(services: NpService[], nodeIp: string): string {
  const out = [
    `add table ${T}`,
    `add chain ${T} mark-for-masquerade`,
    `add rule ${T} mark-for-masquerade mark set mark or 0x4000`,
    `add chain ${T} masquerading`,
    `add rule ${T} masquerading mark and 0x4000 == 0 return`,
    `add rule ${T} masquerading mark set mark xor 0x4000`,
    `add rule ${T} masquerading masquerade fully-random`,
    `add map ${T} service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }`,
    `add map ${T} service-nodeports { type inet_proto . inet_service : verdict ; }`,
    `add set ${T} nodeport-ips { type ipv4_addr ; }`,
    `add element ${T} nodeport-ips { ${nodeIp} }`,
    `add chain ${T} services`,
    `add rule ${T} services ip daddr . meta l4proto . th dport vmap @service-ips`,
    `add rule ${T} services fib daddr type local ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`,
    `add chain ${T} nat-prerouting { type nat hook prerouting priority -100 ; }`,
    `add rule ${T} nat-prerouting jump services`,
    `add chain ${T} nat-output { type nat hook output priority -100 ; }`,
    `add rule ${T} nat-output jump services`,
    `add chain ${T} nat-postrouting { type nat hook postrouting priority 100 ; }`,
    `add rule ${T} nat-postrouting jump masquerading`,
  ];
  for (const s of services) {
    for (const p of s.ports) {
      const h = digest('', `${spn(s, p)}${p.proto}`).slice(0, 8);
      const svc = `service-${h}-${s.namespace}/${s.name}/${p.proto}/${p.name}`;
      const ext = `external-${h}-${s.namespace}/${s.name}/${p.proto}/${p.name}`;
      out.push(`add chain ${T} ${svc}`, `add rule ${T} ${svc} ip daddr ${s.vip} ${p.proto} dport ${p.port} ip saddr != ${CLUSTER_CIDR} jump mark-for-masquerade`);
      const eps = p.endpoints.map((e) => {
        const ep = `endpoint-${digest('', `${spn(s, p)}${p.proto}${e.ip}:${e.port}`).slice(0, 8)}-${s.namespace}/${s.name}/${p.proto}/${p.name}__${e.ip}/${e.port}`;
        out.push(`add chain ${T} ${ep}`, `add rule ${T} ${ep} ip saddr ${e.ip} jump mark-for-masquerade`, `add rule ${T} ${ep} meta l4proto ${p.proto} dnat to ${e.ip}:${e.port}`);
        return ep;
      });
      const vmap = `numgen random mod ${eps.length} vmap { ${eps.map((e, i) => `${i} : goto ${e}`).join(' , ')} }`;
      if (eps.length) out.push(`add rule ${T} ${svc} ${vmap}`);
      out.push(`add chain ${T} ${ext}`);
      if (s.local) {
        const local = `local-${h}-${s.namespace}/${s.name}/${p.proto}/${p.name}`;
        out.push(`add chain ${T} ${local}`, `add rule ${T} ${local} ${vmap}`);
        out.push(`add rule ${T} ${ext} ip saddr ${CLUSTER_CIDR} goto ${svc}`, `add rule ${T} ${ext} fib saddr type local jump mark-for-masquerade`,
          `add rule ${T} ${ext} fib saddr type local goto ${svc}`, `add rule ${T} ${ext} goto ${local}`);
      } else {
        out.push(`add rule ${T} ${ext} jump mark-for-masquerade`, `add rule ${T} ${ext} goto ${svc}`);
      }
      out.push(`add element ${T} service-ips { ${s.vip} . ${p.proto} . ${p.port} : goto ${svc} }`);
      out.push(`add element ${T} service-nodeports { ${p.proto} . ${p.nodePort} : goto ${ext} }`);
    }
  }
  return out.join('\n') + '\n';
}
