// Issue 7: north-south at XDP. An outside host on the nodes' link reaches NodePorts on both nodes,
// an ExternalIP and a LoadBalancer IP; backends run on both nodes.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceJson } from '../../proto/contract.ts';
import { SimAgent } from '../../sim/agent.ts';
import { NODE_BIN, REPO, SimCluster, type PodClient } from '../../sim/cluster.ts';
import { nsRun } from '../../sim/netns.ts';

let c: SimCluster;
const agents: Record<string, SimAgent> = {};
let outside: PodClient;
const OUTSIDE_IP = '10.10.0.100';
const EXTERNAL_IP = '192.0.2.10';
const LB_IP = '192.0.2.20';
// Backends: one on node a, two on node b.
const PODS: Array<[string, string]> = [['web-a1', 'a'], ['web-b1', 'b'], ['web-b2', 'b']];

function ep(pod: string, port: number) {
  const p = c.pod(pod);
  return { ip: p.ip, port, ready: true, nodeName: p.node.nodeName };
}

function services(): ServiceJson[] {
  const all = PODS.map(([p]) => p);
  return [
    {
      namespace: 'default', name: 'np', type: 'NodePort', clusterIps: ['10.96.1.10'],
      ports: [
        { name: 'http', protocol: 'TCP', port: 80, nodePort: 30080, endpoints: all.map((p) => ep(p, 8080)) },
        { name: 'dns', protocol: 'UDP', port: 53, nodePort: 30053, endpoints: all.map((p) => ep(p, 5353)) },
      ],
    },
    {
      namespace: 'default', name: 'np-local', type: 'NodePort', clusterIps: ['10.96.1.11'], externalTrafficLocal: true,
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30081, endpoints: [ep('web-b1', 8080)] }],
    },
    {
      namespace: 'default', name: 'np-remote', type: 'NodePort', clusterIps: ['10.96.1.14'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30084, endpoints: [ep('web-b2', 8080)] }],
    },
    {
      namespace: 'default', name: 'ext', type: 'ClusterIP', clusterIps: ['10.96.1.12'], externalIps: [EXTERNAL_IP],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: all.map((p) => ep(p, 8080)) }],
    },
    {
      namespace: 'default', name: 'lb', type: 'LoadBalancer', clusterIps: ['10.96.1.13'], loadBalancerIps: [LB_IP],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30082, endpoints: all.map((p) => ep(p, 8080)) }],
    },
  ];
}

