// Hairpin without a north-south interface: kube-proxy masquerades a pod reaching itself through its
// Service whatever the node's interfaces (its nftables proxier: "hairpin to cluster IP", masq true),
// so Sluice source-NATs it to the node's address also when the agent runs without
// --external-interface (NodePorts then come from --nodeport-addresses, or there are none).
//   node a: web-a1 (serves), client; the agent has no --external-interface
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceJson } from '../../proto/contract.ts';
import { SimAgent } from '../../sim/agent.ts';
import { SimCluster, type PodClient } from '../../sim/cluster.ts';

let c: SimCluster;
let agent: SimAgent;
let self: PodClient;
let client: PodClient;
const CLUSTER_IP = '10.96.3.10';

function services(): ServiceJson[] {
  const p = c.pod('web-a1');
  const ep = (port: number) => [{ ip: p.ip, port, ready: true, nodeName: p.node.nodeName }];
  return [{
    namespace: 'h', name: 'self', type: 'NodePort', clusterIps: [CLUSTER_IP],
    ports: [
      { name: 'http', protocol: 'TCP', port: 80, nodePort: 31180, endpoints: ep(8080) },
      { name: 'dns', protocol: 'UDP', port: 53, nodePort: 31153, endpoints: ep(5353) },
    ],
  }];
}

beforeAll(async () => {
  c = await SimCluster.create({ nodes: ['a'] });
  await c.addClientAndBackends('a', ['web-a1'], { tcp: [8080], udp: [5353] });
  agent = await SimAgent.start(c, 'a', { args: ['--nodeport-addresses', '10.10.0.0/24'] }, services());
  await agent.waitLog((l) => l.msg === 'applied');
  self = await c.client('web-a1');
  client = await c.client('client');
}, 120000);

afterAll(async () => {
  await c?.destroy();
});

describe('hairpin without --external-interface', () => {
  it('a pod reaches itself through its ClusterIP and its own node\'s NodePort, TCP and UDP, seeing the node as client', async () => {
    const node = c.node('a').ip;
    expect(agent.logs.find((l) => l.msg?.startsWith('source NAT'))?.address).toBe(node);
    for (const target of [`${CLUSTER_IP}:80`, `${node}:31180`]) {
      const r = await self.burst(target, { count: 5, timeoutMs: 2000, byClient: true });
      expect(r.counts, `${target}: ${JSON.stringify(r.errors)}`).toEqual({ [`web-a1 ${node}`]: 5 });
    }
    for (const target of [`${CLUSTER_IP}:53`, `${node}:31153`]) {
      const r = await self.burst(target, { proto: 'udp', count: 5, timeoutMs: 2000, byClient: true });
      expect(r.counts, `${target}: ${JSON.stringify(r.errors)}`).toEqual({ [`web-a1 ${node}`]: 5 });
    }
    expect(await self.echo(`${CLUSTER_IP}:80`, 256 << 10)).toEqual({ pod: 'web-a1', intact: true });
    // Another pod keeps its own address: without --external-interface, another node's backend would
    // answer a masqueraded flow where Sluice does not look, so pods' NodePort flows short-circuit.
    const other = await client.burst(`${node}:31180`, { count: 5, byClient: true });
    expect(other.counts).toEqual({ [`web-a1 ${c.pod('client').ip}`]: 5 });
  });

  it('without NodePort addresses either, the node address is found among its interfaces (link-local left out)', async () => {
    await agent.kill('SIGTERM');
    agent = await SimAgent.start(c, 'a', { stateFile: agent.stateFile });
    await agent.waitLog((l) => l.msg === 'applied');
    const node = c.node('a').ip;
    expect(agent.logs.find((l) => l.msg?.startsWith('source NAT'))?.address).toBe(node);
    const r = await self.burst(`${CLUSTER_IP}:80`, { count: 5, timeoutMs: 2000, byClient: true });
    expect(r.counts, JSON.stringify(r.errors)).toEqual({ [`web-a1 ${node}`]: 5 });
  });
});
