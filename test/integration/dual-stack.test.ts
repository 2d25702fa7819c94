// IPv6 and dual-stack Services (docs/ipv6.md): the whole control path runs for both families
// (manifests with ipFamilyPolicy -> the allocator's IPv6 range -> IPv6 EndpointSlices -> the model ->
// gRPC -> the agent), and the agent programs each family into its own maps: a dual-stack Service's
// IPv4 frontend into sl_services / sl_backends as before, its IPv6 frontend into sl_services6 /
// sl_backends6 (read back through bpftool's raw bytes and through the CLI, addresses readable);
// nothing is reported as skipped any more. With the IPv6 pod path (bpf/sluice_pod.c, merged from
// h-v6pod) the dual-stack Service answers on both cluster IPs from the same backends.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cidrContains, parseCidr } from '../../common/ip.ts';
import { SimAgent, type LogLine } from '../../sim/agent.ts';
import { NODE_BIN, REPO, SimCluster, type PodClient } from '../../sim/cluster.ts';
import { SimControlPlane } from '../../sim/controlplane.ts';
import { nsRun, waitFor } from '../../sim/netns.ts';
import { pinnedBackendCount, pinnedBackends6, pinnedFrontends, pinnedFrontends6, pinnedNodeIp6 } from '../../sim/pinned.ts';
import { manifestsDir, podYaml, writeManifest } from '../fixtures/manifests.ts';

let c: SimCluster;
let cp: SimControlPlane;
let agent: SimAgent;
let client: PodClient;
let dir: string;
const BACKENDS = ['b1', 'b2'];
const DUAL_V4 = '10.96.20.10';
const PLAIN_V4 = '10.96.20.30';
const V6_RANGE = parseCidr('fd00:10:96::/112')!;

