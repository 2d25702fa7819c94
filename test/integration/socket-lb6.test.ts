// Issue 15 phase 2: socket-level balancing for IPv6 (connect6, sendmsg6, recvmsg6, getpeername6 in
// bpf/sluice_sock.c, lib/sock6.h). The twin of socket-lb.test.ts over dual-stack Services: an IPv6
// ClusterIP is translated at connect()/sendmsg() through sl_services6 / sl_backends6 with the IPv4
// hooks' backend choice, the application sees the service address, stale IPv6 sockets are
// destroyed, and a dual-stack socket reaching an IPv4 ClusterIP as ::ffff:a.b.c.d is translated
// through the IPv4 maps. The agent programs both families from dual-stack Services. Real programs in
// the kernel, real sockets in simulated pods and a node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as bpf from '../../agent/bpf/libbpf.ts';
import * as L from '../../agent/bpf/layout.ts';
import { pinDir } from '../../agent/datapath.ts';
import type { ServiceJson } from '../../proto/contract.ts';
import { SimAgent } from '../../sim/agent.ts';
import { SimCluster, type PodClient } from '../../sim/cluster.ts';
import { PIN_ROOT, sleep } from '../../sim/netns.ts';

const BACKENDS = ['b1', 'b2', 'b3'];
const WEB = '10.96.1.10', WEB6 = 'fd00:10:96::a', STICKY6 = 'fd00:10:96::1e', EMPTY6 = 'fd00:10:96::28';
const DNS = '10.96.1.50', DNS6 = 'fd00:10:96::32';
const MAPPED_WEB = `::ffff:${WEB}`, MAPPED_DNS = `::ffff:${DNS}`;
let c: SimCluster;
let agent: SimAgent;
let pod: PodClient;
let node: PodClient;
let dnsBackends = ['b1'];

/** A dual-stack Service: both cluster IPs, endpoints of both families on the same pods. */
function svc(name: string, vips: [string, string], pods: string[], extra: Partial<ServiceJson> = {}): ServiceJson {
  const ports = [{ name: 'http', port: 80, target: 8080, proto: 'TCP' as const }, { name: 'dns', port: 53, target: 5353, proto: 'UDP' as const }];
  return {
    namespace: 'default', name, clusterIps: vips, ipFamilies: [4, 6], ...extra,
    ports: ports.map((p) => ({
      name: p.name, protocol: p.proto, port: p.port,
      endpoints: pods.flatMap((b) => [c.pod(b).ip, c.pod(b).ip6].map((ip) => ({ ip, port: p.target, ready: true }))),
    })),
  };
}

const services = (): ServiceJson[] => [
  svc('web', [WEB, WEB6], BACKENDS),
  svc('sticky', ['10.96.1.30', STICKY6], BACKENDS, { affinityClientIp: true, affinityTimeoutSeconds: 2 }),
  svc('empty', ['10.96.1.40', EMPTY6], []),
  svc('dns', [DNS, DNS6], dnsBackends),
];

const pinPath = (map: L.MapName) => `${pinDir(c.node('a').nodeName, PIN_ROOT)}/${map}`;

/** Decoded straight from the pinned map, not through the agent's or the CLI's code. */
function pinned<K, V>(map: L.MapName, key: { size: number; decode(b: Buffer): K }, value: { size: number; decode(b: Buffer): V }): Array<[K, V[]]> {
  const fd = bpf.objGet(pinPath(map));
  try {
    return bpf.mapKeys(fd, key.size).map((k) => {
      const v = Buffer.alloc(value.size);
      bpf.mapLookup(fd, k, v);
      return [key.decode(k), [value.decode(v)]];
    });
  } finally {
    bpf.closeFd(fd);
  }
}

