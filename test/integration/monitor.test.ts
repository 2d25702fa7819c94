// `sluice monitor` (issue 16): real packets in the simulated cluster make the datapath emit events
// into its ring buffer, and the CLI, a separate process reading the node's pins, names them: a
// reject for a Service without endpoints, an externalTrafficPolicy Local drop on a node without a
// local endpoint, a loadBalancerSourceRanges drop, sampled new flows only while asked for, and the
// --service filter.
import path from 'node:path';
import readline from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as bpf from '../../agent/bpf/libbpf.ts';
import * as L from '../../agent/bpf/layout.ts';
import { pinDir } from '../../agent/datapath.ts';
import type { MonitorEvent } from '../../agent/monitor.ts';
import type { ServiceJson } from '../../proto/contract.ts';
import { SimAgent } from '../../sim/agent.ts';
import { NODE_BIN, REPO, SimCluster, type PodClient } from '../../sim/cluster.ts';

let c: SimCluster;
let client: PodClient;
let outside: PodClient;
const OUTSIDE_IP = '10.10.0.100';

function services(): ServiceJson[] {
  const web = c.pod('web');
  return [
    { namespace: 'default', name: 'empty', type: 'ClusterIP', clusterIps: ['10.96.3.10'], ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [] }] },
    {
      namespace: 'default', name: 'local', type: 'NodePort', clusterIps: ['10.96.3.12'], externalTrafficLocal: true,
      // Its only endpoint runs on another node: this node has none and must drop.
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30091, endpoints: [{ ip: '10.244.9.9', port: 8080, ready: true, nodeName: 'elsewhere' }] }],
    },
    {
      // loadBalancerSourceRanges apply to the service's NodePorts too (kube-proxy): the outside
      // host is not in the range and must be dropped.
      namespace: 'default', name: 'ranged', type: 'LoadBalancer', clusterIps: ['10.96.3.13'], loadBalancerSourceRanges: ['10.99.0.0/16'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30092, endpoints: [{ ip: web.ip, port: 8080, ready: true, nodeName: web.node.nodeName }] }],
    },
    {
      namespace: 'default', name: 'web', type: 'ClusterIP', clusterIps: ['10.96.3.11'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [{ ip: web.ip, port: 8080, ready: true, nodeName: web.node.nodeName }] }],
    },
  ];
}

interface Run { events: MonitorEvent[]; code: number | null; stderr: string }

