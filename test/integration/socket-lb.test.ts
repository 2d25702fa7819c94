// Issue 13: socket-level balancing. The cgroup programs (bpf/sluice_sock.c) attached at the node's
// cgroup translate a ClusterIP at connect()/sendmsg(): the node's own processes reach services, pods'
// connections run as direct ones (no conntrack entry), and the application still sees the service
// address. Real programs in the kernel, real sockets in simulated pods and a simulated node.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as bpf from '../../agent/bpf/libbpf.ts';
import * as L from '../../agent/bpf/layout.ts';
import { pinDir } from '../../agent/datapath.ts';
import type { ServiceJson } from '../../proto/contract.ts';
import { SimAgent } from '../../sim/agent.ts';
import { SimCluster, type PodClient } from '../../sim/cluster.ts';
import { PIN_ROOT, sleep } from '../../sim/netns.ts';

const BACKENDS = ['b1', 'b2', 'b3'];
const WEB = '10.96.1.10', STICKY = '10.96.1.30', EMPTY = '10.96.1.40', DNS = '10.96.1.50';
let c: SimCluster;
let agent: SimAgent;
let pod: PodClient;
let node: PodClient;
let dnsBackends = ['b1'];

function svc(name: string, vip: string, pods: string[], extra: Partial<ServiceJson> = {}): ServiceJson {
  const ports = [{ name: 'http', port: 80, target: 8080, proto: 'TCP' as const }, { name: 'dns', port: 53, target: 5353, proto: 'UDP' as const }];
  return {
    namespace: 'default', name, clusterIps: [vip], ...extra,
    ports: ports.map((p) => ({
      name: p.name, protocol: p.proto, port: p.port, endpoints: pods.map((b) => ({ ip: c.pod(b).ip, port: p.target, ready: true })),
    })),
  };
}

const services = (): ServiceJson[] => [
  svc('web', WEB, BACKENDS),
  svc('sticky', STICKY, BACKENDS, { affinityClientIp: true, affinityTimeoutSeconds: 2 }),
  svc('empty', EMPTY, []),
  svc('dns', DNS, dnsBackends),
];

/** Decoded straight from the pinned map, not through the agent's or the CLI's code. */
function pinned<K, V>(map: L.MapName, key: { size: number; decode(b: Buffer): K }, value: { size: number; decode(b: Buffer): V }, perCpu = false): Array<[K, V[]]> {
  const fd = bpf.objGet(`${pinDir(c.node('a').nodeName, PIN_ROOT)}/${map}`);
  try {
    const cpus = perCpu ? bpf.numPossibleCpus() : 1;
    const stride = perCpu ? Math.ceil(value.size / 8) * 8 : value.size;
    return bpf.mapKeys(fd, key.size).map((k) => {
      const v = Buffer.alloc(stride * cpus);
      bpf.mapLookup(fd, k, v);
      return [key.decode(k), Array.from({ length: cpus }, (_, i) => value.decode(v.subarray(i * stride)))];
    });
  } finally {
    bpf.closeFd(fd);
  }
}

const ctEntries = () => pinned('sl_ct', L.ctKey, L.ctEntry).map(([k]) => k);
const U32 = { size: 4, decode: (b: Buffer) => b.readUInt32LE(0) };

/** Socket-level translations of the frontend `vip:port`, summed over CPUs. */
function translations(vip: string, port: number, proto: 'TCP' | 'UDP'): number {
  const fe = pinned('sl_services', L.svcKey, L.svcValue).find(([k]) => k.vip === vip && k.port === port && k.proto === L.IPPROTO[proto]);
  if (!fe) throw new Error(`no frontend ${vip}:${port}`);
  const row = pinned('sl_sock_stats', U32, L.sockStats, true).find(([id]) => id === fe[1][0]!.svc_id)!;
  return row[1].reduce((n, s) => n + Number(s.translations), 0);
}

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

