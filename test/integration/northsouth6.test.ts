// Issue 15 phase 2: north-south over IPv6 (northsouth.test.ts's twin). An outside host on the nodes'
// link reaches NodePorts on both nodes' IPv6 addresses, an IPv6 externalIP and LoadBalancer IPs;
// backends run on both nodes. The IPv4 tests' assertions, over IPv6: eTP Cluster masquerades to the
// node's IPv6 address (sl_config6), eTP Local keeps the client's, source ranges, reject and drop,
// byte-exact TCP, UDP in fragments, and ICMPv6 Packet Too Big about translated flows both ways.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinDir } from '../../agent/datapath.ts';
import * as bpf from '../../agent/bpf/libbpf.ts';
import * as L from '../../agent/bpf/layout.ts';
import type { ServiceJson } from '../../proto/contract.ts';
import { SimAgent } from '../../sim/agent.ts';
import { NODE_BIN, REPO, SimCluster, simIp6, type PodClient } from '../../sim/cluster.ts';
import { nsRun } from '../../sim/netns.ts';
import { spreadOk } from '../../sim/scenario.ts';

let c: SimCluster;
const agents: Record<string, SimAgent> = {};
let outside: PodClient;
let outside2: PodClient;
let outsideNs: string;
let out6: string;
const OUTSIDE_IP = '10.10.0.100';
// Each address kind in both families (dual-stack Services); the IPv6 ones are what is tested.
const EXTERNAL = { v4: '192.0.2.10', v6: '2001:db8:10::10' };
const LB = { v4: '192.0.2.20', v6: '2001:db8:10::20' };
const LB_ALLOWED = { v4: '192.0.2.21', v6: '2001:db8:10::21' };
const LB_BLOCKED = { v4: '192.0.2.22', v6: '2001:db8:10::22' };
const LB_EMPTY = { v4: '192.0.2.23', v6: '2001:db8:10::23' };
// Backends: one on node a, one on node b; web-b2 (node b) and web-a2 (node a) behind 1280-byte links.
const PODS: Array<[string, string]> = [['web-a1', 'a'], ['web-b1', 'b']];
const NARROW: Array<[string, string]> = [['web-b2', 'b'], ['web-a2', 'a']];

const v6 = (addr: string, port: number) => `[${addr}]:${port}`;
const node6 = (n: string) => c.node(n).ip6;

/** Both families' endpoints of a pod, as an EndpointSlice of each addressType gives them. */
function eps(pods: string[], port: number) {
  return pods.flatMap((name) => {
    const p = c.pod(name);
    return [p.ip, p.ip6].map((ip) => ({ ip, port, ready: true, nodeName: p.node.nodeName }));
  });
}

/** A dual-stack Service (RequireDualStack): both families served, IPv4 first. */
function svc(name: string, n: number, rest: Partial<ServiceJson>): ServiceJson {
  return {
    namespace: 'ns6', name, type: 'NodePort', clusterIps: [`10.96.6.${n}`, `fd00:10:96::6:${n}`], ipFamilies: [4, 6],
    ipFamilyPolicy: 'RequireDualStack', ...rest,
  } as ServiceJson;
}