/** The frontend `vip:port` from sl_services6 (IPv6) or sl_services (IPv4). */
function frontend(vip: string, port: number, proto: 'TCP' | 'UDP'): L.SvcValue {
  const rows = vip.includes(':') ? pinned('sl_services6', L.svc6Key, L.svcValue) : pinned('sl_services', L.svcKey, L.svcValue);
  const fe = rows.find(([k]) => k.vip === vip && k.port === port && k.proto === L.IPPROTO[proto] && k.scope === L.SL_SCOPE_CLUSTER);
  if (!fe) throw new Error(`no frontend ${vip}:${port}/${proto}`);
  return fe[1][0]!;
}

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };

/** The socket-level counters of frontend `svcId` summed over CPUs (one element of sl_sock_stats). */
function sockStats(svcId: number): { translations: number; rejects: number } {
  const fd = bpf.objGet(pinPath('sl_sock_stats'));
  try {
    const cpus = bpf.numPossibleCpus(), stride = Math.ceil(L.sockStats.size / 8) * 8;
    const v = Buffer.alloc(stride * cpus);
    bpf.mapLookup(fd, u32(svcId), v);
    const per = Array.from({ length: cpus }, (_, i) => L.sockStats.decode(v.subarray(i * stride)));
    return { translations: per.reduce((n, s) => n + Number(s.translations), 0), rejects: per.reduce((n, s) => n + Number(s.rejects), 0) };
  } finally {
    bpf.closeFd(fd);
  }
}

/** Socket-level translations of the frontend `vip:port`. */
const translations = (vip: string, port: number, proto: 'TCP' | 'UDP') => sockStats(frontend(vip, port, proto).svc_id).translations;

async function startAgent(mode: 'off' | 'on' | 'host-only', extra: string[] = []): Promise<void> {
  await agent?.kill('SIGKILL');
  agent = await SimAgent.start(c, 'a', { stateFile: agent?.stateFile, args: ['--socket-lb', mode, ...extra] }, services());
  await agent.waitLog((l) => l.msg === 'applied');
}

beforeAll(async () => {
  c = await SimCluster.create({ nodes: ['a'] });
  await c.addPod('a', 'client');
  for (const b of BACKENDS) {
    await c.addPod('a', b);
    await c.serve(b, { tcp: [8080], udp: [5353] });
  }
  await startAgent('off');
  await agent.waitLog((l) => l.msg === 'attached' && l.interface === c.pod('client').hostIf);
  pod = await c.client('client');
  node = await c.clientIn(c.node('a').ns);
}, 120000);

afterAll(async () => {
  await c?.destroy();
});

