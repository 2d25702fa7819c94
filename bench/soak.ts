// Churn soak (issue 17): endpoint changes at a steady rate under connection load, for a bounded time.
//
// A two-node simulated cluster: 8 server pods (4 per node), one client pod per node, a control plane
// on the manifests source and an agent per node. 20 Services without selectors, each with its own
// file holding the Service and a hand-written EndpointSlice; the soak rewrites one file every
// 1/RATE s with a new random non-empty subset of the 8 pods, while both clients open new connections
// to every Service's ClusterIP without pause. Removed pods keep serving (as a pod leaving a Service
// does), so any failed connection is the datapath's or the agent's fault.
//
// The first UDP_SERVICES Services also have a UDP port, so churn also removes UDP backends (whose
// flows the agent forgets at once).
//
// Reports: connections ok/failed, changes written and applied, agent and control plane RSS at start,
// peak during the churn (sampled every 5 s, with a 30 s series) and end, map entry counts at baseline
// and after restoring the initial endpoints.
// Writes bench/results/soak.json. SOAK_SECONDS (default 600) and SOAK_RATE (default 50 changes/s).
import fs from 'node:fs';
import path from 'node:path';
import { SimAgent } from '../sim/agent.ts';
import { NODE_BIN, REPO, SimCluster, type BurstResult, type PodClient } from '../sim/cluster.ts';
import { SimControlPlane } from '../sim/controlplane.ts';
import { sleep, waitFor } from '../sim/netns.ts';
import { manifestsDir, writeManifest } from '../test/fixtures/manifests.ts';
import { realPid, rss } from './lib/proc.ts';
import { execFileSync } from 'node:child_process';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 50);
const SERVICES = 20;
/** The first UDP_SERVICES Services also have a UDP port: their churn removes UDP backends, so the
 *  agent forgets those flows at once (agent/gc.ts forgetRemovedUdp) on every such change. */
