// Issue 12: every traffic source to every address kind, and kube-proxy's reject/drop rules, with real
// packets on a two-node simulated cluster. Each node gets its own state file, with the endpoint sets
// (Endpoint.internal/external/cluster) written as the control plane computes them for that node.
//   pods:    web-a1 (node a), web-b1 (node b), client pods on a and b
//   outside: a host on the nodes' link (10.10.0.100), routing the service addresses to node a
// Node a's GC runs every 10 minutes, so what happens within a second there is the agent's doing at
// apply time; node b's runs every second with a 2 s SYN timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PinnedMaps } from '../../agent/inspect.ts';
import { readStatus } from '../../agent/status.ts';
import type { ServiceJson } from '../../proto/contract.ts';
import { SimAgent } from '../../sim/agent.ts';
import readline from 'node:readline';
import type { MonitorEvent } from '../../agent/monitor.ts';
import { NODE_BIN, REPO, SimCluster, type PodClient } from '../../sim/cluster.ts';
import { nsRun, sleep } from '../../sim/netns.ts';
import { parseEphemeralRange } from '../../agent/masquerade-ports.ts';

let c: SimCluster;
const agents: Record<string, SimAgent> = {};
let outside: PodClient;
let outsideNs: string;
let podA: PodClient;
let podB: PodClient;
const OUTSIDE_IP = '10.10.0.100';
const LB_IP = '192.0.2.30';
const EXTERNAL_IP = '192.0.2.31';
const LB_EMPTY = '192.0.2.32';
const LB_ALLOWED = '192.0.2.33';
const LB_BLOCKED = '192.0.2.34';
const LB_LOCAL = '192.0.2.35';
const NOWHERE = '10.244.1.250';

type Sets = { internal?: boolean; external?: boolean; cluster?: boolean };
function ep(pod: string, port: number, sets: Sets = {}) {
  const p = c.pod(pod);
  return { ip: p.ip, port, ready: true, nodeName: p.node.nodeName, ...sets };
}

