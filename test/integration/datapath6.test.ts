// Issue 15, phase 2: the IPv6 per-packet datapath on pods' veths (sl_from_pod6 / sl_to_pod6, tail-
// called from sl_from_pod / sl_to_pod). Real BPF loaded by the agent, which programs the IPv6
// frontends of these IPv6 Services into sl_services6 / sl_backends6 / sl_maglev; real IPv6 packets
// between pod namespaces of the dual-stack sim, as datapath.test.ts does for IPv4.
//   node a: client, client2, b1..b4 (TCP 8080, UDP 5353); node b: r1 (same ports)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as bpf from '../../agent/bpf/libbpf.ts';
import * as L from '../../agent/bpf/layout.ts';
import type { ServiceJson } from '../../proto/contract.ts';
import { SimAgent } from '../../sim/agent.ts';
import { SimCluster, type PodClient } from '../../sim/cluster.ts';
import { nsRun, PIN_ROOT, sleep } from '../../sim/netns.ts';
import { dumpPinned, pinnedCounter } from '../../sim/pinned.ts';

const LOCAL = ['b1', 'b2', 'b3', 'b4'];
let c: SimCluster;
let agent: SimAgent;
let client: PodClient;
let client2: PodClient;

const VIP = 'fd00:10:96::a';
const STICKY = 'fd00:10:96::1e';
const EMPTY = 'fd00:10:96::28';
const FOUR = 'fd00:10:96::14';
const REMOTE = 'fd00:10:96::32';
const SELF = 'fd00:10:96::3c';
// A LoadBalancer IP of an externalTrafficPolicy Local service whose endpoint is on node b, as pods
// reach it (short-circuited to the cluster-wide endpoints), and an eTP Cluster NodePort on node a's
// IPv6 address (masqueraded to it).
const LB_LOCAL = 'fd00:10:99::5';
const NODEPORT = 31080;
const NARROW_PORT = 31098;
const bracket = (ip: string, port: number) => `[${ip}]:${port}`;

function ep(pod: string, port: number, sets: { internal?: boolean; external?: boolean; cluster?: boolean } = {}) {
  const p = c.pod(pod);
  return { ip: p.ip6, port, ready: true, nodeName: p.node.nodeName, ...sets };
}

function svc(name: string, vip: string, pods: string[], extra: Partial<ServiceJson> = {}): ServiceJson {
  return {
    namespace: 'v6', name, clusterIps: [vip], ...extra,
    ports: [
      { name: 'http', protocol: 'TCP', port: 80, endpoints: pods.map((b) => ep(b, 8080)) },
      { name: 'dns', protocol: 'UDP', port: 53, endpoints: pods.map((b) => ep(b, 5353)) },
    ],
  };
}

let fourBackends = [...LOCAL];
const services = (): ServiceJson[] => [
  svc('web', VIP, ['b1', 'b2', 'b3']),
  svc('sticky', STICKY, ['b1', 'b2', 'b3'], { affinityClientIp: true, affinityTimeoutSeconds: 2 }),
  svc('empty', EMPTY, []),
  svc('four', FOUR, fourBackends),
  svc('remote', REMOTE, ['r1']),
  svc('self', SELF, ['b1']),
  {
    namespace: 'v6', name: 'short', type: 'LoadBalancer', clusterIps: ['fd00:10:96::46'], externalTrafficLocal: true,
    loadBalancerIps: [LB_LOCAL],
    ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 31081, endpoints: [ep('r1', 8080, { internal: true, external: false, cluster: true })] }],
  },
  {
    // Its endpoint sits behind a 1280-byte link: a masqueraded datagram over that is ours to refuse.
    namespace: 'v6', name: 'narrow', type: 'NodePort', clusterIps: ['fd00:10:96::5a'],
    ports: [{ name: 'dns', protocol: 'UDP', port: 53, nodePort: NARROW_PORT, endpoints: [ep('narrow', 5353)] }],
  },
  {
    namespace: 'v6', name: 'np', type: 'NodePort', clusterIps: ['fd00:10:96::50'],
    ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: NODEPORT, endpoints: [ep('b2', 8080)] }],
  },
];