describe('socket-level balancing over IPv6', () => {
  it('off: the node itself reaches no IPv6 ClusterIP (no route)', async () => {
    const tcp = await node.burst(`[${WEB6}]:80`, { count: 3, timeoutMs: 2000 });
    expect(tcp.ok).toBe(0);
    expect(Object.keys(tcp.errors)).toEqual(['ENETUNREACH']);
  });

  it('on: all eight programs attached; the node reaches an IPv6 ClusterIP over TCP and UDP, each connect() a translation', async () => {
    await startAgent('on', ['--socket-lb-destroy-tcp']);
    expect(agent.logs.some((l) => l.msg === 'socket-level balancing attached' && l.cgroup === c.node('a').cgroup)).toBe(true);
    const before = translations(WEB6, 80, 'TCP');
    const tcp = await node.burst(`[${WEB6}]:80`, { count: 30, byClient: true });
    const udp = await node.burst(`[${WEB6}]:53`, { proto: 'udp', count: 30, byClient: true });
    for (const r of [tcp, udp]) {
      expect(r.failed, JSON.stringify(r.errors)).toBe(0);
      // Answered over IPv6 from the node's own address: a direct flow to a backend's IPv6 address.
      expect(Object.keys(r.counts).every((k) => BACKENDS.includes(k.split(' ')[0]!) && k.split(' ')[1] === c.node('a').ip6), JSON.stringify(r.counts)).toBe(true);
    }
    expect(translations(WEB6, 80, 'TCP') - before).toBe(30);
    // Each translated UDP socket's reverse entry: backend (a pod's IPv6 address) -> the service address.
    // TCP sockets keep theirs in themselves (sl_sock_peer): none of the 30 is in sl_sock_rev6.
    const rev6 = pinned('sl_sock_rev6', L.sockRev6Key, L.sockRev6Value).filter(([, [v]]) => v!.svc_addr === WEB6);
    expect(rev6.length).toBeGreaterThanOrEqual(30); // 30 UDP sockets
    expect(rev6.every(([k, [v]]) => BACKENDS.some((b) => c.pod(b).ip6 === k.backend_addr) && k.backend_port === 5353 && v!.svc_port === 53)).toBe(true);
  });

  it('on: a pod is answered through an IPv6 ClusterIP without any sl_ct6 entry, and sees only the service address', async () => {
    const clientIp6 = c.pod('client').ip6;
    const r = await pod.burst(`[${WEB6}]:80`, { count: 50, concurrency: 4 });
    const u = await pod.burst(`[${WEB6}]:53`, { proto: 'udp', count: 20 });
    expect(r.failed + u.failed, JSON.stringify([r.errors, u.errors])).toBe(0);

    for (const proto of ['tcp', 'udp'] as const) {
      const port = proto === 'tcp' ? 80 : 53;
      const p = await pod.cmd<{ peer: string; pod: string }>({ op: 'peer', target: `[${WEB6}]:${port}`, proto });
      expect(p.peer, proto).toBe(`[${WEB6}]:${port}`);
      expect(BACKENDS).toContain(p.pod);
    }
    // Unconnected UDP: sendmsg6 translates the request, recvmsg6 shows the reply from the service.
    const from = await pod.cmd<{ from: string; pod: string }>({ op: 'udpFrom', target: `[${DNS6}]:53` });
    expect(from.from).toBe(`[${DNS6}]:53`);
    expect(BACKENDS).toContain(from.pod);
    // None of it met the per-packet path (which would also answer, with a conntrack pair).
    const ct6 = pinned('sl_ct6', L.ct6Key, L.ct6Entry).map(([k]) => k);
    expect(ct6.filter((k) => k.saddr === clientIp6 || k.daddr === clientIp6)).toEqual([]);
  });

  it('on: an IPv6 service without endpoints refuses connect() at once', async () => {
    const r = await pod.burst(`[${EMPTY6}]:80`, { count: 5, timeoutMs: 2000 });
    expect(r.errors).toEqual({ ECONNREFUSED: 5 });
    expect(Math.max(...r.ms)).toBeLessThan(500);
    expect(sockStats(frontend(EMPTY6, 80, 'TCP').svc_id).rejects).toBeGreaterThanOrEqual(5);
  });

  it('on: a dual-stack socket reaching an IPv4 ClusterIP as ::ffff:a.b.c.d is translated through the IPv4 maps, from a pod and from the node', async () => {
    const before = translations(WEB, 80, 'TCP');
    const r = await pod.burst(`[${MAPPED_WEB}]:80`, { count: 20, byClient: true });
    const n = await node.burst(`[${MAPPED_WEB}]:80`, { count: 20 });
    const u = await pod.burst(`[${MAPPED_DNS}]:53`, { proto: 'udp', count: 10 });
    for (const x of [r, n, u]) expect(x.failed, JSON.stringify(x.errors)).toBe(0);
    // IPv4 on the wire (the backend saw the pod's IPv4 address), no conntrack entry: a direct flow.
    expect(Object.keys(r.counts).every((k) => k.split(' ')[1] === c.pod('client').ip), JSON.stringify(r.counts)).toBe(true);
    expect(translations(WEB, 80, 'TCP') - before).toBe(40);
    for (const proto of ['tcp', 'udp'] as const) {
      const port = proto === 'tcp' ? 80 : 53;
      const p = await pod.cmd<{ peer: string }>({ op: 'peer', target: `[${MAPPED_WEB}]:${port}`, proto });
      expect(p.peer, proto).toBe(`[${MAPPED_WEB}]:${port}`);
    }
    const from = await pod.cmd<{ from: string }>({ op: 'udpFrom', target: `[${MAPPED_DNS}]:53` });
    expect(from.from).toBe(`[${MAPPED_DNS}]:53`);
    // Their reverse entries are IPv4 ones (sl_sock_rev), none in sl_sock_rev6.
    expect(pinned('sl_sock_rev6', L.sockRev6Key, L.sockRev6Value).filter(([, [v]]) => v!.svc_addr.startsWith('::ffff:'))).toEqual([]);
    expect(pinned('sl_sock_rev', L.sockRevKey, L.sockRevValue).some(([, [v]]) => v!.svc_addr === WEB)).toBe(true);
    // An unconnected dual-stack sendto() to a mapped address is handed by the kernel to sendmsg4.
    const ct = pinned('sl_ct', L.ctKey, L.ctEntry).map(([k]) => k);
    expect(ct.filter((k) => k.saddr === c.pod('client').ip || k.daddr === c.pod('client').ip)).toEqual([]);
  });

  it('on: spreads 3,000 IPv6 connections over 3 backends at 33% ± 5 points', async () => {
    const r = await pod.burst(`[${WEB6}]:80`, { count: 3000, concurrency: 8 });
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(Object.keys(r.counts).sort()).toEqual(BACKENDS);
    // Binomial sd of one share over 3,000 draws is 0.9 points: 5 points is over 5 sd.
    for (const [p, k] of Object.entries(r.counts)) expect(Math.abs(k / 3000 - 1 / 3), `${p}: ${k}`).toBeLessThanOrEqual(0.05);
  });

  it('on: ClientIP affinity over IPv6 holds per network namespace and chooses again after the timeout', async () => {
    const r = await pod.burst(`[${STICKY6}]:80`, { count: 60, concurrency: 4 });
    expect(r.failed).toBe(0);
    expect(Object.keys(r.counts)).toHaveLength(1);
    const svcId = frontend(STICKY6, 80, 'TCP').svc_id;
    const kinds = pinned('sl_affinity', L.affKey, L.affValue).filter(([k]) => k.svc_id === svcId).map(([k]) => k.kind);
    expect(kinds).toContain(L.SL_AFF_CLIENT_NETNS);
    // As the IPv4 test: a different backend within 12 timeouts unless Maglev chose the same one
    // 12 times (1 in 3^12).
    const seen = new Set(Object.keys(r.counts));
    for (let round = 0; round < 12 && seen.size < 2; round++) {
      await sleep(2300);
      const again = await pod.burst(`[${STICKY6}]:80`, { count: 10 });
      expect(Object.keys(again.counts), `round ${round}`).toHaveLength(1);
      seen.add(Object.keys(again.counts)[0]!);
    }
    expect(seen.size).toBe(2);
  });

  it('on: connected IPv6 sockets (UDP, TCP with the flag, and a dual-stack one to ::ffff:) move to a survivor within 1 s of their backend\'s removal; an unconnected one is never disturbed', async () => {
    type Stream = { replies: Array<[number, string]>; errors: Record<string, number>; failures?: Array<[number, string]>; sent: number; startedAt: number };
    const clients = await Promise.all([1, 2, 3, 4].map(() => c.client('client')));
    const streams = [
      { op: 'udpStream', target: `[${DNS6}]:53`, connected: true },
      { op: 'udpStream', target: `[${DNS6}]:53`, connected: false },
      { op: 'tcpStream', target: `[${DNS6}]:80` },
      { op: 'udpStream', target: `[${MAPPED_DNS}]:53`, connected: true },
    ].map((cmd, i) => clients[i]!.cmd<Stream>({ ...cmd, everyMs: 100, durationMs: 5000 }));
    await sleep(1500);
    // b1 goes away from the service (its pod keeps answering, so a socket left on it would go on
    // being answered by it); every client was on b1, the only backend until now.
    const since = agent.logs.length;
    const removedAt = Date.now();
    dnsBackends = ['b2', 'b3'];
    expect((await agent.setServices(services())).msg).toBe('applied');
    const [conn, unconn, tcp, mapped] = await Promise.all(streams) as [Stream, Stream, Stream, Stream];
    for (const cl of clients) cl.proc.kill();
    const swept = agent.logs.slice(since).find((l) => l.msg === 'swept sockets connected to removed backends');
    // The bound runs from when the agent began applying the change (its 'applied' line's time less
    // its `ms`), so a change slow to reach a loaded agent does not count; the sweep is part of it.
    const applied = agent.logs.slice(since).find((l) => l.msg === 'applied')!;
    const changedAt = Number(applied.time) - Number(applied.ms);
    const sweptAfter = `sent at ${removedAt - changedAt} ms, swept at ${Number(swept?.time) - changedAt} ms`;
    const t0 = Math.max(removedAt, changedAt);
    const after = (s: Stream, ms: number) => s.replies.filter(([t]) => s.startedAt + t > t0 + ms).map(([, p]) => p);

    for (const [who, s] of [['udp', conn], ['tcp', tcp], ['mapped udp', mapped]] as const) {
      expect(s.replies.filter(([t]) => s.startedAt + t < removedAt).length, who).toBeGreaterThan(5);
      expect(s.replies.filter(([t]) => s.startedAt + t < removedAt).every(([, p]) => p === 'b1'), who).toBe(true);
      expect(s.errors, who).toEqual({ ECONNABORTED: 1 }); // destroyed once, then connected afresh
      const moved = s.replies.find(([t, p]) => s.startedAt + t > removedAt && p !== 'b1');
      expect(moved, `${who}: ${JSON.stringify(s.replies)}`).toBeDefined();
      expect(s.startedAt + moved![0] - t0, `${who}: ${sweptAfter}`).toBeLessThan(1000);
      expect(after(s, 1000).length, who).toBeGreaterThan(10);
      expect(after(s, 1000).every((p) => p === 'b2' || p === 'b3'), who).toBe(true);
    }
    // sendmsg6() translates every datagram: the unconnected socket simply moves on, unharmed.
    expect(unconn.errors).toEqual({});
    expect(unconn.replies.length).toBeGreaterThanOrEqual(unconn.sent - 1);
    expect(after(unconn, 1000).every((p) => p === 'b2' || p === 'b3')).toBe(true);
    expect(swept).toMatchObject({ udp: 2, tcp: 1 });
  }, 30_000);

  it('host-only: pods take the IPv6 per-packet path (sl_ct6 entries), the node the socket path (none)', async () => {
    await startAgent('host-only');
    const clientIp6 = c.pod('client').ip6, nodeIp6 = c.node('a').ip6;
    const before = translations(WEB6, 80, 'TCP');
    const r = await pod.burst(`[${WEB6}]:80`, { count: 20 });
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(translations(WEB6, 80, 'TCP')).toBe(before);
    const ct6 = () => pinned('sl_ct6', L.ct6Key, L.ct6Entry).map(([k]) => k);
    expect(ct6().filter((k) => k.saddr === clientIp6 && k.daddr === WEB6).length).toBeGreaterThan(0);
    const n = await node.burst(`[${WEB6}]:80`, { count: 20 });
    expect(n.failed, JSON.stringify(n.errors)).toBe(0);
    expect(translations(WEB6, 80, 'TCP') - before).toBe(20);
    expect(ct6().filter((k) => k.saddr === nodeIp6 || k.daddr === nodeIp6)).toEqual([]);
  });
});
