// IPv6 and dual-stack Services, phase 1 (docs/ipv6.md): the whole control path runs for both
// families (manifests with ipFamilyPolicy -> the allocator's IPv6 range -> IPv6 EndpointSlices -> the
// model -> gRPC -> the agent), while the datapath serves IPv4 only. A dual-stack Service keeps
// serving over IPv4 with real packets; its IPv6 frontends and an IPv6-only Service are reported
// (log line, metric, status, `sluice service list`), and nothing of them reaches the maps.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cidrContains, parseCidr } from '../../common/ip.ts';
import { SimAgent, type LogLine } from '../../sim/agent.ts';
import { NODE_BIN, REPO, SimCluster, type PodClient } from '../../sim/cluster.ts';
import { SimControlPlane } from '../../sim/controlplane.ts';
import { nsRun, waitFor } from '../../sim/netns.ts';
import { pinnedBackendCount, pinnedFrontends } from '../../sim/pinned.ts';
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
    ...BACKENDS.map((b, i) => podYaml(c.pod(b), { app: 'web' }, [{ name: 'http', port: 8080 }], `fd00:10:244::${i + 11}`)),
  ]);
}

interface Row { frontend: string; family: string; name: string; programmed?: false; backends?: Array<{ address: string }> }
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

describe('dual-stack Services with the IPv4-only datapath', () => {
  it('a dual-stack Service serves over IPv4 from both backends, as the IPv4-only one next to it', async () => {
    await waitFor('dual reachable', async () => (await client.burst(`${DUAL_V4}:80`, { count: 3 })).ok === 3, 20000);
    for (const vip of [DUAL_V4, PLAIN_V4]) {
      const r = await client.burst(`${vip}:80`, { count: 40 });
      expect(r.ok, vip).toBe(40);
      expect(Object.keys(r.counts).sort(), vip).toEqual(BACKENDS.map((b) => c.pod(b).name).sort());
    }
  });

  it('the maps hold the IPv4 frontends and IPv4 backends only: nothing of the IPv6 parts, nothing of the IPv6-only Service', () => {
    expect([...pinnedFrontends(c.node('a').nodeName).keys()].sort()).toEqual([`${DUAL_V4}:80/TCP`, `${PLAIN_V4}:80/TCP`]);
    expect(pinnedBackendCount(c.node('a').nodeName)).toBe(4);
    const programmed = rows().filter((r) => r.programmed !== false);
    expect(programmed.map((r) => [r.frontend, r.family, r.name]).sort()).toEqual([[`${DUAL_V4}:80/TCP`, 'ipv4', 'default/dual:http'], [`${PLAIN_V4}:80/TCP`, 'ipv4', 'default/plain:http']]);
    for (const r of programmed) expect(r.backends!.map((b) => b.address).sort()).toEqual(BACKENDS.map((b) => `${c.pod(b).ip}:8080`).sort());
  });

  it('reports the IPv6 frontends: one structured log line, the metric, status and service list (bracketed, from the IPv6 range)', async () => {
    const line = await agent.waitLog(skippedLog, 20000);
    expect(line).toMatchObject({ family: 'ipv6', frontends: 2, services: 2, ipv6Only: 1, ipv6OnlyServices: ['default/only6'] });
    expect(agent.logs.filter(skippedLog)).toHaveLength(1);
    const skipped = rows().filter((r) => r.programmed === false);
    expect(skipped.map((r) => r.name).sort()).toEqual(['default/dual:http', 'default/only6:http']);
    for (const r of skipped) {
      const m = /^\[([0-9a-f:]+)\]:80\/TCP$/.exec(r.frontend);
      expect(m, r.frontend).not.toBeNull();
      expect(cidrContains(V6_RANGE, m![1]!), r.frontend).toBe(true);
    }
    const table = cli('service', 'list');
    expect(table).toMatch(/-\s+\[fd00:10:96::[0-9a-f]+\]:80\/TCP\s+ClusterIP\s+default\/only6:http\s+\(not programmed: no IPv6 datapath yet\)/);
    const status = cli('status');
    expect(status).toMatch(/IPv6 skipped: +2 frontend\(s\) of 2 service\(s\) not programmed/);
    expect(status).toMatch(/IPv6-only: +default\/only6 \(nothing programmed\)/);
    expect(cli('status', '--verbose')).toMatch(/IP Families: +IPv4 \(IPv6: not programmed yet, 2 frontend\(s\) left out\)/);
    const metrics = await nsRun(c.node('a').ns, 'curl', ['-s', 'http://127.0.0.1:9964/metrics']);
    expect(metrics).toMatch(/^sluice_frontends_skipped\{family="ipv6"\} 2$/m);
  });

  it('the IPv6-only Service turned PreferDualStack gets an IPv4 cluster IP and serves over it; its IPv6 frontend stays reported', async () => {
    const since = agent.logs.length;
    writeServices({ ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'PreferDualStack' });
    await agent.waitLog((l) => skippedLog(l) && l.ipv6Only === 0, 30000, since);
    const row = await waitFor('only6 programmed', () => rows().find((r) => r.name === 'default/only6:http' && r.programmed !== false), 20000);
    const vip = row.frontend.split(':')[0]!;
    expect(vip).toMatch(/^10\.(9[6-9]|1[01][0-9])\./); // from the IPv4 range 10.96.0.0/12
    const r = await client.burst(`${vip}:80`, { count: 20 });
    expect(r.ok).toBe(20);
    expect(rows().filter((x) => x.programmed === false).map((x) => x.name).sort()).toEqual(['default/dual:http', 'default/only6:http']);
    expect(cli('status')).not.toMatch(/IPv6-only:/);
  });
});