beforeAll(async () => {
  c = await SimCluster.create({ nodes: ['a', 'b'] });
  for (const p of ['client', 'client2']) await c.addPod('a', p);
  for (const b of LOCAL) {
    await c.addPod('a', b);
    await c.serve(b, { tcp: [8080], udp: [5353] });
  }
  const narrow = await c.addPod('a', 'narrow');
  await nsRun(narrow.ns, 'ip', ['link', 'set', 'eth0', 'mtu', '1280']);
  await nsRun(c.node('a').ns, 'ip', ['link', 'set', narrow.hostIf, 'mtu', '1280']);
  await c.serve('narrow', { udp: [5353] });
  await c.addPod('b', 'r1');
  await c.serve('r1', { tcp: [8080], udp: [5353] });
  // NodePorts on the node's IPv6 address; an external interface, so pods' eTP Cluster flows to
  // external addresses are masqueraded (kube-proxy's rule) rather than short-circuited.
  agent = await SimAgent.start(c, 'a', { args: ['--external-interface', 'eth0', '--nodeport-addresses', 'fd00:10:10::/64'] }, services());
  await agent.waitLog((l) => l.msg === 'applied');
  for (const p of ['client', 'client2', ...LOCAL]) await agent.waitLog((l) => l.msg === 'attached' && l.interface === c.pod(p).hostIf);
  client = await c.client('client');
  client2 = await c.client('client2');
}, 180000);

afterAll(async () => {
  await c?.destroy();
});

/** The svc_id the agent gave frontend @vip:@port/@proto (sl_services6). */
function svcId(vip: string, port: number, proto: number): number {
  const e = dumpPinned(c.node('a').nodeName, 'sl_services6').map(({ key, value }) => ({ k: L.svc6Key.decode(key), v: L.svcValue.decode(value) }))
    .find((x) => x.k.vip === vip && x.k.port === port && x.k.proto === proto && x.k.scope === L.SL_SCOPE_CLUSTER);
  if (!e) throw new Error(`no IPv6 frontend ${vip}:${port}/${proto}`);
  return e.v.svc_id;
}

