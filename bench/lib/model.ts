// The services every contender is programmed with, and how each contender writes them down:
// the agent's state file, kube-proxy's iptables-mode rules (iptables-restore / ip6tables-restore
// input) and its nftables-mode rules (nft -f input, table `ip` or `ip6`). Rule shapes follow
// kube-proxy's proxier output; the hashes in chain names are shortened the same way (a
// 16-character digest of the name). Both families: kube-proxy runs one proxier per family, each
// writing the same shapes into its own family's tables, so a service set is of one family (its
// addresses tell which) and is written into that family's tables.
import crypto from 'node:crypto';
import { bytesToIp, familyOf, type Family } from '../../common/ip.ts';

export interface Endpoint { ip: string; port: number }
export interface BenchPort { name: string; port: number; endpoints: Endpoint[] }
export interface BenchService { namespace: string; name: string; vip: string; ports: BenchPort[] }

export const CRR_PORT = 80;
export const IPERF_PORT = 5201;

/**
 * Per family: the pod network (traffic from it is not masqueraded: kube-proxy's clusterCIDR), the
 * measured and probe services' addresses, a filler service's address and the filler endpoints'.
 * IPv6 service addresses are in fd00:10:96::/112 (the manifests source's default IPv6 service range);
 * its pods are fd00:10:244:<node>::/64 (sim/cluster.ts).
 */
export interface FamilyPlan {
  family: Family;
  clusterCidr: string;
  targetVip: string;
  probeVip: string;
  /** VIP of filler service i (0-based). */
  fillerVip(i: number): string;
  /** Endpoint k of the filler services: an address nobody answers on (those services are never hit). */
  fillerEndpoint(k: number): Endpoint;
}

/** IPv6 text of fd00:10:<hi>::<lo>, canonical (common/ip.ts), for the bench's IPv6 addresses. */
function v6(hi: number, lo: number): string {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(0xfd00, 0);
  b.writeUInt16BE(0x10, 2);
  b.writeUInt16BE(hi, 4);
  b.writeUInt32BE(lo >>> 0, 12);
  return bytesToIp(b);
}

export const FAMILIES: Record<Family, FamilyPlan> = {
  4: {
    family: 4,
    clusterCidr: '10.244.0.0/16',
    targetVip: '10.111.255.1',
    probeVip: '10.111.255.3',
    // 10.96.0.1 onwards, in 10.96.0.0/12 like a cluster's service CIDR.
    fillerVip: (i) => { const n = i + 1; return `10.${96 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`; },
    fillerEndpoint: (k) => ({ ip: `10.${128 + ((k >> 16) & 63)}.${(k >> 8) & 255}.${k & 255}`, port: 8080 }),
  },
  6: {
    family: 6,
    clusterCidr: 'fd00:10:244::/48',
    // The top of fd00:10:96::/112, above any filler (at most 65,279 of them in the range).
    targetVip: v6(0x96, 0xff01),
    probeVip: v6(0x96, 0xff03),
    fillerVip: (i) => { if (i + 1 >= 0xff00) throw new Error(`filler ${i}: fd00:10:96::/112 holds 65,279 fillers`); return v6(0x96, i + 1); },
    fillerEndpoint: (k) => ({ ip: v6(0x128, k + 1), port: 8080 }),
  },
};

/** The plan of a service set's family (its addresses tell it; all of one family). */
function planOf(services: BenchService[] | BenchService): FamilyPlan {
  const first = Array.isArray(services) ? services[0] : services;
  return FAMILIES[first && familyOf(first.vip) === 6 ? 6 : 4];
}

/** The IPv4 plan's addresses, as named before there were two families. */
export const CLUSTER_CIDR = FAMILIES[4].clusterCidr;
export const TARGET_VIP = FAMILIES[4].targetVip;
export const PROBE_VIP = FAMILIES[4].probeVip;

/** VIP of IPv4 filler service i (0-based): 10.96.0.1 onwards. */
export function fillerVip(i: number): string {
  return FAMILIES[4].fillerVip(i);
}

export interface TargetPods { be1: string; be2: string }

/**
 * `count` services in all: count-1 filler services with `endpoints` endpoints each, then the
 * measured service last (port 80 to both backend pods, port 5201 to be1 only, since iperf3's
 * control and data connections must reach the same server). With `probe`, one more service
 * (bench/probe, one endpoint: `probe` pod's port 80) comes just before it; the one-change test flips it.
 * `family` picks the addresses (FAMILIES); `pods` and `probe` are of that family.
 */