describe('socket-level balancing', () => {
  it('off: the node itself reaches no ClusterIP (no route), as before this feature', async () => {
    const tcp = await node.burst(`${WEB}:80`, { count: 3, timeoutMs: 2000 });
    expect(tcp.ok).toBe(0);
    expect(Object.keys(tcp.errors)).toEqual(['ENETUNREACH']);
  });

  it('on: the node reaches a ClusterIP over TCP and UDP, each connect() counted as a translation', async () => {
    await startAgent('on');
    expect(agent.logs.some((l) => l.msg === 'socket-level balancing attached' && l.cgroup === c.node('a').cgroup)).toBe(true);
    const before = translations(WEB, 80, 'TCP');
    const tcp = await node.burst(`${WEB}:80`, { count: 30 });
    const udp = await node.burst(`${WEB}:53`, { proto: 'udp', count: 30 });
    for (const r of [tcp, udp]) {
      expect(r.failed, JSON.stringify(r.errors)).toBe(0);
      expect(Object.keys(r.counts).every((p) => BACKENDS.includes(p))).toBe(true);
    }
    expect(translations(WEB, 80, 'TCP') - before).toBe(30);
  });

  it('on: a pod is answered through a ClusterIP without any conntrack entry, and sees only the service address', async () => {
    const clientIp = c.pod('client').ip;
    const r = await pod.burst(`${WEB}:80`, { count: 50, concurrency: 4 });
    const u = await pod.burst(`${WEB}:53`, { proto: 'udp', count: 20 });
    expect(r.failed + u.failed, JSON.stringify([r.errors, u.errors])).toBe(0);

    for (const proto of ['tcp', 'udp'] as const) {
      const p = await pod.cmd<{ peer: string; pod: string }>({ op: 'peer', target: `${WEB}:${proto === 'tcp' ? 80 : 53}`, proto });
      expect(p.peer, proto).toBe(`${WEB}:${proto === 'tcp' ? 80 : 53}`);
      expect(BACKENDS).toContain(p.pod);
    }
    const from = await pod.cmd<{ from: string; pod: string }>({ op: 'udpFrom', target: `${DNS}:53` });
    expect(from.from).toBe(`${DNS}:53`);
    expect(BACKENDS).toContain(from.pod);
    // None of it met the per-packet path (which would also answer, with a conntrack pair).
    expect(ctEntries().filter((k) => k.saddr === clientIp || k.daddr === clientIp)).toEqual([]);
  });

  it('on: a TCP socket keeps its reverse translation in itself (sl_sock_peer), not in sl_sock_rev; UDP still there', async () => {
    const revOf = (port: number) => pinned('sl_sock_rev', L.sockRevKey, L.sockRevValue)
      .filter(([, [v]]) => v!.svc_addr === WEB && v!.svc_port === port);
    const tcpBefore = revOf(80).length;
    for (const client of [pod, node]) {
      const r = await client.burst(`${WEB}:80`, { count: 20 });
      expect(r.failed, JSON.stringify(r.errors)).toBe(0);
      // getpeername() of a connected TCP socket: the service address, read from the socket's storage.
      const p = await client.cmd<{ peer: string; pod: string }>({ op: 'peer', target: `${WEB}:80`, proto: 'tcp' });
      expect(p.peer).toBe(`${WEB}:80`);
      expect(BACKENDS).toContain(p.pod);
    }
    // Not one of those 42 connect()s wrote an sl_sock_rev entry (before sl_sock_peer, each did).
    expect(revOf(80).length).toBe(tcpBefore);
    expect(tcpBefore).toBe(0);
    // UDP: an unconnected socket's reply still shows the service address (sl_sock_rev, per peer).
    const from = await pod.cmd<{ from: string; pod: string }>({ op: 'udpFrom', target: `${DNS}:53` });
    expect(from.from).toBe(`${DNS}:53`);
    expect(pinned('sl_sock_rev', L.sockRevKey, L.sockRevValue).some(([, [v]]) => v!.svc_addr === DNS && v!.svc_port === 53)).toBe(true);
  });

  it('on: a service without endpoints refuses connect() at once', async () => {
    const r = await pod.burst(`${EMPTY}:80`, { count: 5, timeoutMs: 2000 });
    expect(r.errors).toEqual({ ECONNREFUSED: 5 });
    expect(Math.max(...r.ms)).toBeLessThan(500);
  });

  it('on: spreads 3,000 connections over 3 backends at 33% ± 5 points', async () => {
    const r = await pod.burst(`${WEB}:80`, { count: 3000, concurrency: 8 });
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(Object.keys(r.counts).sort()).toEqual(BACKENDS);
    // Binomial sd of one share over 3,000 draws is 0.9 points: 5 points is over 5 sd.
    for (const [p, n] of Object.entries(r.counts)) expect(Math.abs(n / 3000 - 1 / 3), `${p}: ${n}`).toBeLessThanOrEqual(0.05);
  });

  it('on: ClientIP affinity holds per network namespace and chooses again after the timeout', async () => {
    const r = await pod.burst(`${STICKY}:80`, { count: 60, concurrency: 4 });
    expect(r.failed).toBe(0);
    expect(Object.keys(r.counts)).toHaveLength(1);
    const kinds = pinned('sl_affinity', L.affKey, L.affValue).map(([k]) => k.kind);
    expect(kinds).toContain(L.SL_AFF_CLIENT_NETNS);
    // As the per-packet test: a different backend within 12 timeouts unless Maglev chose the same
    // one 12 times (1 in 3^12).
    const seen = new Set(Object.keys(r.counts));
    for (let round = 0; round < 12 && seen.size < 2; round++) {
      await sleep(2300);
      const again = await pod.burst(`${STICKY}:80`, { count: 10 });
      expect(Object.keys(again.counts), `round ${round}`).toHaveLength(1);
      seen.add(Object.keys(again.counts)[0]!);
    }
    expect(seen.size).toBe(2);
  });

  it('on: a connected UDP client reaches a surviving backend within 1 s of its backend\'s removal; an unconnected one is never disturbed', async () => {
    type Stream = { replies: Array<[number, string]>; errors: Record<string, number>; sent: number; startedAt: number };
    const [connected, unconnected] = [await c.client('client'), await c.client('client')];
    const streams = [true, false].map((conn, i) => [connected, unconnected][i]!.cmd<Stream>(
      { op: 'udpStream', target: `${DNS}:53`, connected: conn, everyMs: 100, durationMs: 4000 }));
    await sleep(1500);
    // b1 goes away from the service (its pod keeps answering, so a socket left on it would go
    // on being answered by it); both clients were on b1, the only backend until now.
    const removedAt = Date.now();
    dnsBackends = ['b2', 'b3'];
    expect((await agent.setServices(services())).msg).toBe('applied');
    const [conn, unconn] = await Promise.all(streams) as [Stream, Stream];
    const after = (s: Stream, ms: number) => s.replies.filter(([t]) => s.startedAt + t > removedAt + ms).map(([, p]) => p);

    expect(conn.replies.filter(([t]) => conn.startedAt + t < removedAt).every(([, p]) => p === 'b1')).toBe(true);
    expect(conn.errors).toEqual({ ECONNABORTED: 1 }); // destroyed once, then connected afresh
    const moved = conn.replies.find(([t, p]) => conn.startedAt + t > removedAt && p !== 'b1');
    expect(moved, JSON.stringify(conn.replies)).toBeDefined();
    expect(conn.startedAt + moved![0] - removedAt).toBeLessThan(1000);
    expect(after(conn, 1000).length).toBeGreaterThan(10);
    expect(after(conn, 1000).every((p) => p === 'b2' || p === 'b3')).toBe(true);

    // sendmsg() translates every datagram: the unconnected socket simply moves on, unharmed.
    expect(unconn.errors).toEqual({});
    expect(unconn.replies.length).toBeGreaterThanOrEqual(unconn.sent - 1);
    expect(after(unconn, 1000).every((p) => p === 'b2' || p === 'b3')).toBe(true);
    const destroyed = agent.logs.find((l) => l.msg === 'swept sockets connected to removed backends');
    expect(destroyed).toMatchObject({ udp: 1, tcp: 0 });
    for (const cl of [connected, unconnected]) cl.proc.kill();
  });

  it('on: kill -9 of the agent under connection load fails no connection and stalls none over 1 s', async () => {
    // 1 s: a socket-level gap would show as ENETUNREACH (node) or a per-packet fallback; a
    // program swap is atomic, so nothing here should come near it even on a loaded machine.
    const load = pod.burst(`${WEB}:80`, { durationMs: 8000, concurrency: 4, timeoutMs: 5000 });
    const nodeLoad = node.burst(`${WEB}:80`, { durationMs: 8000, concurrency: 2, timeoutMs: 5000 });
    await sleep(1500);
    await agent.kill('SIGKILL');
    await sleep(1000);
    await agent.restart();
    expect(agent.logs.some((l) => l.msg === 'socket-level balancing attached' && (l.adopted as string[])?.length === 8)).toBe(true);
    for (const r of [await load, await nodeLoad]) {
      expect(r.failed, JSON.stringify(r.errors)).toBe(0);
      expect(r.ok).toBeGreaterThan(100);
      expect(Math.max(...r.ms)).toBeLessThan(1000);
    }
  });

  it('on with --socket-lb-destroy-tcp: TCP connections to a removed backend are reset within 1 s (pod and node), others untouched; without it they stay', async () => {
    type Stream = { replies: Array<[number, string]>; errors: Record<string, number>; failures: Array<[number, string]>; sent: number; startedAt: number };
    // One long-lived TCP connection from a pod and one from the node itself to the service's only
    // backend b1, and one from the pod to `web` (three backends, none removed). Then b1 leaves the
    // service; its pod keeps answering, so a socket left on it goes on working with a backend the
    // service no longer has (kube-proxy's per-packet path would keep it too: conntrack).
    const run = async (): Promise<{ removedAt: number; pod: Stream; host: Stream; other: Stream; sweep: Record<string, unknown> | undefined }> => {
      dnsBackends = ['b1'];
      expect((await agent.setServices(services())).msg).toBe('applied');
      const [pc, hc, oc] = [await c.client('client'), await c.clientIn(c.node('a').ns), await c.client('client')];
      const streams = [[pc, DNS], [hc, DNS], [oc, WEB]].map(([cl, vip]) =>
        (cl as PodClient).cmd<Stream>({ op: 'tcpStream', target: `${vip as string}:80`, everyMs: 100, durationMs: 4000 }));
      await sleep(1500);
      const since = agent.logs.length;
      const removedAt = Date.now();
      dnsBackends = ['b2', 'b3'];
      expect((await agent.setServices(services())).msg).toBe('applied');
      const [pod, host, other] = await Promise.all(streams) as [Stream, Stream, Stream];
      for (const cl of [pc, hc, oc]) cl.proc.kill();
      return { removedAt, pod, host, other, sweep: agent.logs.slice(since).find((l) => l.msg === 'swept sockets connected to removed backends') };
    };
    const before = (s: Stream, t: number) => s.replies.filter(([ms]) => s.startedAt + ms < t).map(([, p]) => p);
    const after = (s: Stream, t: number) => s.replies.filter(([ms]) => s.startedAt + ms > t).map(([, p]) => p);

    // Without the flag (the default, as Cilium's): only UDP is swept; the TCP sockets stay on b1.
    await startAgent('on');
    const kept = await run();
    for (const s of [kept.pod, kept.host]) {
      expect(s.errors).toEqual({});
      expect(before(s, kept.removedAt).every((p) => p === 'b1')).toBe(true);
      expect(after(s, kept.removedAt + 1000).length).toBeGreaterThan(10);
      expect(after(s, kept.removedAt).every((p) => p === 'b1')).toBe(true);
    }
    expect(kept.sweep).toMatchObject({ tcp: 0 });

    await startAgent('on', ['--socket-lb-destroy-tcp']);
    const reset = await run();
    for (const [who, s] of [['pod', reset.pod], ['node', reset.host]] as const) {
      expect(before(s, reset.removedAt).length, who).toBeGreaterThan(5);
      expect(before(s, reset.removedAt).every((p) => p === 'b1'), who).toBe(true);
      // Destroyed once (bpf_sock_destroy aborts the socket: ECONNABORTED, the peer gets a reset),
      // promptly, then connected afresh to a backend the service has.
      expect(s.errors, `${who}: ${JSON.stringify(s.failures)}`).toEqual({ ECONNABORTED: 1 });
      expect(s.startedAt + s.failures[0]![0] - reset.removedAt, who).toBeLessThan(1000);
      expect(after(s, reset.removedAt + 1000).length, who).toBeGreaterThan(10);
      expect(after(s, reset.removedAt + 1000).every((p) => p === 'b2' || p === 'b3'), who).toBe(true);
    }
    // A connection whose backend stays is not touched.
    expect(reset.other.errors).toEqual({});
    expect(reset.other.replies.length).toBeGreaterThanOrEqual(reset.other.sent - 1);
    expect(reset.sweep).toMatchObject({ tcp: 2 });
  }, 60_000);

  it('host-only: pods take the per-packet path (conntrack entries), the node the socket path (none)', async () => {
    await startAgent('host-only');
    const clientIp = c.pod('client').ip, nodeIp = c.node('a').ip;
    const before = translations(WEB, 80, 'TCP');
    const r = await pod.burst(`${WEB}:80`, { count: 20 });
    expect(r.failed).toBe(0);
    expect(translations(WEB, 80, 'TCP')).toBe(before);
    expect(ctEntries().filter((k) => k.saddr === clientIp && k.daddr === WEB).length).toBeGreaterThan(0);
    const n = await node.burst(`${WEB}:80`, { count: 20 });
    expect(n.failed, JSON.stringify(n.errors)).toBe(0);
    expect(translations(WEB, 80, 'TCP') - before).toBe(20);
    expect(ctEntries().filter((k) => k.saddr === nodeIp || k.daddr === nodeIp)).toEqual([]);
  });

  it('off again: the pinned links are removed, so the programs are detached at once', async () => {
    await startAgent('off');
    expect(fs.readdirSync(`${pinDir(c.node('a').nodeName, PIN_ROOT)}/links`)).toEqual([]);
    const tcp = await node.burst(`${WEB}:80`, { count: 3, timeoutMs: 2000 });
    expect(Object.keys(tcp.errors)).toEqual(['ENETUNREACH']);
  });
});