/** The services as node @node's agent gets them: endpoint sets are per node. */
function services(node: string, udpEndpoints = ['web-a1', 'web-b1']): ServiceJson[] {
  const onA = node === 'a';
  return [
    {
      namespace: 'p', name: 'np', type: 'NodePort', clusterIps: ['10.96.2.10'],
      ports: [
        { name: 'http', protocol: 'TCP', port: 80, nodePort: 31080, endpoints: [ep('web-a1', 8080), ep('web-b1', 8080)] },
        { name: 'dns', protocol: 'UDP', port: 53, nodePort: 31053, endpoints: [ep('web-a1', 5353), ep('web-b1', 5353)] },
      ],
    },
    {
      namespace: 'p', name: 'lb', type: 'LoadBalancer', clusterIps: ['10.96.2.11'], loadBalancerIps: [LB_IP], externalIps: [EXTERNAL_IP],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 31081, endpoints: [ep('web-b1', 8080)] }],
    },
    {
      // eTP Local, the only endpoint on node b: node a's external set is empty, its cluster set is not.
      namespace: 'p', name: 'local-remote', type: 'NodePort', clusterIps: ['10.96.2.12'], externalTrafficLocal: true,
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 31082,
        endpoints: [ep('web-b1', 8080, { internal: true, external: !onA, cluster: true })] }],
    },
    {
      // eTP Local, the only endpoint on node a: pods short-circuit to it without masquerade.
      namespace: 'p', name: 'local-here', type: 'LoadBalancer', clusterIps: ['10.96.2.26'], externalTrafficLocal: true,
      loadBalancerIps: [LB_LOCAL],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 31099,
        endpoints: [ep('web-a1', 8080, { internal: true, external: onA, cluster: true })] }],
    },
    {
      namespace: 'p', name: 'local-none', type: 'NodePort', clusterIps: ['10.96.2.13'], externalTrafficLocal: true,
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 31083, endpoints: [] }],
    },
    {
      // iTP Local, the only endpoint on node b: node a's internal set is empty.
      namespace: 'p', name: 'itp-remote', type: 'ClusterIP', clusterIps: ['10.96.2.14'], internalTrafficLocal: true,
      ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [ep('web-b1', 8080, { internal: !onA, external: true, cluster: true })] }],
    },
    { namespace: 'p', name: 'empty', type: 'ClusterIP', clusterIps: ['10.96.2.15'], ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [] }] },
    {
      namespace: 'p', name: 'lb-empty', type: 'LoadBalancer', clusterIps: ['10.96.2.16'], loadBalancerIps: [LB_EMPTY],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 31086, endpoints: [] }],
    },
    {
      namespace: 'p', name: 'allowed', type: 'LoadBalancer', clusterIps: ['10.96.2.17'], loadBalancerIps: [LB_ALLOWED],
      loadBalancerSourceRanges: [`${OUTSIDE_IP}/32`],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 31087, endpoints: [ep('web-a1', 8080)] }],
    },
    {
      namespace: 'p', name: 'blocked', type: 'LoadBalancer', clusterIps: ['10.96.2.18'], loadBalancerIps: [LB_BLOCKED],
      loadBalancerSourceRanges: ['203.0.113.0/24'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 31088, endpoints: [ep('web-a1', 8080)] }],
    },
    {
      namespace: 'p', name: 'udp', type: 'ClusterIP', clusterIps: ['10.96.2.19'],
      ports: [{ name: 'dns', protocol: 'UDP', port: 53, endpoints: udpEndpoints.map((p) => ep(p, 5353)) }],
    },
    {
      // A backend that never answers: its address belongs to no pod.
      namespace: 'p', name: 'silent', type: 'ClusterIP', clusterIps: ['10.96.2.20'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [{ ip: NOWHERE, port: 8080, ready: true, nodeName: c.node('a').nodeName }] }],
    },
    {
      namespace: 'p', name: 'self', type: 'NodePort', clusterIps: ['10.96.2.22'],
      ports: [
        { name: 'http', protocol: 'TCP', port: 80, nodePort: 31092, endpoints: [ep('web-a1', 8080)] },
        { name: 'dns', protocol: 'UDP', port: 53, nodePort: 31093, endpoints: [ep('web-a1', 5353)] },
      ],
    },
    {
      // A backend that answers late (udpAnswerLate in the pod, on 5400): on another node, and on a.
      namespace: 'p', name: 'late', type: 'NodePort', clusterIps: ['10.96.2.23'],
      ports: [
        { name: 'remote', protocol: 'UDP', port: 54, nodePort: 31094, endpoints: [ep('web-b1', 5400)] },
        { name: 'local', protocol: 'UDP', port: 55, endpoints: [ep('web-a1', 5400)] },
        { name: 'local-np', protocol: 'UDP', port: 56, nodePort: 31100, endpoints: [ep('web-a1', 5400)] },
      ],
    },
    {
      // Backends whose port is closed: they answer with ICMP port unreachable.
      namespace: 'p', name: 'closed', type: 'NodePort', clusterIps: ['10.96.2.27'],
      ports: [
        { name: 'here', protocol: 'UDP', port: 59, nodePort: 31101, endpoints: [ep('web-a1', 5999)] },
        { name: 'there', protocol: 'UDP', port: 60, nodePort: 31102, endpoints: [ep('web-b1', 5999)] },
      ],
    },
    {
      // The same on a, under eTP Local: from outside DNAT only (eTP Cluster would masquerade it).
      namespace: 'p', name: 'late-local', type: 'NodePort', clusterIps: ['10.96.2.25'], externalTrafficLocal: true,
      ports: [{ name: 'local', protocol: 'UDP', port: 55, nodePort: 31095, endpoints: [ep('web-a1', 5400)] }],
    },
    {
      // Datagrams larger than the MTU; web-b2's link has a 1280-byte MTU.
      namespace: 'p', name: 'big', type: 'NodePort', clusterIps: ['10.96.2.24'],
      ports: [
        { name: 'remote', protocol: 'UDP', port: 53, nodePort: 31096, endpoints: [ep('web-b1', 5353)] },
        { name: 'local', protocol: 'UDP', port: 54, nodePort: 31097, endpoints: [ep('web-a1', 5353)] },
        { name: 'narrow', protocol: 'UDP', port: 55, nodePort: 31098, endpoints: [ep('web-b2', 5353)] },
      ],
    },
    {
      namespace: 'p', name: 'sctp', type: 'ClusterIP', clusterIps: ['10.96.2.21'],
      ports: [{ name: 'sig', protocol: 'SCTP', port: 3868, endpoints: [ep('web-a1', 3868)] }],
    },
  ];
}