export function benchServices(count: number, endpoints: number, pods: TargetPods, probe?: string, family: Family = 4): BenchService[] {
  const f = FAMILIES[family];
  const out: BenchService[] = [];
  for (let i = 0; i < count - 1; i++) {
    out.push({
      namespace: `ns-${i % 50}`, name: `svc-${i}`, vip: f.fillerVip(i),
      ports: [{ name: 'http', port: 80, endpoints: Array.from({ length: endpoints }, (_, e) => f.fillerEndpoint(i * endpoints + e)) }],
    });
  }
  // The probe service (when asked for) goes before the measured one, which stays last.
  if (probe) out.push(probeService(probe));
  out.push({
    namespace: 'bench', name: 'target', vip: f.targetVip,
    ports: [
      { name: 'iperf', port: IPERF_PORT, endpoints: [{ ip: pods.be1, port: IPERF_PORT }] },
      { name: 'http', port: CRR_PORT, endpoints: [{ ip: pods.be1, port: CRR_PORT }, { ip: pods.be2, port: CRR_PORT }] },
    ],
  });
  return out;
}

/** The probe service, of `podIp`'s family. */
export function probeService(podIp: string): BenchService {
  const f = FAMILIES[familyOf(podIp) === 6 ? 6 : 4];
  return { namespace: 'bench', name: 'probe', vip: f.probeVip, ports: [{ name: 'http', port: CRR_PORT, endpoints: [{ ip: podIp, port: CRR_PORT }] }] };
}

// ---- Sluice agent state file -------------------------------------------------------------

export function stateFile(services: BenchService[]): string {
  return JSON.stringify({
    services: services.map((s) => ({
      namespace: s.namespace, name: s.name, clusterIps: [s.vip],
      ports: s.ports.map((p) => ({ name: p.name, protocol: 'TCP', port: p.port, endpoints: p.endpoints.map((e) => ({ ip: e.ip, port: e.port, ready: true })) })),
    })),
  });
}

// ---- kube-proxy, iptables mode ---------------------------------------------------------

const digest = (prefix: string, text: string) =>
  prefix + crypto.createHash('sha256').update(text).digest('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 16).toUpperCase();

const svcPortName = (s: BenchService, p: BenchPort) => `${s.namespace}/${s.name}:${p.name}`;
const svcChain = (s: BenchService, p: BenchPort) => digest('KUBE-SVC-', `${svcPortName(s, p)}tcp`);
/** "ip:port", an IPv6 address bracketed, as kube-proxy writes an endpoint (net.JoinHostPort). */
const hostPort = (e: Endpoint) => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);
const sepChain = (s: BenchService, p: BenchPort, e: Endpoint) => digest('KUBE-SEP-', `${svcPortName(s, p)}tcp${hostPort(e)}`);
/** A host route's prefix length: /32 or /128. */
const host = (ip: string) => `${ip}/${ip.includes(':') ? 128 : 32}`;

/** One service port's KUBE-SVC and KUBE-SEP chains (declarations and rules). */
function iptablesServicePort(s: BenchService, p: BenchPort, decl: string[], rules: string[]): void {
  const name = svcPortName(s, p), svc = svcChain(s, p);
  decl.push(`:${svc} - [0:0]`);
  rules.push(`-A ${svc} ! -s ${planOf(s).clusterCidr} -d ${host(s.vip)} -p tcp -m comment --comment "${name} cluster IP" -m tcp --dport ${p.port} -j KUBE-MARK-MASQ`);
  const n = p.endpoints.length;
  p.endpoints.forEach((e, i) => {
    const sep = sepChain(s, p, e);
    const left = n - i;
    const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : '';
    rules.push(`-A ${svc} -m comment --comment "${name} -> ${hostPort(e)}"${stat} -j ${sep}`);
    decl.push(`:${sep} - [0:0]`);
    rules.push(`-A ${sep} -s ${host(e.ip)} -m comment --comment "${name}" -j KUBE-MARK-MASQ`);
    rules.push(`-A ${sep} -p tcp -m comment --comment "${name}" -m tcp -j DNAT --to-destination ${hostPort(e)}`);
  });
}