const UDP_SERVICES = 5;
/** How often agent and control plane RSS are sampled during the churn (the report keeps the peak). */
const SAMPLE_MS = 5000;
const PODS = Array.from({ length: 8 }, (_, i) => ({ name: `w${i}`, node: i < 4 ? 'a' : 'b' }));
const vip = (i: number): string => `10.96.30.${i + 1}`;
const log = (m: string): void => { process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${m}\n`); };

let c: SimCluster;
const dir = manifestsDir();

function serviceFile(i: number, members: number[]): string[] {
  return [
    `apiVersion: v1\nkind: Service\nmetadata: {name: churn-${i}, namespace: default}\nspec:\n  clusterIP: ${vip(i)}\n  ports: [{name: http, port: 80, targetPort: 8080}${i < UDP_SERVICES ? ', {name: dns, port: 53, targetPort: 5353, protocol: UDP}' : ''}]\n`,
    `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: churn-${i}-x\n  namespace: default\n  labels: {kubernetes.io/service-name: churn-${i}}\naddressType: IPv4\nports: [{name: http, port: 8080, protocol: TCP}${i < UDP_SERVICES ? ', {name: dns, port: 5353, protocol: UDP}' : ''}]\nendpoints:\n${
      members.map((m) => `- {addresses: ["${c.pod(PODS[m]!.name).ip}"], conditions: {ready: true}, nodeName: ${c.node(PODS[m]!.node).nodeName}}`).join('\n')}\n`,
  ];
}

/** Entries per map on a node, read by the CLI from the pinned maps. */
function mapEntries(node: string): Record<string, number> {
  const s = JSON.parse(execFileSync(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', c.node(node).nodeName, 'status', '-o', 'json'], { encoding: 'utf8' })) as { maps: Array<{ map: string; entries: number }> };
  return Object.fromEntries(s.maps.filter((m) => m.map !== 'sl_ct' && m.map !== 'sl_affinity').map((m) => [m.map, m.entries]));
}

/** RSS of a process still running; `exited` when it is gone (a crash the report must show). */
function memory(pid: number): { rss_mb: number } | { exited: true } {
  try {
    return { rss_mb: Math.round(rss(realPid(pid, 'node')).rss / 2 ** 20 * 10) / 10 };
  } catch {
    return { exited: true };
  }
}

async function main(): Promise<void> {
  c = await SimCluster.create({ nodes: ['a', 'b'] });
  for (const p of PODS) { await c.addPod(p.node, p.name); await c.serve(p.name, { tcp: [8080], udp: [5353] }); }
  await c.addPod('a', 'client-a');
  await c.addPod('b', 'client-b');
  const all = PODS.map((_, i) => i);
  for (let i = 0; i < SERVICES; i++) writeManifest(dir, `churn-${i}.yaml`, serviceFile(i, all));
  const cp = await SimControlPlane.start(c, { manifestsDir: dir, args: ['--log-level', 'info', '--rescan-interval', '10'] });
  const agents = await Promise.all(['a', 'b'].map((n) => SimAgent.start(c, n, { controlPlane: cp.address, args: ['--log-level', 'info', '--metrics-addr', 'off'] })));
  for (const a of agents) {
    a.proc.on('exit', (code, signal) => log(`agent on ${a.node.name} exited (code ${code}, signal ${signal}): ${a.stderr.slice(-2000)} ${JSON.stringify(a.logs.slice(-3))}`));
  }
  const clients = await Promise.all(['client-a', 'client-b'].map((p) => c.client(p)));
  for (const cl of clients) await waitFor('services reachable', async () => (await cl.burst(`${vip(SERVICES - 1)}:80`, { count: 3 })).ok === 3, 30000);
  const baseline = { a: mapEntries('a'), b: mapEntries('b') };
  const memStart = { controlplane: memory(cp.proc.pid!), agent_a: memory(agents[0]!.proc.pid!), agent_b: memory(agents[1]!.proc.pid!) };
  log(`baseline maps ${JSON.stringify(baseline)}, memory ${JSON.stringify(memStart)}; churning ${RATE}/s for ${SECONDS} s`);

  // Connection load: each client cycles through the Services in bursts of 2 s until the soak ends.
  const end = Date.now() + SECONDS * 1000;
  const load = { ok: 0, failed: 0, errors: {} as Record<string, number>, failures: [] as BurstResult['failures'] };
  const drive = async (cl: PodClient, offset: number): Promise<void> => {
    for (let k = offset; Date.now() < end; k++) {
      const r = await cl.burst(`${vip(k % SERVICES)}:80`, { durationMs: 2000, count: 100000, concurrency: 4, timeoutMs: 10000 });
      load.ok += r.ok;
      load.failed += r.failed;
      for (const [e, n] of Object.entries(r.errors)) load.errors[e] = (load.errors[e] ?? 0) + n;
      load.failures.push(...r.failures.slice(0, 20 - load.failures.length));
    }
  };
  const drivers = clients.map((cl, i) => drive(cl, i * 7));
  // RSS over the churn: the peak, and a sample every 30 s, so growth shows even when the end is back down.
  const pids = { controlplane: cp.proc.pid!, agent_a: agents[0]!.proc.pid!, agent_b: agents[1]!.proc.pid! };
  const peak: Record<string, number> = {};
  const series: Array<Record<string, number>> = [];
  const sampler = setInterval(() => {
    const now: Record<string, number> = { s: Math.round((Date.now() - t0) / 1000) };
    for (const [k, pid] of Object.entries(pids)) {
      const m = memory(pid);
      if (!('rss_mb' in m)) continue;
      now[k] = m.rss_mb;
      peak[k] = Math.max(peak[k] ?? 0, m.rss_mb);
    }
    if (!series.length || now.s! - series.at(-1)!.s! >= 30) series.push(now);
  }, SAMPLE_MS);

  // Churn: one Service's endpoints rewritten every 1/RATE s, on a fixed schedule (no drift).
  let seed = 17;
  const rand = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; };
  let written = 0;
  const t0 = Date.now();
  let lastReport = t0;
  while (Date.now() < end) {
    const i = Math.floor(rand() * SERVICES);
    const members = all.filter(() => rand() < 0.5);
    writeManifest(dir, `churn-${i}.yaml`, serviceFile(i, members.length ? members : [Math.floor(rand() * PODS.length)]));
    written++;
    if (Date.now() - lastReport > 10000) { lastReport = Date.now(); log(`${Math.round((lastReport - t0) / 1000)} s: ${written} changes, ${load.ok} connections ok, ${load.failed} failed`); }
    const due = t0 + (written * 1000) / RATE;
    await sleep(Math.max(0, due - Date.now()));
  }
  await Promise.all(drivers);
  clearInterval(sampler);
  const churnSeconds = (Date.now() - t0) / 1000;

  // Back to the initial endpoints: the maps must hold exactly what they held at the start.
  for (let i = 0; i < SERVICES; i++) writeManifest(dir, `churn-${i}.yaml`, serviceFile(i, all));
  let after = { a: {}, b: {} } as typeof baseline;
  await waitFor('maps back to baseline', async () => {
    after = { a: mapEntries('a'), b: mapEntries('b') };
    return JSON.stringify(after) === JSON.stringify(baseline);
  }, 60000).catch(() => log(`maps did not return to baseline: ${JSON.stringify(after)}`));
  await sleep(2000);
  const memEnd = { controlplane: memory(cp.proc.pid!), agent_a: memory(agents[0]!.proc.pid!), agent_b: memory(agents[1]!.proc.pid!) };
  const applied = agents.map((a) => a.logs.filter((l) => l.msg === 'applied').length);
  const nacks = agents.map((a) => a.logs.filter((l) => l.msg === 'version not applied; previous state kept').length);

  const result = {
    meta: { date: new Date().toISOString(), seconds: SECONDS, rate_per_s: RATE, services: SERVICES, pods: PODS.length, nodes: 2 },
    changes: { written, achieved_rate_per_s: Math.round((written / churnSeconds) * 10) / 10, applied_updates: { a: applied[0], b: applied[1] }, nacks: { a: nacks[0], b: nacks[1] } },
    connections: { ok: load.ok, failed: load.failed, errors: load.errors, first_failures: load.failures },
    memory: { start: memStart, end: memEnd, peak_rss_mb: peak, rss_mb_every_30s: series },
    maps: { baseline, end: after, back_to_baseline: JSON.stringify(after) === JSON.stringify(baseline) },
    pass: load.failed === 0 && JSON.stringify(after) === JSON.stringify(baseline) && nacks.every((n) => n === 0) &&
      Object.values(memEnd).every((m) => 'rss_mb' in m),
  };
  const out = path.join(REPO, 'bench/results/soak.json');
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  log(`${result.pass ? 'PASS' : 'FAIL'}: ${JSON.stringify({ changes: result.changes, connections: { ok: load.ok, failed: load.failed }, memory: result.memory, maps: result.maps.back_to_baseline })} -> ${out}`);
  await c.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(result.pass ? 0 : 1);
}

main().catch(async (e) => {
  log(`soak failed: ${(e as Error).stack ?? e}`);
  await c?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});