function services(): ServiceJson[] {
  const both = PODS.map(([p]) => p);
  const tcp = (nodePort: number, pods: string[]) => ({ name: 'http', protocol: 'TCP', port: 80, nodePort, endpoints: eps(pods, 8080) });
  const udp = (nodePort: number, pods: string[], port = 53) => ({ name: `dns${port}`, protocol: 'UDP', port, nodePort, endpoints: eps(pods, 5353) });
  return [
    svc('np', 10, { ports: [tcp(32080, both), udp(32053, both)] }),
    svc('np-local', 11, { externalTrafficLocal: true, ports: [tcp(32081, ['web-b1']), udp(32082, ['web-b1'])] }),
    svc('np-own', 12, { ports: [tcp(32086, ['web-a1']), udp(32087, ['web-a1'])] }),
    svc('np-remote', 13, { ports: [tcp(32084, ['web-b1'])] }),
    svc('np-empty', 14, { ports: [tcp(32090, []), udp(32091, [])] }),
    svc('ext', 15, { type: 'ClusterIP', externalIps: [EXTERNAL.v4, EXTERNAL.v6], ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: eps(both, 8080) }] }),
    svc('lb', 16, { type: 'LoadBalancer', loadBalancerIps: [LB.v4, LB.v6], ports: [tcp(32092, both)] }),
    svc('allowed', 17, {
      type: 'LoadBalancer', loadBalancerIps: [LB_ALLOWED.v4, LB_ALLOWED.v6], loadBalancerSourceRanges: [`${OUTSIDE_IP}/32`, `${simIp6(OUTSIDE_IP)}/128`],
      ports: [tcp(32093, ['web-a1'])],
    }),
    svc('blocked', 18, {
      type: 'LoadBalancer', loadBalancerIps: [LB_BLOCKED.v4, LB_BLOCKED.v6], loadBalancerSourceRanges: ['203.0.113.0/24', '2001:db8:ffff::/48'],
      ports: [tcp(32094, ['web-a1'])],
    }),
    svc('lb-empty', 19, { type: 'LoadBalancer', loadBalancerIps: [LB_EMPTY.v4, LB_EMPTY.v6], ports: [tcp(32095, [])] }),
    // Behind 1280-byte links: on another node (node b's forwarding answers Packet Too Big to node
    // a, which source-NATed the flow) and on node a itself (sl_ext_tc6 answers it).
    // Backends that answer late (udpAnswerLate on 5400): the client's port unreachable comes back.
    svc('late', 21, { ports: [
      { name: 'remote', protocol: 'UDP', port: 54, nodePort: 32101, endpoints: eps(['web-b1'], 5400) },
      { name: 'local', protocol: 'UDP', port: 55, nodePort: 32102, endpoints: eps(['web-a1'], 5400) },
    ] }),
    svc('late-local', 22, { externalTrafficLocal: true, ports: [{ name: 'local', protocol: 'UDP', port: 55, nodePort: 32103, endpoints: eps(['web-a1'], 5400) }] }),
    // Backends whose port is closed: they answer with ICMPv6 port unreachable.
    svc('closed', 24, { ports: [
      { name: 'here', protocol: 'UDP', port: 59, nodePort: 32104, endpoints: eps(['web-a1'], 5999) },
      { name: 'there', protocol: 'UDP', port: 60, nodePort: 32105, endpoints: eps(['web-b1'], 5999) },
    ] }),
    svc('closed-local', 25, { externalTrafficLocal: true, ports: [{ name: 'here', protocol: 'UDP', port: 59, nodePort: 32106, endpoints: eps(['web-a1'], 5999) }] }),
    svc('np-sticky', 23, { affinityClientIp: true, affinityTimeoutSeconds: 600, ports: [tcp(32085, both)] }),
    svc('narrow', 20, { ports: [udp(32098, ['web-b2'], 55), udp(32099, ['web-a2'], 56)] }),
  ];
}

/** REPLY entries in @node's sl_ct6 from @backend:@port (flows translated to it). */
function replyFlows(node: string, backend: string, port: number): string[] {
  const fd = bpf.objGet(`${pinDir(c.node(node).nodeName)}/sl_ct6`);
  try {
    return bpf.mapDump(fd, L.ct6Key.size, L.ct6Entry.size).map(({ key }) => L.ct6Key.decode(key))
      .filter((k) => k.dir === L.SL_CT_DIR_REPLY && k.saddr === backend && k.sport === port)
      .map((k) => `${k.daddr}:${k.dport}`);
  } finally {
    bpf.closeFd(fd);
  }
}

/** Node ports of the source-NATed IPv6 flows @node holds to @backend:@port/@proto (REPLY entries to its address). */
function snatPorts(node: string, backend: string, port: number, proto: number): number[] {
  const fd = bpf.objGet(`${pinDir(c.node(node).nodeName)}/sl_ct6`);
  try {
    return bpf.mapDump(fd, L.ct6Key.size, L.ct6Entry.size)
      .map(({ key, value }) => ({ k: L.ct6Key.decode(key), e: L.ct6Entry.decode(value) }))
      .filter(({ k, e }) => k.dir === L.SL_CT_DIR_REPLY && k.saddr === backend && k.sport === port && k.proto === proto
        && (e.flags & L.SL_CT_F_SNAT) && k.daddr === node6(node))
      .map(({ k }) => k.dport);
  } finally {
    bpf.closeFd(fd);
  }
}

