// The API server's own Service (default/kubernetes, ClusterIP 10.96.0.1:443 -> the API server's
// address:6443) is an ordinary Service to the agent. In a cluster without kube-proxy every pod
// that talks to the API server (CoreDNS, controllers, operators) goes through it, so Sluice must
// program it exactly like any other: here a pod stands in for the API server and a client pod
// reaches it through 10.96.0.1:443, next to an ordinary Service handled the same way.
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_BIN, REPO, SimCluster, waitForLine, type PodClient } from '../../sim/cluster.ts';
import { waitFor } from '../../sim/netns.ts';

let c: SimCluster;
let agent: ChildProcess;
let client: PodClient;
let dir: string;
const agentLog: string[] = [];

beforeAll(async () => {
  c = await SimCluster.create({ nodes: ['a'] });
  const apiserver = await c.addPod('a', 'apiserver');
  const web = await c.addPod('a', 'web');
  await c.addPod('a', 'client');
  await c.serve('apiserver', { tcp: [6443] });
  await c.serve('web', { tcp: [8080] });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-k8s-svc-'));
  const stateFile = path.join(dir, 'state.json');
  fs.writeFileSync(stateFile, JSON.stringify({
    services: [
      {
        namespace: 'default', name: 'kubernetes', type: 'ClusterIP', clusterIps: ['10.96.0.1'],
        ports: [{ name: 'https', protocol: 'TCP', port: 443, endpoints: [{ ip: apiserver.ip, port: 6443, ready: true }] }],
      },
      {
        namespace: 'default', name: 'web', type: 'ClusterIP', clusterIps: ['10.96.0.80'],
        ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [{ ip: web.ip, port: 8080, ready: true }] }],
      },
    ],
  }));
  agent = c.spawnTs(c.node('a').ns, 'agent/main.ts', [
    '--node-name', c.node('a').nodeName, '--state-file', stateFile, '--metrics-addr', 'off', '--log-level', 'info',
  ]);
  // pino logs JSON lines on stdout; anything on stderr is a crash or a rejected flag.
  readline.createInterface({ input: agent.stdout! }).on('line', (l) => agentLog.push(l));
  agent.stderr?.on('data', (d: Buffer) => agentLog.push(`stderr: ${d.toString()}`));
  await waitForLine(agent, (l) => l.includes('"applied"'), 30000, 'agent applied the state file')
    .catch((e: Error) => { throw new Error(`${e.message}\n${agentLog.slice(-10).join('\n')}`); });
  client = await c.client('client');
  await waitFor('the kubernetes Service answers', async () => (await client.burst('10.96.0.1:443', { count: 1 })).ok === 1, 20000);
});

afterAll(async () => {
  await c?.destroy();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the API server\'s own Service (default/kubernetes)', () => {
  it('is programmed like any other Service', () => {
    const rows = JSON.parse(execFileSync(NODE_BIN, [`${REPO}agent/cli/main.ts`, 'service', 'list', '--node-name', c.node('a').nodeName, '-o', 'json'], { encoding: 'utf8' })) as
      Array<{ frontend: string; name: string; backends: Array<{ address: string }> }>;
    const by = Object.fromEntries(rows.map((r) => [r.frontend, r]));
    expect(Object.keys(by).sort()).toEqual(['10.96.0.1:443/TCP', '10.96.0.80:80/TCP']);
    expect(by['10.96.0.1:443/TCP']!.name).toBe('default/kubernetes:https');
    expect(by['10.96.0.1:443/TCP']!.backends.map((b) => b.address)).toEqual([`${c.pod('apiserver').ip}:6443`]);
    expect(by['10.96.0.80:80/TCP']!.backends.map((b) => b.address)).toEqual([`${c.pod('web').ip}:8080`]);
  });

  it('a pod reaches the API server through 10.96.0.1:443', async () => {
    const r = await client.burst('10.96.0.1:443', { count: 20 });
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(r.counts).toEqual({ apiserver: 20 });
    const w = await client.burst('10.96.0.80:80', { count: 20 });
    expect(w.counts).toEqual({ web: 20 });
  });

  it('the agent logged no error and no warning', () => {
    const bad = agentLog.filter((l) => { try { return (JSON.parse(l) as { level: number }).level >= 40; } catch { return true; } });
    expect(bad).toEqual([]);
  });
});