describe('IPv6 ClusterIP datapath', () => {
  it('carries TCP and UDP to the backends\' port, and leaves direct IPv6 traffic alone', async () => {
    const http = await client.burst(bracket(VIP, 80), { count: 30, byPort: true });
    const dns = await client.burst(bracket(VIP, 53), { proto: 'udp', count: 30, byPort: true });
    for (const [r, port] of [[http, 8080], [dns, 5353]] as const) {
      expect(r.failed, JSON.stringify(r.errors)).toBe(0);
      expect(r.ok).toBe(30);
      for (const key of Object.keys(r.counts)) expect(key).toMatch(new RegExp(`^b[123]:${port}$`));
    }
    const direct = await client.burst(bracket(c.pod('b4').ip6, 8080), { count: 5, byClient: true });
    expect(direct.counts).toEqual({ [`b4 ${c.pod('client').ip6}`]: 5 });
    // Neighbour discovery and echo (ICMPv6 that is no error) pass untouched.
    await nsRun(c.pod('client').ns, 'ping', ['-6', '-c', '1', '-W', '2', c.pod('b2').ip6]);
  });

  it('keeps the client\'s own address (no source NAT) and records both conntrack entries in sl_ct6', async () => {
    const r = await client.burst(bracket(VIP, 80), { count: 5, byClient: true, srcPort: 45100 });
    expect(new Set(Object.keys(r.counts).map((k) => k.split(' ')[1]))).toEqual(new Set([c.pod('client').ip6]));
    const ct = dumpPinned(c.node('a').nodeName, 'sl_ct6').map(({ key, value }) => ({ k: L.ct6Key.decode(key), v: L.ct6Entry.decode(value) }));
    for (const [port, pod] of Object.entries(r.flows!)) {
      const fwd = ct.find((e) => e.k.dir === 0 && e.k.saddr === c.pod('client').ip6 && e.k.sport === Number(port) && e.k.daddr === VIP);
      expect(fwd, `SERVICE entry of port ${port}`).toBeDefined();
      expect(fwd!.v).toMatchObject({ nat_addr: c.pod(pod).ip6, nat_port: 8080, svc_id: svcId(VIP, 80, L.IPPROTO.TCP) });
      const rev = ct.find((e) => e.k.dir === 1 && e.k.saddr === c.pod(pod).ip6 && e.k.sport === 8080 && e.k.daddr === c.pod('client').ip6 && e.k.dport === Number(port));
      expect(rev, `REPLY entry of port ${port}`).toBeDefined();
      // The backend answered and the client closed: REPLIED and CLOSING.
      expect(rev!.v).toMatchObject({ nat_addr: VIP, nat_port: 80 });
      expect(rev!.v.flags & L.SL_CT_F_REPLIED).toBeTruthy();
    }
  });

  it('keeps data intact byte for byte, TCP and UDP, with and without checksum offload', async () => {
    for (const offload of ['on', 'off']) {
      for (const p of ['client', ...LOCAL]) await nsRun(c.pod(p).ns, 'ethtool', ['-K', 'eth0', 'tx', offload]);
      expect(await client.echo(bracket(VIP, 80), 4 << 20), `TCP, tx offload ${offload}`).toMatchObject({ intact: true });
      expect(await client.echo(bracket(VIP, 53), 1200, 'udp'), `UDP, tx offload ${offload}`).toMatchObject({ intact: true });
    }
  });

  it('spreads 3,000 new connections over 3 backends at 33% ± 5 points, the same flow to the same backend', async () => {
    const r = await client.burst(bracket(VIP, 80), { count: 3000, concurrency: 8 });
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(Object.keys(r.counts).sort()).toEqual(['b1', 'b2', 'b3']);
    // Binomial sd of one share over 3,000 draws is 0.9 points: 5 points is over 5 sd.
    for (const [pod, n] of Object.entries(r.counts)) expect(Math.abs(n / 3000 - 1 / 3), `${pod}: ${n}`).toBeLessThanOrEqual(0.05);
    const first = await client.burst(bracket(VIP, 80), { count: 200, srcPort: 42000 });
    const second = await client.burst(bracket(VIP, 80), { count: 200, srcPort: 42000 });
    const common = Object.keys(first.flows!).filter((p) => second.flows![p]);
    expect(common.length).toBeGreaterThan(150); // a few ports may be briefly busy: tolerated
    for (const p of common) expect(second.flows![p], `source port ${p}`).toBe(first.flows![p]);
  });

  it('keeps each client (/128) on one backend with ClientIP affinity, in sl_affinity as an IPv6 client, and chooses again after the timeout', async () => {
    const r = await client.burst(bracket(STICKY, 80), { count: 60, concurrency: 4 });
    expect(r.failed).toBe(0);
    expect(Object.keys(r.counts)).toHaveLength(1);
    const other = await client2.burst(bracket(STICKY, 80), { count: 30, concurrency: 4 });
    expect(Object.keys(other.counts)).toHaveLength(1);
    const aff = dumpPinned(c.node('a').nodeName, 'sl_affinity').map(({ key }) => L.affKey.decode(key))
      .filter((k) => k.svc_id === svcId(STICKY, 80, L.IPPROTO.TCP));
    const clients = aff.map((k) => { expect(k.kind).toBe(L.SL_AFF_CLIENT_ADDR6); return L.ip6Text(k.client, 0); }).sort();
    expect(clients).toEqual([c.pod('client').ip6, c.pod('client2').ip6].sort());
    // After each 2 s timeout a fresh Maglev choice: within 12 rounds another backend shows up unless
    // the hash picked the same one 12 times (1 in 3^12).
    const seen = new Set(Object.keys(r.counts));
    for (let round = 0; round < 12 && seen.size < 2; round++) {
      await sleep(2300);
      const again = await client.burst(bracket(STICKY, 80), { count: 10 });
      expect(Object.keys(again.counts), `round ${round}`).toHaveLength(1);
      seen.add(Object.keys(again.counts)[0]!);
    }
    expect(seen.size).toBe(2);
  });

  it('on removing one of four backends: open flows live on, the removed one gets no new flow, Maglev moves little else', async () => {
    const held = await client.open(bracket(FOUR, 80), 40);
    expect(new Set(held.pods).size).toBe(4);
    const before = await client.burst(bracket(FOUR, 80), { count: 1000, srcPort: 44000, concurrency: 4 });
    fourBackends = ['b1', 'b3', 'b4'];
    expect((await agent.setServices(services())).msg).toBe('applied');
    const pings = await client.ping();
    expect(Object.keys(pings.byPod).sort()).toEqual(LOCAL);
    expect(pings.failed, JSON.stringify(pings.byPod)).toBe(0);
    const after = await client.burst(bracket(FOUR, 80), { count: 1000, srcPort: 44000, concurrency: 4 });
    expect(after.counts.b2 ?? 0, JSON.stringify(after.counts)).toBe(0);
    expect(after.failed, JSON.stringify(after.errors)).toBe(0);
    const common = Object.keys(before.flows!).filter((p) => after.flows![p]);
    expect(common.length).toBeGreaterThan(900);
    const wasOnB2 = common.filter((p) => before.flows![p] === 'b2').length;
    const movedOthers = common.filter((p) => before.flows![p] !== 'b2' && after.flows![p] !== before.flows![p]).length;
    expect(Math.abs(wasOnB2 / common.length - 0.25)).toBeLessThan(0.06);
    expect(movedOthers / common.length, `${movedOthers} of ${common.length} flows on surviving backends moved`).toBeLessThanOrEqual(0.05);
    await client.closeAll();
  });

  it('refuses connections to a frontend without endpoints at once: TCP with a RST, UDP with ICMPv6 port unreachable', async () => {
    const rejects = pinnedCounter(c.node('a').nodeName, 'reject');
    // The ring buffer `sluice monitor` reads: IPv6 records are struct sl_event6 (told by their size).
    const events: Buffer[] = [];
    const ringFd = bpf.objGet(`${PIN_ROOT}/${c.node('a').nodeName}/sl_events`);
    const ring = new bpf.RingBuffer(ringFd, (r) => events.push(r));
    ring.poll(0);
    events.length = 0;
    const tcp = await client.burst(bracket(EMPTY, 80), { count: 20, timeoutMs: 5000 });
    expect(tcp.ok).toBe(0);
    expect(tcp.errors).toEqual({ ECONNREFUSED: 20 });
    // The answer is immediate; 100 ms leaves room for a loaded machine's scheduling.
    for (const ms of tcp.ms) expect(ms, JSON.stringify(tcp.ms)).toBeLessThan(100);
    const udp = await client.burst(bracket(EMPTY, 53), { proto: 'udp', count: 5, timeoutMs: 5000 });
    expect(udp.errors).toEqual({ ECONNREFUSED: 5 });
    expect(pinnedCounter(c.node('a').nodeName, 'reject') - rejects).toBeGreaterThanOrEqual(25);
    ring.poll(100);
    ring.close();
    bpf.closeFd(ringFd);
    const ev6 = events.filter((e) => e.length === L.event6.size).map((e) => L.event6.decode(e));
    const mine = ev6.filter((e) => e.saddr === c.pod('client').ip6 && e.daddr === EMPTY);
    expect(mine.length, JSON.stringify(ev6.slice(0, 3), (_, v) => (typeof v === 'bigint' ? String(v) : v))).toBeGreaterThanOrEqual(25);
    for (const e of mine) {
      expect(e).toMatchObject({ type: L.ENUMS.sl_event_type.SL_EV_REJECT, reason: L.EVENT_REASONS.indexOf('no_endpoints') });
      expect([80, 53]).toContain(e.dport);
    }
  });

  it('reaches a backend on the other node, and translates its replies where they enter the client', async () => {
    const tcp = await client.burst(bracket(REMOTE, 80), { count: 20, byClient: true });
    expect(tcp.counts, JSON.stringify(tcp.errors)).toEqual({ [`r1 ${c.pod('client').ip6}`]: 20 });
    const udp = await client.burst(bracket(REMOTE, 53), { proto: 'udp', count: 20, byClient: true });
    expect(udp.counts, JSON.stringify(udp.errors)).toEqual({ [`r1 ${c.pod('client').ip6}`]: 20 });
    expect(await client.echo(bracket(REMOTE, 80), 1 << 20)).toEqual({ pod: 'r1', intact: true });
  });

  it('carries a 3,000-byte UDP datagram in fragments both ways, to this node\'s backends and the other node\'s', async () => {
    for (const vip of [VIP, REMOTE]) {
      for (let i = 0; i < 5; i++) {
        const r = await client.echo(bracket(vip, 53), 3000, 'udp');
        expect(r.intact, `${vip}, round ${i}`).toBe(true);
      }
    }
    // Fragments went through the datapath: their first ones' ports were remembered in sl_frags6.
    expect(dumpPinned(c.node('a').nodeName, 'sl_frags6').length).toBeGreaterThan(0);
  });

  it('a pod reaches itself through its ClusterIP (hairpin), seeing this node\'s IPv6 address as client', async () => {
    const self = await c.client('b1');
    try {
      const node = c.node('a').ip6;
      const tcp = await self.burst(bracket(SELF, 80), { count: 5, timeoutMs: 2000, byClient: true });
      expect(tcp.counts, JSON.stringify(tcp.errors)).toEqual({ [`b1 ${node}`]: 5 });
      const udp = await self.burst(bracket(SELF, 53), { proto: 'udp', count: 5, timeoutMs: 2000, byClient: true });
      expect(udp.counts, JSON.stringify(udp.errors)).toEqual({ [`b1 ${node}`]: 5 });
      expect(await self.echo(bracket(SELF, 80), 256 << 10)).toEqual({ pod: 'b1', intact: true });
      // Another pod keeps its own address.
      const other = await client.burst(bracket(SELF, 80), { count: 3, byClient: true });
      expect(other.counts).toEqual({ [`b1 ${c.pod('client').ip6}`]: 3 });
    } finally {
      self.proc.kill();
    }
  });

  it("reaches external frontends as kube-proxy serves them to pods: an eTP Local one short-circuited with the pod's address, an eTP Cluster one masqueraded to the node's", async () => {
    const short = await client.burst(bracket(LB_LOCAL, 80), { count: 5, byClient: true });
    expect(short.counts, JSON.stringify(short.errors)).toEqual({ [`r1 ${c.pod('client').ip6}`]: 5 });
    const np = await client.burst(bracket(c.node('a').ip6, NODEPORT), { count: 5, byClient: true });
    expect(np.counts, JSON.stringify(np.errors)).toEqual({ [`b2 ${c.node('a').ip6}`]: 5 });
    expect(await client.echo(bracket(c.node('a').ip6, NODEPORT), 256 << 10)).toEqual({ pod: 'b2', intact: true });
    // Masqueraded flows hold SNAT entries in sl_ct6: the REPLY one names the client to translate back to.
    const snat = dumpPinned(c.node('a').nodeName, 'sl_ct6').map(({ key, value }) => ({ k: L.ct6Key.decode(key), v: L.ct6Entry.decode(value) }))
      .filter((e) => e.k.dir === 1 && e.v.flags & L.SL_CT_F_SNAT);
    expect(snat.some((e) => e.k.daddr === c.node('a').ip6 && e.v.rev_addr === c.pod('client').ip6 && e.v.nat_port === NODEPORT)).toBe(true);
  });

  it('keeps every IPv6 connection through kill -9 of the agent and its restart (the new programs jump to their own IPv6 programs)', async () => {
    const held = await client.open(bracket(VIP, 80), 20);
    expect(held.pods.length).toBe(20);
    // A SYN lost while the datapath is away costs the 1 s initial retransmission timeout: any
    // connection taking that long failed the guarantee even if it completed (as agent.test.ts).
    const STALL_MS = 1000;
    const crr = client.burst(bracket(VIP, 80), { durationMs: 8000, concurrency: 2, timeoutMs: 15000, slowMs: STALL_MS });
    await sleep(1500);
    await agent.kill('SIGKILL');
    await sleep(1000); // traffic runs on the pinned maps with no agent at all
    const since = agent.logs.length;
    await agent.restart();
    await agent.waitLog((l) => l.msg === 'applied', 30000, since);
    const r = await crr;
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(r.slow, JSON.stringify(r.slow)).toEqual([]);
    expect(r.ok).toBeGreaterThan(50);
    // The open connections kept their backends (sl_ct6 is pinned) and answer through the new programs.
    const pings = await client.ping();
    expect(pings.failed, JSON.stringify(pings.byPod)).toBe(0);
    expect(pings.ok).toBe(20);
    await client.closeAll();
    const after = await client.burst(bracket(VIP, 80), { count: 30 });
    expect(after.failed, JSON.stringify(after.errors)).toBe(0);
  });

  it('answers a masqueraded datagram too big for its backend\'s link with Packet Too Big, after which the client sends it in fragments', async () => {
    // 1,400 bytes fit the client's 1500-byte link, so it does not fragment; redirected to the
    // narrow pod's 1280-byte link it cannot go: the kernel's forwarding would answer Packet Too Big,
    // and as the packet is redirected by the datapath, the datapath does.
    // The backend is not in the node's neighbour table yet: the FIB lookup stops before its MTU
    // check then, and the datapath must check the size itself (else the device drops it silently).
    const node = c.node('a').ip6;
    await nsRun(c.pod('client').ns, 'ip', ['-6', 'route', 'flush', 'cache']);
    await nsRun(c.node('a').ns, 'ip', ['-6', 'neigh', 'flush', 'dev', c.pod('narrow').hostIf]);
    const r = await client.cmd<{ pod: string; intact: boolean; sent: number; errors: Record<string, number> }>(
      { op: 'echo', target: bracket(node, NARROW_PORT), bytes: 1400, proto: 'udp', tries: 3, timeoutMs: 5000 });
    expect(r, JSON.stringify(r)).toMatchObject({ pod: 'narrow', intact: true });
    // The first try met Packet Too Big (EMSGSIZE on the connected socket), the second went in fragments.
    expect(r.errors).toEqual({ EMSGSIZE: 1 });
    expect(r.sent).toBe(2);
    expect(await nsRun(c.pod('client').ns, 'ip', ['-6', 'route', 'get', node])).toContain('mtu 1280');
  });

  it('Packet Too Big about a translated packet reaches the client with the service address quoted (1280-byte fabric)', async () => {
    // Last: it narrows the nodes' links for good. Pods keep 1500, so the client's bulk transfer to
    // node b's backend needs node a's Packet Too Big, which quotes the packet as translated.
    for (const n of ['a', 'b']) {
      await nsRun(c.fabricNs, 'ip', ['link', 'set', `n${c.node(n).index}`, 'mtu', '1280']);
      await nsRun(c.node(n).ns, 'ip', ['link', 'set', 'eth0', 'mtu', '1280']);
    }
    for (const pod of ['client', 'r1']) await nsRun(c.pod(pod).ns, 'ip', ['-6', 'route', 'flush', 'cache']);
    expect(await client.cmd({ op: 'echo', target: bracket(REMOTE, 80), bytes: 2 << 20, proto: 'tcp' }, 20000)).toEqual({ pod: 'r1', intact: true });
    // The client's socket took the error as its own: it learnt the path MTU of the service address.
    expect(await nsRun(c.pod('client').ns, 'ip', ['-6', 'route', 'get', REMOTE])).toContain('mtu 1280');
  });
});