/** Start `sluice monitor -o json` on node a; resolves once it listens, with its eventual result. */
async function monitor(args: string[]): Promise<{ done: Promise<Run>; proc: ChildProcess }> {
  const proc = c.spawnLocal(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', c.node('a').nodeName, 'monitor', '-o', 'json', ...args]);
  const events: MonitorEvent[] = [];
  let stderr = '';
  readline.createInterface({ input: proc.stdout! }).on('line', (l) => events.push(JSON.parse(l)));
  const done = new Promise<Run>((resolve) => proc.on('exit', (code) => resolve({ events, code, stderr })));
  await new Promise<void>((resolve, reject) => {
    proc.stderr!.on('data', (d) => {
      stderr += d;
      if (stderr.includes('Listening for')) resolve();
    });
    proc.on('exit', (code) => reject(new Error(`monitor exited (${code}) before listening: ${stderr}`)));
  });
  return { done, proc };
}

function eventConfig(): { flags: number; sample: number } {
  const fd = bpf.objGet(path.join(pinDir(c.node('a').nodeName), 'sl_event_config'));
  try {
    const v = Buffer.alloc(L.eventConfig.size);
    bpf.mapLookup(fd, Buffer.alloc(4), v);
    return L.eventConfig.decode(v);
  } finally {
    bpf.closeFd(fd);
  }
}

/** The outside host's connection to node a's `nodePort` times out, and monitor `m` saw that one drop. */
async function outsideDropped(m: { done: Promise<Run> }, nodePort: number, reason: string): Promise<Run> {
  const r = await outside.burst(`${c.node('a').ip}:${nodePort}`, { count: 1, timeoutMs: 1000 });
  expect(r.errors).toEqual({ TIMEOUT: 1 });
  const run = await m.done;
  expect(run.code, run.stderr).toBe(0);
  expect(run.events.map((e) => [e.type, e.reason, e.scope, e.source.split(':')[0], e.destination])).toEqual([
    ['drop', reason, 'External', OUTSIDE_IP, `${c.node('a').ip}:${nodePort}`],
  ]);
  return run;
}

beforeAll(async () => {
  c = await SimCluster.create({ nodes: ['a'] });
  await c.addPod('a', 'client');
  await c.addPod('a', 'web');
  await c.serve('web', { tcp: [8080] });
  const o = await c.addOutside('outside', OUTSIDE_IP, [{ to: '10.244.1.0/24', via: 'a' }]);
  const agent = await SimAgent.start(c, 'a', { args: ['--external-interface', 'eth0', '--external-mode', 'xdp-generic'] }, services());
  await agent.waitLog((l) => l.msg === 'applied');
  client = await c.client('client');
  outside = await c.clientIn(o.ns);
}, 120000);

afterAll(async () => {
  await c?.destroy();
});

describe('sluice monitor', () => {
  it('shows the reject of a connection to a Service without endpoints, with its reason and frontend', async () => {
    const m = await monitor(['--type', 'reject', '--count', '1', '--duration', '30']);
    const r = await client.burst('10.96.3.10:80', { count: 1, timeoutMs: 5000 });
    expect(r.errors).toEqual({ ECONNREFUSED: 1 });
    const run = await m.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      type: 'reject', reason: 'no_endpoints', protocol: 'TCP', source: expect.stringMatching(new RegExp(`^${c.pod('client').ip}:\\d+$`)),
      destination: '10.96.3.10:80', service: expect.stringMatching(/^default\/empty:/), scope: 'ClusterIP', backend: null,
    });
  }, 60000);

  it('shows the externalTrafficPolicy Local drop on a node without a local endpoint, and --service leaves out other Services', async () => {
    const m = await monitor(['--type', 'drop,reject', '--service', 'default/local', '--count', '1', '--duration', '30']);
    // A reject of another Service first: the filter must skip it and wait for the drop.
    expect((await client.burst('10.96.3.10:80', { count: 1, timeoutMs: 5000 })).errors).toEqual({ ECONNREFUSED: 1 });
    const run = await outsideDropped(m, 30091, 'no_local_endpoint');
    expect(run.events[0]!.service).toMatch(/^default\/local:/);
  }, 60000);

  it('shows the drop of a client outside loadBalancerSourceRanges, with its reason', async () => {
    const m = await monitor(['--type', 'drop', '--service', 'default/ranged', '--count', '1', '--duration', '30']);
    await outsideDropped(m, 30092, 'source_range');
  }, 60000);

  it('shows new flows with their backend only while asked for, and puts the datapath back to drops and rejects after', async () => {
    expect(eventConfig()).toEqual({ flags: 0, sample: 0 });
    const m = await monitor(['--type', 'flow', '--count', '3', '--duration', '30']);
    expect(eventConfig()).toEqual({ flags: L.SL_EVC_F_FLOW, sample: 1 });
    const r = await client.burst('10.96.3.11:80', { count: 3 });
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    const run = await m.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.events.map((e) => [e.type, e.destination, e.backend])).toEqual(
      Array.from({ length: 3 }, () => ['flow', '10.96.3.11:80', `${c.pod('web').ip}:8080`]));
    expect(eventConfig()).toEqual({ flags: 0, sample: 0 });
  }, 60000);

  it('ends at --duration with nothing to show, and at once on SIGINT', async () => {
    const started = performance.now();
    const quiet = await (await monitor(['--duration', '1'])).done;
    expect(quiet).toMatchObject({ code: 0, events: [] });
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
    const m = await monitor([]);
    m.proc.kill('SIGINT');
    expect((await m.done).code).toBe(0);
  }, 60000);
});