function cli(...args: string[]): string {
  return execFileSync(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', c.node('a').nodeName, ...args], { encoding: 'utf8' });
}

/** A Service manifest with the dual-stack fields spelled out. */
function svcYaml(name: string, spec: Record<string, unknown>): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec: ${JSON.stringify({ selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...spec })}
`;
}

function writeServices(only6: Record<string, unknown>): void {
  writeManifest(dir, 'services.yaml', [
    svcYaml('dual', { clusterIP: DUAL_V4, ipFamilyPolicy: 'PreferDualStack' }),
    svcYaml('plain', { clusterIP: PLAIN_V4 }),
    svcYaml('only6', only6),
    ...BACKENDS.map((b) => podYaml(c.pod(b), { app: 'web' }, [{ name: 'http', port: 8080 }], c.pod(b).ip6)),
  ]);
}

interface Row { id?: number; frontend: string; family: string; name: string; programmed?: false; backends?: Array<{ address: string }> }
const rows = (): Row[] => JSON.parse(cli('service', 'list', '-o', 'json')) as Row[];
const skippedLog = (l: LogLine) => l.msg === 'IPv6 frontends not programmed';

beforeAll(async () => {
  c = await SimCluster.create({ nodes: ['a'] });
  await c.addClientAndBackends('a', BACKENDS, { tcp: [8080] });
  dir = manifestsDir();
  writeServices({ ipFamilies: ['IPv6'] });
  cp = await SimControlPlane.start(c, { manifestsDir: dir });
  agent = await SimAgent.start(c, 'a', { controlPlane: cp.address });
  await agent.waitLog((l) => l.msg === 'applied', 30000);
  client = await c.client('client');
}, 120_000);

afterAll(async () => {
  await c?.destroy();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('dual-stack Services', () => {
  it('a dual-stack Service serves over IPv4 from both backends, as the IPv4-only one next to it', async () => {
    await waitFor('dual reachable', async () => (await client.burst(`${DUAL_V4}:80`, { count: 3 })).ok === 3, 20000);
    for (const vip of [DUAL_V4, PLAIN_V4]) {
      const r = await client.burst(`${vip}:80`, { count: 40 });
      expect(r.ok, vip).toBe(40);
      expect(Object.keys(r.counts).sort(), vip).toEqual(BACKENDS.map((b) => c.pod(b).name).sort());
    }
  });

  it('each family in its own maps: IPv4 frontends and backends in sl_services / sl_backends, IPv6 ones in sl_services6 / sl_backends6 (bpftool)', () => {
    const node = c.node('a').nodeName;
    expect([...pinnedFrontends(node).keys()].sort()).toEqual([`${DUAL_V4}:80/TCP`, `${PLAIN_V4}:80/TCP`]);
    expect(pinnedBackendCount(node)).toBe(4);
    const six = pinnedFrontends6(node);
    expect(six.size).toBe(2);
    for (const [fe, count] of six) {
      const m = /^\[([0-9a-f:]+)\]:80\/TCP$/.exec(fe);
      expect(m, fe).not.toBeNull();
      expect(cidrContains(V6_RANGE, m![1]!), fe).toBe(true);
      expect(count, fe).toBe(2);
    }
    const v6Backends = BACKENDS.map((b) => `[${c.pod(b).ip6}]:8080`).sort();
    expect(pinnedBackends6(node).sort()).toEqual([...v6Backends, ...v6Backends].sort());
    // The masquerade source of IPv6 flows: the node's own IPv6 address.
    expect(pinnedNodeIp6(node)).toBe(c.node('a').ip6);
  });

  it('the dual-stack Service answers on both cluster IPs from the same backends; the IPv6-only one over IPv6', async () => {
    const v6 = (name: string) => rows().find((r) => r.name === name && r.family === 'ipv6')!.frontend.replace(/\/TCP$/, '');
    const want = BACKENDS.map((b) => c.pod(b).name).sort();
    for (const target of [`${DUAL_V4}:80`, v6('default/dual:http'), v6('default/only6:http')]) {
      await waitFor(`${target} reachable`, async () => (await client.burst(target, { count: 3 })).ok === 3, 20000);
      const r = await client.burst(target, { count: 40 });
      expect(r.ok, target).toBe(40);
      expect(Object.keys(r.counts).sort(), target).toEqual(want);
    }
    // The IPv6 flows in sl_ct6, read by `sluice bpf ct list` with bracketed addresses.
    const flows = JSON.parse(cli('bpf', 'ct', 'list', '-o', 'json')) as Array<{ direction: string; destination: string; nat: string }>;
    const dual6 = v6('default/dual:http');
    const nats = new Set(flows.filter((f) => f.direction === 'service' && f.destination === dual6).map((f) => f.nat));
    expect([...nats].sort()).toEqual(BACKENDS.map((b) => `[${c.pod(b).ip6}]:8080`).sort());
    expect(cli('bpf', 'ct', 'list')).toContain(`${dual6}`);
  });

  it('`sluice service list` lists both families as programmed, IPv6 addresses bracketed; nothing is reported as skipped', async () => {
    const all = rows();
    expect(all.every((r) => r.programmed !== false)).toBe(true);
    expect(all.map((r) => [r.family, r.name]).sort()).toEqual([
      ['ipv4', 'default/dual:http'], ['ipv4', 'default/plain:http'], ['ipv6', 'default/dual:http'], ['ipv6', 'default/only6:http'],
    ]);
    for (const r of all) {
      const want = BACKENDS.map((b) => (r.family === 'ipv6' ? `[${c.pod(b).ip6}]:8080` : `${c.pod(b).ip}:8080`)).sort();
      expect(r.backends!.map((b) => b.address).sort(), r.frontend).toEqual(want);
    }
    const v6 = all.filter((r) => r.family === 'ipv6').map((r) => r.frontend);
    for (const fe of v6) expect(pinnedFrontends6(c.node('a').nodeName).has(fe), fe).toBe(true);
    const table = cli('service', 'list');
    expect(table).toMatch(/\d+\s+\[fd00:10:96::[0-9a-f]+\]:80\/TCP\s+ClusterIP\s+default\/only6:http\s+1 => \[fd00:10:244:1::[0-9a-f]+\]:8080\/TCP \(active\)/);
    expect(table).not.toMatch(/not programmed/);
    expect(agent.logs.filter(skippedLog)).toHaveLength(0);
    const status = cli('status');
    expect(status).not.toMatch(/IPv6 skipped|IPv6-only/);
    expect(status).toMatch(/sl_services6 +2 /);
    expect(cli('status', '--verbose')).toMatch(/IP Families: +IPv4, IPv6\n/);
    const metrics = await nsRun(c.node('a').ns, 'curl', ['-s', 'http://127.0.0.1:9964/metrics']);
    expect(metrics).toMatch(/^sluice_frontends_skipped\{family="ipv6"\} 0$/m);
  });

  it('the IPv6-only Service turned PreferDualStack gets an IPv4 cluster IP and serves over it; its IPv6 frontend stays as it was', async () => {
    const before = rows().find((r) => r.name === 'default/only6:http' && r.family === 'ipv6')!;
    writeServices({ ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'PreferDualStack' });
    const row = await waitFor('only6 over IPv4', () => rows().find((r) => r.name === 'default/only6:http' && r.family === 'ipv4'), 30000);
    const vip = row.frontend.split(':')[0]!;
    expect(vip).toMatch(/^10\.(9[6-9]|1[01][0-9])\./); // from the IPv4 range 10.96.0.0/12
    const r = await client.burst(`${vip}:80`, { count: 20 });
    expect(r.ok).toBe(20);
    const after = rows().find((x) => x.name === 'default/only6:http' && x.family === 'ipv6')!;
    expect([after.frontend, after.id]).toEqual([before.frontend, before.id]);
    expect(pinnedFrontends6(c.node('a').nodeName).size).toBe(2);
  });
});