/** The nat table's fixed part as kube-proxy (iptables mode) writes it: chains, then jumps and masquerade. */
export const KUBE_NAT_CHAINS = [':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
  ':KUBE-SERVICES - [0:0]', ':KUBE-NODEPORTS - [0:0]', ':KUBE-POSTROUTING - [0:0]', ':KUBE-MARK-MASQ - [0:0]'] as const;
export const KUBE_NAT_RULES = [
  '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
  '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
  '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
  '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
  '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
] as const;

/** KUBE-SERVICES in full: every service port's portal, then kube-proxy's last rule (the nodeports
 *  jump). The measured service, last in the list, is the last one a packet is compared with. */
function kubeServicesRules(services: BenchService[]): string[] {
  const portals = services.flatMap((s) => s.ports.map((p) =>
    `-A KUBE-SERVICES -d ${host(s.vip)} -p tcp -m comment --comment "${svcPortName(s, p)} cluster IP" -m tcp --dport ${p.port} -j ${svcChain(s, p)}`));
  portals.push('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  return portals;
}

/** The whole nat table as kube-proxy (iptables mode) writes it, for `iptables-restore` (full,
 *  flushing), or `ip6tables-restore` for an IPv6 service set (the same chains and rules). */
export function iptablesRestore(services: BenchService[]): string {
  const decl: string[] = [...KUBE_NAT_CHAINS];
  const rules: string[] = [...KUBE_NAT_RULES];
  for (const s of services) for (const p of s.ports) iptablesServicePort(s, p, decl, rules);
  return ['*nat', ...decl, ...rules, ...kubeServicesRules(services), 'COMMIT', ''].join('\n');
}

/** The top-level nat chains kube-proxy's syncProxyRules declares (and so, with --noflush, flushes
 *  and rewrites) on every sync, partial or full; the built-in chains' jumps are not among them. */
const KUBE_TOP_LEVEL = [':KUBE-SERVICES - [0:0]', ':KUBE-NODEPORTS - [0:0]', ':KUBE-POSTROUTING - [0:0]', ':KUBE-MARK-MASQ - [0:0]'];

/**
 * One endpoint replaced in one of `services` (from `before` to `after`), as kube-proxy's partial
 * sync writes it (`iptables-restore --noflush`, pkg/proxy/iptables/proxier.go): the top-level chains
 * in full (KUBE-SERVICES lists every service port, so its size grows with the cluster), the changed
 * service's chain rewritten, the new endpoint's chain added, the old one flushed and deleted.
 */
export function iptablesChange(before: BenchService, after: BenchService, services: BenchService[]): string {
  const decl: string[] = [...KUBE_TOP_LEVEL], rules: string[] = KUBE_NAT_RULES.filter((r) => /^-A KUBE-/.test(r)), gone: string[] = [];
  for (const [i, p] of after.ports.entries()) {
    iptablesServicePort(after, p, decl, rules);
    const old = before.ports[i]!;
    for (const e of old.endpoints) if (!p.endpoints.some((x) => x.ip === e.ip && x.port === e.port)) gone.push(sepChain(before, old, e));
  }
  return ['*nat', ...decl, ...gone.map((c) => `:${c} - [0:0]`), ...rules, ...kubeServicesRules(services), ...gone.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
}

// ---- kube-proxy, nftables mode ---------------------------------------------------------

/** kube-proxy's nftables table of a family: `ip kube-proxy` or `ip6 kube-proxy`. */
export const nftTable = (family: Family) => `${family === 6 ? 'ip6' : 'ip'} kube-proxy`;
/** The family's address selector in rules: `ip` or `ip6` (saddr, daddr). */
const nftIp = (ip: string) => (ip.includes(':') ? 'ip6' : 'ip');
const nftSvcChain = (s: BenchService, p: BenchPort) => `service-${digest('', `${svcPortName(s, p)}tcp`).slice(0, 8)}-${s.namespace}/${s.name}/tcp/${p.name}`;
// A chain name cannot hold ':': kube-proxy writes an IPv6 endpoint's colons as dots.
const nftEpChain = (s: BenchService, p: BenchPort, e: Endpoint) =>
  `endpoint-${digest('', `${svcPortName(s, p)}tcp${hostPort(e)}`).slice(0, 8)}-${s.namespace}/${s.name}/tcp/${p.name}__${e.ip.replaceAll(':', '.')}/${e.port}`;

function nftServicePort(s: BenchService, p: BenchPort, out: string[]): void {
  const table = nftTable(planOf(s).family), ipx = nftIp(s.vip);
  const svc = nftSvcChain(s, p);
  out.push(`add chain ${table} ${svc}`);
  out.push(`flush chain ${table} ${svc}`);
  out.push(`add rule ${table} ${svc} ${ipx} daddr ${s.vip} tcp dport ${p.port} ${ipx} saddr != ${planOf(s).clusterCidr} jump mark-for-masquerade`);
  for (const e of p.endpoints) {
    const ep = nftEpChain(s, p, e);
    out.push(`add chain ${table} ${ep}`);
    out.push(`flush chain ${table} ${ep}`);
    out.push(`add rule ${table} ${ep} ${ipx} saddr ${e.ip} jump mark-for-masquerade`);
    out.push(`add rule ${table} ${ep} meta l4proto tcp dnat to ${hostPort(e)}`);
  }
  if (p.endpoints.length) {
    const vmap = p.endpoints.map((e, i) => `${i} : goto ${nftEpChain(s, p, e)}`).join(' , ');
    out.push(`add rule ${table} ${svc} numgen random mod ${p.endpoints.length} vmap { ${vmap} }`);
  }
}

/** kube-proxy's nftables-mode table (one transaction for `nft -f`), built from nothing: `ip
 *  kube-proxy`, or `ip6 kube-proxy` for an IPv6 service set. */
export function nftRuleset(services: BenchService[]): string {
  const { family } = planOf(services);
  const table = nftTable(family), ipx = family === 6 ? 'ip6' : 'ip';
  const out = [
    `add table ${table}`,
    `add chain ${table} mark-for-masquerade`,
    `add rule ${table} mark-for-masquerade mark set mark or 0x4000`,
    `add chain ${table} masquerading`,
    `add rule ${table} masquerading mark and 0x4000 == 0 return`,
    `add rule ${table} masquerading mark set mark xor 0x4000`,
    `add rule ${table} masquerading masquerade fully-random`,
    `add map ${table} service-ips { type ${family === 6 ? 'ipv6_addr' : 'ipv4_addr'} . inet_proto . inet_service : verdict ; }`,
    `add chain ${table} services`,
    `add rule ${table} services ${ipx} daddr . meta l4proto . th dport vmap @service-ips`,
    `add chain ${table} nat-prerouting { type nat hook prerouting priority -100 ; }`,
    `add rule ${table} nat-prerouting jump services`,
    `add chain ${table} nat-output { type nat hook output priority -100 ; }`,
    `add rule ${table} nat-output jump services`,
    `add chain ${table} nat-postrouting { type nat hook postrouting priority 100 ; }`,
    `add rule ${table} nat-postrouting jump masquerading`,
  ];
  for (const s of services) {
    for (const p of s.ports) {
      nftServicePort(s, p, out);
      out.push(`add element ${table} service-ips { ${s.vip} . tcp . ${p.port} : goto ${nftSvcChain(s, p)} }`);
    }
  }
  return out.join('\n') + '\n';
}

/**
 * One endpoint replaced in `before` -> `after`, as kube-proxy's nftables proxier sends it in a
 * partial sync (pkg/proxy/nftables/proxier.go): the changed service's chains rewritten, the old
 * endpoint's chain only flushed (a kernel before 6.2 may still see it referenced), and recorded as
 * stale: `stale` is deleted in a transaction of its own by a sync at least a second later.
 */
export function nftChange(before: BenchService, after: BenchService): { change: string; stale: string } {
  const table = nftTable(planOf(after).family);
  const out: string[] = [], stale: string[] = [];
  for (const [i, p] of after.ports.entries()) {
    nftServicePort(after, p, out);
    const old = before.ports[i]!;
    for (const e of old.endpoints) {
      if (p.endpoints.some((x) => x.ip === e.ip && x.port === e.port)) continue;
      out.push(`flush chain ${table} ${nftEpChain(before, old, e)}`);
      stale.push(`delete chain ${table} ${nftEpChain(before, old, e)}`);
    }
  }
  return { change: out.join('\n') + '\n', stale: stale.length ? stale.join('\n') + '\n' : '' };
}