/** sl_config's masquerade port range on @node (IPv6 flows take theirs from it too). */
function snatRange(node: string): [number, number] {
  const fd = bpf.objGet(`${pinDir(c.node(node).nodeName)}/sl_config`);
  try {
    const v = Buffer.alloc(L.config.size);
    bpf.mapLookup(fd, Buffer.alloc(4), v);
    const cfg = L.config.decode(v);
    return [cfg.snat_port_min, cfg.snat_port_max];
  } finally {
    bpf.closeFd(fd);
  }
}

function status(node: string) {
  return JSON.parse(execFileSync(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', c.node(node).nodeName, 'status', '-o', 'json'], { encoding: 'utf8' }));
}

/** Frames native XDP on a node's eth0 sent on itself (XDP_TX or redirect), as northsouth.test.ts counts them. */
async function xdpForwarded(node: string): Promise<number> {
  const out = await nsRun(c.node(node).ns, 'ethtool', ['-S', 'eth0']);
  return [...out.matchAll(/rx_queue_\d+_xdp_(?:redirect|tx): (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

const echoUdp = (target: string, bytes: number, extra: Record<string, unknown> = {}) =>
  outside.cmd<{ pod: string; intact: boolean; sent: number; errors: Record<string, number> }>(
    { op: 'echo', target, bytes, proto: 'udp', tries: 2, timeoutMs: 2000, ...extra }, 30000);

async function startAgent(node: string, mode: string, stateFile?: string): Promise<void> {
  const args = ['--external-interface', 'eth0', '--external-mode', mode];
  agents[node] = stateFile
    ? await SimAgent.start(c, node, { stateFile, args })
    : await SimAgent.start(c, node, { args }, services());
  await agents[node].waitLog((l) => l.msg === 'north-south datapath attached');
  if (!stateFile) await agents[node].waitLog((l) => l.msg === 'applied');
}

beforeAll(async () => {
  c = await SimCluster.create({ nodes: ['a', 'b'] });
  for (const [pod, node] of PODS) {
    await c.addPod(node, pod);
    await c.serve(pod, { tcp: [8080], udp: [5353] });
  }
  for (const [pod, node] of NARROW) {
    const p = await c.addPod(node, pod);
    await nsRun(p.ns, 'ip', ['link', 'set', 'eth0', 'mtu', '1280']);
    await nsRun(c.node(node).ns, 'ip', ['link', 'set', p.hostIf, 'mtu', '1280']);
    await c.serve(pod, { tcp: [8080], udp: [5353] });
  }
  const o = await c.addOutside('outside', OUTSIDE_IP, [
    ...[EXTERNAL, LB_ALLOWED, LB_BLOCKED, LB_EMPTY].map((a) => ({ to: `${a.v6}/128`, via: 'a' })), { to: `${LB.v6}/128`, via: 'b' },
    { to: 'fd00:10:244:1::/64', via: 'a' }, { to: 'fd00:10:244:2::/64', via: 'b' },
  ]);
  outsideNs = o.ns;
  out6 = o.ip6;
  for (const n of ['a', 'b']) await startAgent(n, 'xdp-native');
  outside = await c.clientIn(o.ns);
  outside2 = await c.clientIn((await c.addOutside('outsidetwo', '10.10.0.101')).ns);
}, 120000);

afterAll(async () => {
  await c?.destroy();
});

describe('north-south over IPv6', () => {
  it("serves a NodePort on both nodes' IPv6 addresses, from local and remote backends, XDP sending the remote ones on", async () => {
    const N = 100;
    for (const node of ['a', 'b']) {
      const before = await xdpForwarded(node);
      const r = await outside.burst(v6(node6(node), 32080), { count: N, concurrency: 3 });
      expect(r.failed, `node ${node}: ${JSON.stringify(r.errors)}`).toBe(0);
      const v = spreadOk(r, ['web-a1', 'web-b1'], N);
      expect(v.ok, `node ${node}: ${v.why} ${JSON.stringify(r.counts)}`).toBe(true);
      // Connections to the other node's backend: XDP sends at least the SYN and the answer itself.
      const remote = Object.entries(r.counts).filter(([p]) => c.pod(p).node.name !== node).reduce((n, [, k]) => n + k, 0);
      expect((await xdpForwarded(node)) - before, `node ${node}: frames XDP forwarded`).toBeGreaterThanOrEqual(2 * remote);
    }
  });

  it('carries TCP data byte for byte through a local and a remote backend, and UDP', async () => {
    const a = node6('a');
    expect(await outside.echo(v6(a, 32086), 1 << 20)).toEqual({ pod: 'web-a1', intact: true });
    expect(await outside.echo(v6(a, 32084), 1 << 20)).toEqual({ pod: 'web-b1', intact: true });
    const udp = await outside.burst(v6(node6('b'), 32053), { proto: 'udp', count: 30 });
    expect(udp.failed, JSON.stringify(udp.errors)).toBe(0);
    expect((await outside.echo(v6(a, 32087), 1000, 'udp')).intact).toBe(true);
  });

  // kube-proxy's TestExternalTrafficPolicyCluster, over IPv6: masqueraded to the node's address.
  it("with externalTrafficPolicy Cluster masquerades to the node's IPv6 address, whichever node runs the backend", async () => {
    const a = node6('a');
    const r = await outside.burst(v6(a, 32080), { count: 40, concurrency: 3, byClient: true });
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(Object.keys(r.counts).sort()).toEqual([`web-a1 ${a}`, `web-b1 ${a}`]);
    expect((await outside.burst(v6(a, 32086), { count: 10, byClient: true })).counts).toEqual({ [`web-a1 ${a}`]: 10 });
    expect((await outside.burst(v6(a, 32087), { proto: 'udp', count: 10, byClient: true })).counts).toEqual({ [`web-a1 ${a}`]: 10 });
    // The node ports it took towards node b's backend come from sl_config's range.
    const [min, max] = snatRange('a');
    const ports = snatPorts('a', c.pod('web-b1').ip6, 8080, L.IPPROTO.TCP);
    expect(ports.length).toBeGreaterThan(0);
    expect(ports.filter((p) => p < min || p > max), `outside ${min}-${max}`).toEqual([]);
  });

  it('gives two outside clients on the same source port to one local backend a node port each', async () => {
    const a = node6('a');
    const flows = () => snatPorts('a', c.pod('web-a1').ip6, 5353, L.IPPROTO.UDP);
    const held = new Set(flows());
    // UDP flows stay open, so the second client finds the first one's node port taken.
    const [one, two] = await Promise.all([
      outside.burst(v6(a, 32087), { proto: 'udp', count: 5, srcPort: 47000, byClient: true }),
      outside2.burst(v6(a, 32087), { proto: 'udp', count: 5, srcPort: 47000, byClient: true }),
    ]);
    expect(one.counts, JSON.stringify(one.errors)).toEqual({ [`web-a1 ${a}`]: 5 });
    expect(two.counts, JSON.stringify(two.errors)).toEqual({ [`web-a1 ${a}`]: 5 });
    // Ten flows, ten node ports towards web-a1: none was handed out twice.
    expect(flows().filter((p) => !held.has(p))).toHaveLength(10);
  });

  it('keeps an outside client on one backend with ClientIP affinity, through either node', async () => {
    for (const node of ['a', 'b']) {
      const r = await outside.burst(v6(node6(node), 32085), { count: 40, concurrency: 3 });
      expect(r.failed, `node ${node}: ${JSON.stringify(r.errors)}`).toBe(0);
      // Without affinity, 40 connections over 2 backends all landing on one: 2 x (1/2)^40.
      expect(Object.keys(r.counts), `node ${node}: ${JSON.stringify(r.counts)}`).toHaveLength(1);
    }
  });

  it('with externalTrafficPolicy Local keeps the client address, and a node without a local endpoint drops', async () => {
    const b = node6('b');
    expect((await outside.burst(v6(b, 32081), { count: 20, byClient: true })).counts).toEqual({ [`web-b1 ${out6}`]: 20 });
    expect((await outside.burst(v6(b, 32082), { proto: 'udp', count: 10, byClient: true })).counts).toEqual({ [`web-b1 ${out6}`]: 10 });
    expect(await outside.echo(v6(b, 32081), 256 << 10)).toEqual({ pod: 'web-b1', intact: true });
    const before = status('a').counters.ext_no_local as number;
    const none = await outside.burst(v6(node6('a'), 32081), { count: 3, timeoutMs: 1000 });
    expect(none.errors).toEqual({ TIMEOUT: 3 });
    expect(status('a').counters.ext_no_local).toBeGreaterThan(before);
  });

  it('serves an IPv6 ExternalIP and LoadBalancer IP', async () => {
    // The outside host routes the ExternalIP to node a and the LoadBalancer IP to node b.
    for (const [target, node] of [[v6(EXTERNAL.v6, 80), 'a'], [v6(LB.v6, 80), 'b']] as const) {
      const r = await outside.burst(target, { count: 60, concurrency: 3, byClient: true });
      expect(r.failed, `${target}: ${JSON.stringify(r.errors)}`).toBe(0);
      expect(Object.keys(r.counts).sort(), target).toEqual([`web-a1 ${node6(node)}`, `web-b1 ${node6(node)}`]);
    }
  });

  // kube-proxy's TestLoadBalancer source ranges: a client outside them is dropped (no answer).
  it('applies loadBalancerSourceRanges of IPv6: a client inside is served, one outside dropped', async () => {
    const allowed = await outside.burst(v6(LB_ALLOWED.v6, 80), { count: 5 });
    expect(allowed.counts, JSON.stringify(allowed.errors)).toEqual({ 'web-a1': 5 });
    const before = status('a').counters.drop_src_range as number;
    const blocked = await outside.burst(v6(LB_BLOCKED.v6, 80), { count: 2, timeoutMs: 1000 });
    expect(blocked.errors).toEqual({ TIMEOUT: 2 });
    expect(status('a').counters.drop_src_range).toBeGreaterThanOrEqual(before + 2);
  });

  // kube-proxy's REJECT for a frontend without endpoints, at once: a RST to a TCP SYN (an ICMPv6
  // error would reach a socket connect() still holds, and be dropped: lib/reject6.h), ICMPv6 port
  // unreachable to UDP.
  it('refuses a NodePort and a LoadBalancer IP without endpoints at once: a RST to a SYN, ICMPv6 port unreachable to UDP', async () => {
    for (const [target, node, proto] of [[v6(node6('a'), 32090), 'a', 'tcp'], [v6(node6('b'), 32091), 'b', 'udp'], [v6(LB_EMPTY.v6, 80), 'a', 'tcp']] as const) {
      // The kernel would refuse a closed port of the node's own too: the counter says who did.
      const before = status(node).counters.reject as number;
      const r = await outside.burst(target, { proto, count: 2, timeoutMs: 3000 });
      expect(r.errors, target).toEqual({ ECONNREFUSED: 2 });
      // Within 0.9 s: a lost answer would cost the SYN's retransmission, a second.
      expect(Math.max(...r.ms), `${target} ${JSON.stringify(r.ms)}`).toBeLessThan(900);
      expect(status(node).counters.reject, target).toBe(before + 2);
    }
  });

  it("reaches another node's backend when node a has no neighbour entry for the next hop (XDP hands over to tc)", async () => {
    const a = c.node('a');
    for (let round = 0; round < 2; round++) {
      // Node a forgets node b's and the client's MACs: XDP cannot resolve them and hands the
      // frames, SYN and answer, to sl_ext_tc6 (bpf_redirect_neigh()).
      await nsRun(a.ns, 'ip', ['-6', 'neigh', 'flush', 'dev', 'eth0']);
      expect(await nsRun(a.ns, 'ip', ['-6', 'neigh', 'show', node6('b'), 'dev', 'eth0'])).not.toMatch(/lladdr/);
      const fibFail = status('a').counters.ext_fib_fail as number;
      const r = await outside.burst(v6(a.ip6, 32084), { count: 1, timeoutMs: 3000, slowMs: 1000 });
      expect(r.counts, `round ${round}: ${JSON.stringify(r.errors)}`).toEqual({ 'web-b1': 1 });
      expect(r.slow, `round ${round}: the first SYN went through`).toEqual([]);
      expect(status('a').counters.ext_fib_fail).toBe(fibFail);
      expect(await nsRun(a.ns, 'ip', ['-6', 'neigh', 'show', node6('b'), 'dev', 'eth0'])).toMatch(/lladdr/);
    }
  });

  it('answers a direct connection to a pod on the tuple of an earlier NodePort connection untranslated', async () => {
    // eTP Local keeps the client's address, so the NodePort flow's reply entry has the very tuple
    // the direct connection's replies have: its SYN drops that entry once the NodePort flow is over.
    const via = await outside.burst(v6(node6('b'), 32081), { count: 5, srcPort: 48100 });
    expect(via.counts, JSON.stringify(via.failures)).toEqual({ 'web-b1': 5 });
    const direct = await outside.burst(v6(c.pod('web-b1').ip6, 8080), { count: 5, srcPort: 48100, timeoutMs: 5000 });
    expect(direct.counts, JSON.stringify(direct.failures)).toEqual({ 'web-b1': 5 });
  });

  it("the client's ICMPv6 port unreachable about a late answer reaches the backend's connected socket: DNAT only, and source-NATed to this node's backend and another's", async () => {
    const a = node6('a');
    const cases = [
      { target: v6(a, 32103), backend: 'web-a1', seen: out6 }, // eTP Local: to the backend, the kernel routing it
      { target: v6(a, 32102), backend: 'web-a1', seen: a }, // eTP Cluster, this node's backend
      { target: v6(a, 32101), backend: 'web-b1', seen: a }, // eTP Cluster, node b's backend
    ];
    // The outside host answers every late datagram: no ICMPv6 rate limit in the way.
    await nsRun(outsideNs, 'sysctl', ['-qw', 'net.ipv6.icmp.ratelimit=0']);
    const servers: PodClient[] = [];
    try {
      for (const k of cases) {
        const server = await c.clientIn(c.pod(k.backend).ns);
        servers.push(server);
        await server.cmd({ op: 'udpAnswerLate', port: 5400, delayMs: 300, timeoutMs: 3000, family: 6 });
        await outside.cmd({ op: 'udpSendOnce', target: k.target });
        const r = await server.cmd<{ from: string; socketError: string | null }>({ op: 'udpLateResult' }, 10000);
        expect(r.from.replace(/^\[(.*)\]:\d+$/, '$1'), k.target).toBe(k.seen);
        expect(r.socketError, k.target).toBe('ECONNREFUSED');
      }
    } finally {
      for (const s of servers) s.proc.kill();
      await nsRun(outsideNs, 'sysctl', ['-qw', 'net.ipv6.icmp.ratelimit=1000']);
    }
  });

  it("a backend's ICMPv6 port unreachable reaches the outside client's connected socket: DNAT only, and source-NATed from this node's backend and another's", async () => {
    const a = node6('a');
    // The backends answer every datagram: no ICMPv6 rate limit in the way.
    for (const p of ['web-a1', 'web-b1']) await nsRun(c.pod(p).ns, 'sysctl', ['-qw', 'net.ipv6.icmp.ratelimit=0']);
    try {
      // eTP Local: the error leaves by node a's eth0, where sl_ext_egress6 puts the service back in
      // its quote; eTP Cluster: web-a1's error is sent on by its veth's program, web-b1's comes to
      // node a from node b and sl_ext_tc6 sends it on to the client.
      for (const [port, backend] of [[32106, 'web-a1'], [32104, 'web-a1'], [32105, 'web-b1']] as const) {
        const r = await outside.burst(v6(a, port), { proto: 'udp', count: 2, timeoutMs: 1500 });
        expect(r.errors, `port ${port}`).toEqual({ ECONNREFUSED: 2 });
        // Refused by the backend, not by node a's own closed port: node a translated the flows.
        expect(replyFlows('a', c.pod(backend).ip6, 5999).length, `port ${port}`).toBeGreaterThanOrEqual(2);
      }
    } finally {
      for (const p of ['web-a1', 'web-b1']) await nsRun(c.pod(p).ns, 'sysctl', ['-qw', 'net.ipv6.icmp.ratelimit=1000']);
    }
  });

  it('echoes 3,000-byte UDP datagrams in fragments through a local and a remote backend, both ways', async () => {
    const a = node6('a');
    expect(await echoUdp(v6(a, 32087), 3000)).toMatchObject({ pod: 'web-a1', intact: true });
    const seen = new Set<string>();
    for (let i = 0; i < 20 && seen.size < 2; i++) {
      const e = await echoUdp(v6(a, 32053), 3000);
      expect(e.intact, e.pod).toBe(true);
      seen.add(e.pod);
    }
    expect([...seen].sort()).toEqual(['web-a1', 'web-b1']);
  });

  it('drops and counts the later fragments of a datagram whose first fragment never arrived (drop_frag_no_first)', async () => {
    // The fabric loses the outside host's first fragments (offset 0, M set): not at the host's own
    // egress, where a lost first fragment makes its stack discard the rest too.
    await nsRun(c.fabricNs, 'nft', ['-f', '-'], { input: `table bridge sluice_firstfrag6 {
      chain lose { type filter hook forward priority 0; ip6 saddr ${out6} frag frag-off 0 frag more-fragments 1 drop; }
    }\n` });
    try {
      const before = status('a').counters.drop_frag_no_first as number;
      await expect(echoUdp(v6(node6('a'), 32053), 3000, { tries: 1, timeoutMs: 1000 })).rejects.toThrow(/timeout/);
      // 3,000 bytes of UDP: a first fragment and at least two later ones, each dropped at node a.
      expect(status('a').counters.drop_frag_no_first).toBeGreaterThanOrEqual(before + 2);
    } finally {
      await nsRun(c.fabricNs, 'nft', ['delete', 'table', 'bridge', 'sluice_firstfrag6'], { allowFail: true });
    }
  });

  it("Packet Too Big about a flow node a source-NATed to node b's narrow backend reaches the outside client, which then sends smaller", async () => {
    // 1,400 bytes fit the outside host's 1500-byte link; node b cannot forward them to web-b2
    // (1280) and tells node a, the source it sees, which must pass it on translated.
    await nsRun(outsideNs, 'ip', ['-6', 'route', 'flush', 'cache']);
    expect(await nsRun(outsideNs, 'ip', ['-6', 'route', 'get', node6('a')])).not.toContain('mtu 1280');
    const r = await echoUdp(v6(node6('a'), 32098), 1400, { tries: 3 });
    expect(r, JSON.stringify(r)).toMatchObject({ pod: 'web-b2', intact: true });
    expect(await nsRun(outsideNs, 'ip', ['-6', 'route', 'get', node6('a')])).toContain('mtu 1280');
  });

  it('Packet Too Big from node a itself about a packet to its own narrow backend reaches the outside client, which then sends smaller', async () => {
    // Node a redirects the translated packet into web-a2's veth (1280) itself: the kernel's
    // forwarding never sees it, so sl_ext_tc6 answers Packet Too Big, quoting the packet as sent.
    await nsRun(outsideNs, 'ip', ['-6', 'route', 'flush', 'cache']);
    expect(await nsRun(outsideNs, 'ip', ['-6', 'route', 'get', node6('a')])).not.toContain('mtu 1280');
    const r = await echoUdp(v6(node6('a'), 32099), 1400, { tries: 3 });
    expect(r, JSON.stringify(r)).toMatchObject({ pod: 'web-a2', intact: true });
    expect(await nsRun(outsideNs, 'ip', ['-6', 'route', 'get', node6('a')])).toContain('mtu 1280');
  });

  for (const [mode, expected] of [['auto', /^eth0 xdp-generic /], ['tc', /^eth0 tc /]] as const) {
    it(`in mode ${mode} (${mode === 'auto' ? 'generic XDP on a veth' : 'tc'}) serves IPv6 NodePorts, eTP Local and fragments`, async () => {
      await agents.b!.kill('SIGTERM');
      await startAgent('b', mode, agents.b!.stateFile);
      expect(status('b').agent.external).toMatch(expected);
      const b = node6('b');
      const r = await outside.burst(v6(b, 32080), { count: 40, concurrency: 3, byClient: true });
      expect(r.failed, JSON.stringify(r.errors)).toBe(0);
      expect(Object.keys(r.counts).sort()).toEqual([`web-a1 ${b}`, `web-b1 ${b}`]);
      expect((await outside.burst(v6(b, 32081), { count: 5, byClient: true })).counts).toEqual({ [`web-b1 ${out6}`]: 5 });
      expect(await outside.echo(v6(b, 32084), 256 << 10)).toEqual({ pod: 'web-b1', intact: true });
      // UDP in fragments until one reaches node a's backend (source-NATed, sent back out).
      const seen = new Set<string>();
      for (let i = 0; i < 20 && !seen.has('web-a1'); i++) {
        const e = await echoUdp(v6(b, 32053), 3000);
        expect(e.intact, e.pod).toBe(true);
        seen.add(e.pod);
      }
      expect(seen).toContain('web-a1');
    });
  }
});