const maps: Record<string, PinnedMaps> = {};
const counters = (node: string) => maps[node]!.counters();

beforeAll(async () => {
  c = await SimCluster.create({ nodes: ['a', 'b'] });
  for (const [pod, node] of [['web-a1', 'a'], ['web-b1', 'b']] as const) {
    await c.addPod(node, pod);
    await c.serve(pod, { tcp: [8080], udp: [5353] });
  }
  // A pod behind a smaller MTU (1280 on both ends of its link): node b answers "fragmentation
  // needed" for a larger packet with DF set that it forwards to it.
  const narrow = await c.addPod('b', 'web-b2');
  await nsRun(narrow.ns, 'ip', ['link', 'set', 'eth0', 'mtu', '1280']);
  await nsRun(c.node('b').ns, 'ip', ['link', 'set', narrow.hostIf, 'mtu', '1280']);
  await c.serve('web-b2', { udp: [5353] });
  await c.addPod('a', 'client-a');
  await c.addPod('b', 'client-b');
  const o = await c.addOutside('outside', OUTSIDE_IP, [
    ...[LB_IP, EXTERNAL_IP, LB_EMPTY, LB_ALLOWED, LB_BLOCKED].map((ip) => ({ to: `${ip}/32`, via: 'a' })),
    { to: '10.244.1.0/24', via: 'a' }, { to: '10.244.2.0/24', via: 'b' },
  ]);
  // Node b's ephemeral range is not Linux's default: its agent must read it (masquerade ports).
  await nsRun(c.node('b').ns, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=10000 45000']);
  const extra: Record<string, string[]> = { a: ['--gc-interval', '600'], b: ['--gc-interval', '1', '--ct-syn-timeout', '2'] };
  for (const n of ['a', 'b']) {
    agents[n] = await SimAgent.start(c, n, { args: ['--external-interface', 'eth0', '--external-mode', 'xdp-native', ...extra[n]!] }, services(n));
    await agents[n].waitLog((l) => l.msg === 'applied');
    maps[n] = new PinnedMaps(c.node(n).nodeName);
  }
  outside = await c.clientIn(o.ns);
  outsideNs = o.ns;
  podA = await c.client('client-a');
  podB = await c.client('client-b');
}, 120000);

afterAll(async () => {
  for (const m of Object.values(maps)) m.close();
  await c?.destroy();
});

// kube-proxy's packet-flow tables (nftables proxier_test.go): "pod to NodePort hits both endpoints,
// masqueraded" under externalTrafficPolicy Cluster; a pod's traffic to an eTP Local service's
// external address short-circuits to the cluster endpoints unmasqueraded.
describe('a pod reaches every address kind', () => {
  it("its own node's NodePort, TCP and UDP, through both nodes' backends, masqueraded to the node (eTP Cluster)", async () => {
    const a = c.node('a').ip;
    const tcp = await podA.burst(`${a}:31080`, { count: 40, byClient: true });
    expect(tcp.failed, JSON.stringify(tcp.errors)).toBe(0);
    expect(Object.keys(tcp.counts).sort()).toEqual([`web-a1 ${a}`, `web-b1 ${a}`]);
    const udp = await podA.burst(`${a}:31053`, { proto: 'udp', count: 40, byClient: true });
    expect(udp.failed, JSON.stringify(udp.errors)).toBe(0);
    expect(Object.keys(udp.counts).sort()).toEqual([`web-a1 ${a}`, `web-b1 ${a}`]);
    const echo = await podA.echo(`${a}:31080`, 256 << 10);
    expect(echo.intact).toBe(true);
  });

  it("another node's NodePort: that node balances and masquerades it", async () => {
    const b = c.node('b').ip;
    const r = await podA.burst(`${b}:31080`, { count: 20, byClient: true });
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(Object.keys(r.counts).sort()).toEqual([`web-a1 ${b}`, `web-b1 ${b}`]);
  });

  it('a LoadBalancer IP and an externalIP, balanced in its own node (conntrack there names the backend), masqueraded', async () => {
    const a = c.node('a').ip;
    for (const ip of [LB_IP, EXTERNAL_IP]) {
      const r = await podA.burst(`${ip}:80`, { count: 10, byClient: true });
      expect(r.counts, `${ip}: ${JSON.stringify(r.errors)}`).toEqual({ [`web-b1 ${a}`]: 10 });
      const u = await podB.burst(`${ip}:80`, { count: 5, byClient: true });
      expect(u.counts, `${ip} from node b: ${JSON.stringify(u.errors)}`).toEqual({ [`web-b1 ${c.node('b').ip}`]: 5 });
    }
    const ct = maps.a!.conntrack().filter((e) => e.direction === 'service' && e.source.startsWith(`${c.pod('client-a').ip}:`));
    expect(ct.some((e) => e.destination === `${LB_IP}:80` && e.nat === `${c.pod('web-b1').ip}:8080`)).toBe(true);
  });

  it('externalTrafficPolicy Local: outside clients are dropped without a local endpoint, pods short-circuit to the cluster set unmasqueraded', async () => {
    const before = counters('a').ext_no_local;
    const none = await outside.burst(`${c.node('a').ip}:31082`, { count: 2, timeoutMs: 800 });
    expect(none.errors).toEqual({ TIMEOUT: 2 });
    expect(counters('a').ext_no_local).toBeGreaterThan(before);
    const viaB = await outside.burst(`${c.node('b').ip}:31082`, { count: 5 });
    expect(viaB.counts).toEqual({ 'web-b1': 5 });
    const podIp = c.pod('client-a').ip;
    const pod = await podA.burst(`${c.node('a').ip}:31082`, { count: 10, byClient: true });
    expect(pod.counts).toEqual({ [`web-b1 ${podIp}`]: 10 });
    // A backend on the pod's own node, through the NodePort and the LoadBalancer IP.
    for (const target of [`${c.node('a').ip}:31099`, `${LB_LOCAL}:80`]) {
      const r = await podA.burst(target, { count: 5, byClient: true });
      expect(r.counts, `${target}: ${JSON.stringify(r.errors)}`).toEqual({ [`web-a1 ${podIp}`]: 5 });
    }
  });
});

describe('masquerade source ports', () => {
  it("lie outside the node's own ephemeral range (ip_local_port_range of its namespace), as its agent chose and logged", async () => {
    const want = { a: { min: 1024, max: 29999 }, b: { min: 45001, max: 65535 } } as const;
    for (const n of ['a', 'b'] as const) {
      const line = await agents[n]!.waitLog((l) => l.msg === 'source NAT (hairpin, externalTrafficPolicy Cluster) to this node address');
      expect(line.ports, n).toBe(`${want[n].min}-${want[n].max}`);
    }
    // Masqueraded flows on both nodes: node a's own NodePort, node b's (from a pod and from outside).
    for (const target of [`${c.node('a').ip}:31080`, `${c.node('b').ip}:31080`]) {
      const r = await podA.burst(target, { count: 30, concurrency: 3 });
      expect(r.failed, `${target}: ${JSON.stringify(r.errors)}`).toBe(0);
    }
    expect((await outside.burst(`${c.node('b').ip}:31080`, { count: 30, concurrency: 3 })).failed).toBe(0);
    for (const n of ['a', 'b'] as const) {
      const eph = parseEphemeralRange(await nsRun(c.node(n).ns, 'cat', ['/proc/sys/net/ipv4/ip_local_port_range']));
      // REPLY entries addressed to the node are the masqueraded flows' (backend -> node:port).
      const ports = maps[n]!.conntrack().filter((e) => e.direction === 'reply' && e.destination.startsWith(`${c.node(n).ip}:`))
        .map((e) => Number(e.destination.split(':')[1]));
      expect(ports.length, n).toBeGreaterThanOrEqual(30);
      const outside = ports.filter((p) => p < want[n].min || p > want[n].max || (p >= eph.min && p <= eph.max));
      expect(outside, `node ${n}: ephemeral ${eph.min}-${eph.max}`).toEqual([]);
    }
  });
});

describe('hairpin', () => {
  it('a pod reaches itself through its ClusterIP and its NodePort, TCP and UDP, seeing the node as the client (masquerade)', async () => {
    const self = await c.client('web-a1');
    const node = c.node('a').ip;
    for (const target of ['10.96.2.22:80', `${node}:31092`]) {
      const r = await self.burst(target, { count: 5, timeoutMs: 2000, byClient: true });
      expect(r.counts, `${target}: ${JSON.stringify(r.errors)}`).toEqual({ [`web-a1 ${node}`]: 5 });
    }
    for (const target of ['10.96.2.22:53', `${node}:31093`]) {
      const r = await self.burst(target, { proto: 'udp', count: 5, timeoutMs: 2000 });
      expect(r.counts, `${target}: ${JSON.stringify(r.errors)}`).toEqual({ 'web-a1': 5 });
    }
    const echo = await self.echo('10.96.2.22:80', 256 << 10);
    expect(echo.intact).toBe(true);
    self.proc.kill();
  });
});

describe("kube-proxy's reject and drop", () => {
  it('no endpoint anywhere rejects: ClusterIP from a pod; eTP Local NodePort and LoadBalancer IP from outside', async () => {
    expect((await podA.burst('10.96.2.15:80', { count: 2, timeoutMs: 2000 })).errors).toEqual({ ECONNREFUSED: 2 });
    expect((await outside.burst(`${c.node('a').ip}:31083`, { count: 2, timeoutMs: 2000 })).errors).toEqual({ ECONNREFUSED: 2 });
    expect((await outside.burst(`${LB_EMPTY}:80`, { count: 2, timeoutMs: 2000 })).errors).toEqual({ ECONNREFUSED: 2 });
    const rejects = maps.a!.services().filter((s) => s.name.startsWith('p/lb-empty') && s.vip === LB_EMPTY);
    expect(rejects[0]!.stats.rejects).toBeGreaterThanOrEqual(2);
  });

  it('internalTrafficPolicy Local with only remote endpoints drops, counted', async () => {
    const before = counters('a').drop_empty;
    const r = await podA.burst('10.96.2.14:80', { count: 2, timeoutMs: 800 });
    expect(r.errors).toEqual({ TIMEOUT: 2 });
    expect(counters('a').drop_empty).toBeGreaterThan(before);
    // Node b holds the endpoint: its pods get through.
    expect((await podB.burst('10.96.2.14:80', { count: 3 })).counts).toEqual({ 'web-b1': 3 });
  });
});

describe('loadBalancerSourceRanges', () => {
  it('let a client in range through, at the LoadBalancer IP and the NodePort', async () => {
    expect((await outside.burst(`${LB_ALLOWED}:80`, { count: 5 })).counts).toEqual({ 'web-a1': 5 });
    expect((await outside.burst(`${c.node('a').ip}:31087`, { count: 5 })).counts).toEqual({ 'web-a1': 5 });
  });

  it('drop a client out of range, counted, at the LoadBalancer IP and the NodePort; the ranges are in the trie', async () => {
    const before = counters('a').drop_src_range;
    for (const target of [`${LB_BLOCKED}:80`, `${c.node('a').ip}:31088`]) {
      expect((await outside.burst(target, { count: 2, timeoutMs: 800 })).errors, target).toEqual({ TIMEOUT: 2 });
    }
    expect(counters('a').drop_src_range - before).toBeGreaterThanOrEqual(4);
    const ids = new Map(maps.a!.services().map((s) => [s.id, `${s.vip}:${s.port}`]));
    const trie = maps.a!.sourceRanges().map((r) => `${ids.get(r.serviceId)} ${r.cidr}`).sort();
    expect(trie).toEqual([
      `${LB_ALLOWED}:80 ${OUTSIDE_IP}/32`, `${LB_BLOCKED}:80 203.0.113.0/24`,
      `${c.node('a').ip}:31087 ${OUTSIDE_IP}/32`, `${c.node('a').ip}:31088 203.0.113.0/24`,
    ].sort());
  });
});

describe('protocol edges', () => {
  it('UDP flows move off a removed backend within a second, long before the next GC pass', async () => {
    const SRC = 41000;
    const first = await podA.burst('10.96.2.19:53', { proto: 'udp', count: 1, srcPort: SRC });
    const [gone] = Object.keys(first.counts);
    const survivor = gone === 'web-a1' ? 'web-b1' : 'web-a1';
    // The removed pod keeps running and answering: only a forgotten flow can reach the survivor.
    const t0 = performance.now();
    await agents.a!.setServices(services('a', [survivor]));
    let answeredBy = gone;
    while (answeredBy !== survivor && performance.now() - t0 < 5000) {
      const r = await podA.burst('10.96.2.19:53', { proto: 'udp', count: 1, srcPort: SRC, timeoutMs: 500 });
      answeredBy = Object.keys(r.counts)[0] ?? '';
    }
    expect(answeredBy).toBe(survivor);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a connection never answered holds conntrack for the SYN timeout only; an answered one stays', async () => {
    const open = await podB.open('10.96.2.10:80', 1);
    expect(open.pods).toHaveLength(1);
    const silent = await podB.burst('10.96.2.20:80', { count: 2, timeoutMs: 300 });
    expect(silent.ok).toBe(0);
    const mine = () => maps.b!.conntrack().filter((e) => e.source.startsWith(`${c.pod('client-b').ip}:`) || e.destination.startsWith(`${c.pod('client-b').ip}:`));
    expect(mine().some((e) => e.nat === `${NOWHERE}:8080`)).toBe(true);
    // 2 s SYN timeout, GC every second: gone within a few seconds, while the answered flow stays.
    const t0 = performance.now();
    while (mine().some((e) => e.nat === `${NOWHERE}:8080`) && performance.now() - t0 < 15000) await sleep(250);
    expect(mine().some((e) => e.nat === `${NOWHERE}:8080`)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThan(500);
    expect(mine().filter((e) => e.destination === '10.96.2.10:80' && e.direction === 'service' && !e.closing)).toHaveLength(1);
    expect((await podB.ping()).failed).toBe(0);
    await podB.closeAll();
  });

  it('an SCTP port is refused with its reason in the status file and the events metric', async () => {
    const st = readStatus(c.node('a').nodeName);
    expect(st?.refused).toEqual([{ port: 'p/sctp:sig/SCTP', reason: expect.stringContaining('SCTP is not supported') }]);
    expect(maps.a!.services().some((s) => s.port === 3868)).toBe(false);
    const metrics = await nsRun(c.node('a').ns, 'curl', ['-s', 'http://127.0.0.1:9964/metrics']);
    expect(metrics).toContain('sluice_datapath_events_total{event="port_refused"} 1');
  });
});

// kube-proxy gets both from netfilter: conntrack reassembles fragments (nf_defrag_ipv4) and
// translates ICMP errors "related" to a NATed flow whichever way they travel.
describe('IP fragments and ICMP errors both ways', () => {
  // Over the 1500-byte MTU of pods and fabric: the datagram leaves in three fragments, the echo too.
  const BIG = 3000;
  const echoUdp = (from: PodClient, target: string, bytes: number, extra: Record<string, unknown> = {}) =>
    from.cmd<{ pod: string; intact: boolean; sent: number; errors: Record<string, number> }>(
      { op: 'echo', target, bytes, proto: 'udp', tries: 2, timeoutMs: 2000, ...extra }, 30000);

  it('a UDP datagram larger than the MTU reaches a ClusterIP backend whole, on this node and another, and the answer comes back whole', async () => {
    expect(await echoUdp(podA, '10.96.2.24:53', BIG)).toMatchObject({ pod: 'web-b1', intact: true });
    expect(await echoUdp(podA, '10.96.2.24:54', BIG)).toMatchObject({ pod: 'web-a1', intact: true });
  });

  it("the same from outside through a NodePort: to this node's backend (DNAT) and to another node's (DNAT and SNAT, sent back out by XDP)", async () => {
    expect(await echoUdp(outside, `${c.node('a').ip}:31097`, BIG)).toMatchObject({ pod: 'web-a1', intact: true });
    expect(await echoUdp(outside, `${c.node('a').ip}:31096`, BIG)).toMatchObject({ pod: 'web-b1', intact: true });
  });

  it('a fragment arriving without its first one is dropped and counted (drop_frag_no_first)', async () => {
    // The fabric loses the outside host's first fragments (MF set, offset 0). Not at the host's own
    // egress: a first fragment dropped there makes its stack discard the rest too.
    await nsRun(c.fabricNs, 'nft', ['-f', '-'], { input: `table bridge sluice_firstfrag {
      chain lose { type filter hook forward priority 0; ip saddr ${OUTSIDE_IP} ip frag-off & 0x3fff == 0x2000 drop; }
    }\n` });
    // `sluice monitor` on node a, for the two drops.
    const mon = c.spawnLocal(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', c.node('a').nodeName, 'monitor', '-o', 'json',
      '--type', 'drop', '--count', '2', '--duration', '20']);
    const events: MonitorEvent[] = [];
    readline.createInterface({ input: mon.stdout! }).on('line', (l) => events.push(JSON.parse(l)));
    const exited = new Promise((resolve) => mon.on('exit', resolve));
    await new Promise<void>((resolve) => { let e = ''; mon.stderr!.on('data', (d) => { e += d; if (e.includes('Listening for')) resolve(); }); });
    try {
      const before = counters('a').drop_frag_no_first;
      await expect(echoUdp(outside, `${c.node('a').ip}:31096`, BIG, { tries: 1, timeoutMs: 1000 })).rejects.toThrow(/timeout/);
      // 3,013 bytes of UDP: fragments of 1,480, 1,480 and 53 bytes, the last two without their first.
      expect(counters('a').drop_frag_no_first - before).toBe(2);
      expect(await exited).toBe(0);
      // A later fragment has no ports, and no frontend is known for it.
      expect(events.map((e) => [e.type, e.reason, e.protocol, e.source, e.destination])).toEqual(Array(2).fill(
        ['drop', 'frag_no_first', 'UDP', `${OUTSIDE_IP}:0`, `${c.node('a').ip}:0`]));
    } finally {
      mon.kill();
      await nsRun(c.fabricNs, 'nft', ['delete', 'table', 'bridge', 'sluice_firstfrag'], { allowFail: true });
    }
  });

  it("a client's port unreachable about a late answer reaches the backend's connected socket as ECONNREFUSED: ClusterIP and NodePort, with and without SNAT", async () => {
    const servers: Record<string, PodClient> = {};
    for (const pod of ['web-a1', 'web-b1']) servers[pod] = await c.clientIn(c.pod(pod).ns);
    const nodeA = c.node('a').ip;
    const cases = [
      { from: podA, target: '10.96.2.23:54', backend: 'web-b1', seen: c.pod('client-a').ip },
      { from: podA, target: '10.96.2.23:55', backend: 'web-a1', seen: c.pod('client-a').ip },
      { from: outside, target: `${nodeA}:31095`, backend: 'web-a1', seen: OUTSIDE_IP },
      { from: outside, target: `${nodeA}:31094`, backend: 'web-b1', seen: nodeA },
      // Masqueraded from a pod (eTP Cluster): the error goes out from node a to web-b1, or to web-a1.
      { from: podA, target: `${nodeA}:31094`, backend: 'web-b1', seen: nodeA },
      { from: podA, target: `${nodeA}:31100`, backend: 'web-a1', seen: nodeA },
      // Hairpin: web-a1 is client and backend.
      { from: 'web-a1', target: '10.96.2.23:55', backend: 'web-a1', seen: nodeA },
      { from: 'web-a1', target: `${nodeA}:31100`, backend: 'web-a1', seen: nodeA },
    ];
    try {
      for (const k of cases) {
        const server = servers[k.backend]!;
        await server.cmd({ op: 'udpAnswerLate', port: 5400, delayMs: 300, timeoutMs: 3000 });
        const from = typeof k.from === 'string' ? await c.clientIn(c.pod(k.from).ns) : k.from;
        await from.cmd({ op: 'udpSendOnce', target: k.target });
        if (from !== k.from) from.proc.kill();
        const r = await server.cmd<{ from: string; socketError: string | null }>({ op: 'udpLateResult' }, 10000);
        expect(r.from.split(':')[0], k.target).toBe(k.seen);
        expect(r.socketError, k.target).toBe('ECONNREFUSED');
      }
    } finally {
      for (const s of Object.values(servers)) s.proc.kill();
    }
  });

  it("a backend's port unreachable about a masqueraded datagram reaches the client's connected socket as ECONNREFUSED: hairpin, and a pod's eTP Cluster NodePort flow to this node's backend and another's", async () => {
    const self = await c.client('web-a1');
    const nodeA = c.node('a').ip;
    const cases = [
      { from: podA, name: 'client-a', target: '10.96.2.27:59' }, // ClusterIP, no source NAT: the kernel's own doing
      { from: self, name: 'web-a1', target: '10.96.2.27:59' },
      { from: self, name: 'web-a1', target: `${nodeA}:31101` },
      { from: podA, name: 'client-a', target: `${nodeA}:31101` },
      { from: podA, name: 'client-a', target: `${nodeA}:31102` },
      { from: podB, name: 'client-b', target: `${nodeA}:31101` }, // from outside node a: a north-south flow
    ];
    // The backends answer node a's address every time: no ICMP rate limit in their way.
    const pods = ['web-a1', 'web-b1'];
    for (const p of pods) await nsRun(c.pod(p).ns, 'sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=0']);
    try {
      for (const k of cases) {
        const r = await k.from.burst(k.target, { proto: 'udp', count: 2, timeoutMs: 1500 });
        expect(r.errors, `${k.name} -> ${k.target}`).toEqual({ ECONNREFUSED: 2 });
      }
    } finally {
      self.proc.kill();
      for (const p of pods) await nsRun(c.pod(p).ns, 'sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=1000']);
    }
  });

  it("'fragmentation needed' about a packet node a source-NATed to node b's backend reaches the outside client, which then sends in fragments", async () => {
    // 1,400 bytes fit the outside host's 1500 MTU, so it sets DF; node b cannot forward that to
    // web-b2 (1280) and tells node a, the source it sees, which must pass it on translated.
    await nsRun(outsideNs, 'ip', ['route', 'flush', 'cache']);
    const r = await echoUdp(outside, `${c.node('a').ip}:31098`, 1400, { tries: 3 });
    expect(r, JSON.stringify(r)).toMatchObject({ pod: 'web-b2', intact: true });
    // The outside host's socket took the error as its own: the path MTU to node a is learnt.
    expect(await nsRun(outsideNs, 'ip', ['route', 'get', c.node('a').ip])).toContain('mtu 1280');
  });
});