function status(node: string) {
  return JSON.parse(execFileSync(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', c.node(node).nodeName, 'status', '-o', 'json'], { encoding: 'utf8' }));
}

beforeAll(async () => {
  c = await SimCluster.create({ nodes: ['a', 'b'] });
  for (const [pod, node] of PODS) {
    await c.addPod(node, pod);
    await c.serve(pod, { tcp: [8080], udp: [5353] });
  }
  const o = await c.addOutside('outside', OUTSIDE_IP, [
    { to: `${EXTERNAL_IP}/32`, via: 'a' }, { to: `${LB_IP}/32`, via: 'b' }, { to: '10.244.1.0/24', via: 'a' }, { to: '10.244.2.0/24', via: 'b' },
  ]);
  for (const n of ['a', 'b']) {
    // The fabric's ports run XDP (sim/cluster.ts), so the nodes' veths can use native mode.
    agents[n] = await SimAgent.start(c, n, { args: ['--external-interface', 'eth0', '--external-mode', 'xdp-native'] }, services());
    await agents[n].waitLog((l) => l.msg === 'applied');
  }
  outside = await c.clientIn(o.ns);
});

afterAll(async () => {
  await c?.destroy();
});

describe('north-south', () => {
  it('attaches XDP in native mode on the external interface and says so', () => {
    for (const n of ['a', 'b']) expect(status(n).agent.external).toMatch(/^eth0 xdp-native \(10\.10\.0\.\d\)/);
  });

  it('serves a NodePort on both nodes, from local and remote backends', async () => {
    for (const node of ['a', 'b']) {
      const r = await outside.burst(`${c.node(node).ip}:30080`, { count: 90, concurrency: 3 });
      expect(r.failed, `node ${node}: ${JSON.stringify(r.errors)}`).toBe(0);
      // Maglev spreads over all three pods: each node reaches its own and the other node's.
      expect(Object.keys(r.counts).sort(), `node ${node}`).toEqual(['web-a1', 'web-b1', 'web-b2']);
    }
  });

  it('carries TCP data byte for byte through local and remote backends, and UDP', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20 && seen.size < 3; i++) {
      const r = await outside.echo(`${c.node('a').ip}:30080`, 512 << 10);
      expect(r.intact, `via node a to ${r.pod}`).toBe(true);
      seen.add(r.pod);
    }
    expect(seen.has('web-a1') && (seen.has('web-b1') || seen.has('web-b2'))).toBe(true);
    const udp = await outside.burst(`${c.node('b').ip}:30053`, { proto: 'udp', count: 30 });
    expect(udp.failed).toBe(0);
    const echo = await outside.echo(`${c.node('a').ip}:30053`, 1000, 'udp');
    expect(echo.intact).toBe(true);
  });

  it('with externalTrafficPolicy Local keeps the client address, and a node without endpoints drops', async () => {
    const r = await outside.burst(`${c.node('b').ip}:30081`, { count: 20, byClient: true });
    expect(r.counts).toEqual({ [`web-b1 ${OUTSIDE_IP}`]: 20 });
    // Cluster policy through another node's backend: the backend sees node a as the source.
    const cluster = await outside.burst(`${c.node('a').ip}:30080`, { count: 60, byClient: true });
    expect(Object.keys(cluster.counts)).toContain(`web-b1 ${c.node('a').ip}`);
    expect(Object.keys(cluster.counts)).toContain(`web-a1 ${OUTSIDE_IP}`);
    const none = await outside.burst(`${c.node('a').ip}:30081`, { count: 3, timeoutMs: 1000 });
    expect(none.ok).toBe(0);
    expect(none.errors).toEqual({ TIMEOUT: 3 });
    expect(status('a').counters.ext_no_local).toBeGreaterThan(0);
  });

  it('reuses source ports at once through another node (closed flows give up their SNAT port)', async () => {
    const before = status('a').counters.ext_snat_fail as number;
    // Only a remote backend from node a; the same 150 client ports twice in a row, as a busy client
    // reusing ports in TIME_WAIT would.
    for (let round = 0; round < 2; round++) {
      const r = await outside.burst(`${c.node('a').ip}:30084`, { count: 150, srcPort: 45000, concurrency: 3 });
      expect(r.failed, `round ${round}: ${JSON.stringify(r.errors)}`).toBe(0);
      expect(Object.keys(r.counts)).toEqual(['web-b2']);
    }
    expect(status('a').counters.ext_snat_fail).toBe(before);
  });

  it('serves an ExternalIP and a LoadBalancer IP', async () => {
    for (const target of [`${EXTERNAL_IP}:80`, `${LB_IP}:80`]) {
      const r = await outside.burst(target, { count: 60, concurrency: 3 });
      expect(r.failed, `${target}: ${JSON.stringify(r.errors)}`).toBe(0);
      expect(Object.keys(r.counts).length, target).toBeGreaterThanOrEqual(2);
    }
  });

  it('lets other traffic through untouched: ICMP, direct pod ports, a closed NodePort answers RST', async () => {
    for (const target of [c.node('a').ip, c.pod('web-b1').ip]) {
      await nsRun(`sluice-${c.runId}-outside`, 'ping', ['-c', '1', '-W', '2', target]);
    }
    const direct = await outside.burst(`${c.pod('web-a1').ip}:8080`, { count: 5 });
    expect(direct.counts).toEqual({ 'web-a1': 5 });
    const closed = await outside.burst(`${c.node('a').ip}:30999`, { count: 2, timeoutMs: 2000 });
    expect(closed.errors).toEqual({ ECONNREFUSED: 2 });
  });

  for (const [mode, expected] of [['auto', /^eth0 xdp-generic .*not used: xdp-native: a veth delivers/], ['tc', /^eth0 tc /]] as const) {
    it(`in mode ${mode} chooses ${mode === 'auto' ? 'generic XDP on a veth' : 'tc'}, says why, and keeps serving`, async () => {
      await agents.b!.kill('SIGTERM');
      agents.b = await SimAgent.start(c, 'b', { stateFile: agents.b!.stateFile, args: ['--external-interface', 'eth0', '--external-mode', mode] });
      await agents.b.waitLog((l) => l.msg === 'north-south datapath attached');
      expect(status('b').agent.external).toMatch(expected);
      const r = await outside.burst(`${c.node('b').ip}:30080`, { count: 60, concurrency: 3 });
      expect(r.failed, JSON.stringify(r.errors)).toBe(0);
      expect(Object.keys(r.counts).sort()).toEqual(['web-a1', 'web-b1', 'web-b2']);
    });
  }
});