// Last: it lowers the nodes' link to 1280 bytes for good. Pods keep 1500, so a pod's bulk transfer to
// node b's pod needs "fragmentation needed" from node a, which quotes the packet as translated.
describe('path MTU discovery through a Service', () => {
  it('a 2 MB TCP echo to a remote backend completes through a ClusterIP and an own-node NodePort, as to the pod IP', async () => {
    for (const n of ['a', 'b']) {
      await nsRun(c.fabricNs, 'ip', ['link', 'set', `n${c.node(n).index}`, 'mtu', '1280']);
      await nsRun(c.node(n).ns, 'ip', ['link', 'set', 'eth0', 'mtu', '1280']);
    }
    // Each transfer starts with no learnt path MTU on either end (a backend that learnt it would
    // advertise a smaller MSS, and the client would never need the ICMP error).
    const echo = async (target: string) => {
      for (const pod of ['client-a', 'web-b1']) await nsRun(c.pod(pod).ns, 'ip', ['route', 'flush', 'cache']);
      return podA.cmd<{ pod: string; intact: boolean }>({ op: 'echo', target, bytes: 2 << 20, proto: 'tcp' }, 20000);
    };
    expect(await echo('10.96.2.11:80')).toEqual({ pod: 'web-b1', intact: true });
    // The client learnt the smaller path MTU for the service address itself.
    expect(await nsRun(c.pod('client-a').ns, 'ip', ['route', 'get', '10.96.2.11'])).toContain('mtu 1280');
    expect(await echo(`${c.node('a').ip}:31081`)).toEqual({ pod: 'web-b1', intact: true });
    expect(await echo(`${c.pod('web-b1').ip}:8080`)).toEqual({ pod: 'web-b1', intact: true });
  });
});
