// Control plane sync benchmark (bounded: one run, ~10-60 s).
// This process is the control plane: a store holding N services x E endpoints (store-level input,
// as the sources would feed it) and the real gRPC server. One agent runs in a child process (this
// file with --agent) using the real client. Measures:
//  - snapshot: time from the agent starting to dial until it has decoded the full snapshot, and
//    until the control plane has its ack; the snapshot's encoded size;
//  - 200 single-EndpointSlice changes, one at a time: change -> agent received latency (median, p99);
//  - CPU time (user+system) and peak RSS of the control plane process.
// Prints one JSON object to stdout. Usage: node controlplane/bench-sync.ts [--services N] [--endpoints E] [--changes C]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { StateStore } from './store.ts';
import { StateServer, privateSocketAddress } from './server.ts';
import { createMetrics } from './metrics.ts';
import { connectStateStream } from '../agent/stream-client.ts';
import { pb } from '../proto/contract.ts';
import type { KubeEndpointSlice, KubeService } from './model.ts';

const now = (): number => performance.timeOrigin + performance.now();

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

async function agent(): Promise<void> {
  const target = process.argv[process.argv.indexOf('--target') + 1]!;
  const out = (o: object): void => { process.stdout.write(JSON.stringify(o) + '\n'); };
  out({ kind: 'dialing', t: now() });
  const c = connectStateStream({
    target, nodeName: 'bench-node',
    onUpdate: async (u) => {
      const t = now();
      if (u.snapshot) out({ kind: 'snapshot', t, services: u.upserts.length, endpoints: [...u.upserts].reduce((n, s) => n + s.ports.reduce((m, p) => m + p.endpoints.length, 0), 0) });
      else out({ kind: 'delta', t, keys: [...u.upserts].map((s) => `${s.namespace}/${s.name}`), ips: [...u.upserts].map((s) => s.ports[0]?.endpoints[0]?.ip ?? '') });
    },
  });
  process.on('SIGTERM', () => { c.close(); process.exit(0); });
}

function service(i: number): KubeService {
  return {
    metadata: { name: `svc-${i}`, namespace: `ns-${i % 50}` },
    spec: { clusterIP: `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  };
}
function slice(i: number, endpoints: number, gen: number): KubeEndpointSlice {
  return {
    metadata: { name: `svc-${i}-abcde`, namespace: `ns-${i % 50}`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: endpoints }, (_, e) => {
      const n = i * endpoints + e + gen * 7919;
      return {
        addresses: [`10.${128 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`],
        conditions: { ready: true }, nodeName: `node-${e % 20}`,
        targetRef: { kind: 'Pod', namespace: `ns-${i % 50}`, name: `svc-${i}-pod-${e}` },
      };
    }),
  };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const N = arg('services', 10_000);
  const E = arg('endpoints', 10);
  const C = arg('changes', 200);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const store = new StateStore();
  for (let i = 0; i < N; i++) { store.upsertService(service(i)); store.upsertSlice(slice(i, E, 0)); }
  store.markSynced();
  const buildMs = now() - t0;
  const server = new StateServer({ store, logger: pino({ level: 'silent' }), metrics: createMetrics(store) });
  const address = privateSocketAddress();
  await server.listen(address);
  const snapshotBytes = pb.StateUpdate.encode({ version: 1, nonce: 'x', snapshot: true, upserts: [...store.keys()].map((k) => store.viewFor(store.get(k)!, 'bench-node')) }).finish().length;

  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--agent', '--target', address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  let wake: (() => void) | null = null;
  createInterface({ input: child.stdout! }).on('line', (l) => { lines.push(JSON.parse(l) as Record<string, unknown>); wake?.(); });
  const waitLine = async (pred: (l: Record<string, unknown>) => boolean, from: number, ms = 120_000): Promise<Record<string, unknown>> => {
    const end = Date.now() + ms;
    for (;;) {
      for (let i = from; i < lines.length; i++) if (pred(lines[i]!)) return lines[i]!;
      if (Date.now() > end) throw new Error('bench: timed out');
      await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
    }
  };
  const dialing = await waitLine((l) => l.kind === 'dialing', 0);
  const snap = await waitLine((l) => l.kind === 'snapshot', 0);
  while (!(server.agents()[0]?.lastAckedVersion)) await new Promise((r) => setTimeout(r, 1));
  const ackedAt = now();
  const snapshotReceivedMs = (snap.t as number) - (dialing.t as number);
  const snapshotAckedMs = ackedAt - (dialing.t as number);

  const lat: number[] = [];
  for (let c = 0; c < C; c++) {
    const i = (c * 50 + 7) % N;
    const s = slice(i, E, c + 1);
    const key = `ns-${i % 50}/svc-${i}`;
    const ip = s.endpoints![0]!.addresses![0]!;
    const from = lines.length;
    const t = now();
    store.upsertSlice(s);
    const got = await waitLine((l) => l.kind === 'delta' && (l.keys as string[]).includes(key) && (l.ips as string[]).includes(ip), from);
    lat.push((got.t as number) - t);
    // let the ack land so every change is measured alone (no coalescing)
    while (server.agents()[0]?.inflight) await new Promise((r) => setTimeout(r, 1));
  }
  lat.sort((a, b) => a - b);
  const cpu = process.cpuUsage(cpu0);
  const ru = process.resourceUsage();
  child.kill('SIGTERM');
  await server.close();
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  process.stdout.write(JSON.stringify({
    services: N, endpointsPerService: E, totalEndpoints: store.endpointCount,
    storeBuildMs: r2(buildMs),
    snapshotBytes,
    snapshotReceivedMs: r2(snapshotReceivedMs),
    snapshotAckedMs: r2(snapshotAckedMs),
    agentSawServices: snap.services, agentSawEndpoints: snap.endpoints,
    changes: C,
    changeToAgentMs: { median: r2(pct(lat, 50)), p99: r2(pct(lat, 99)), max: r2(lat[lat.length - 1]!) },
    controlPlaneCpuMs: { user: r2(cpu.user / 1000), system: r2(cpu.system / 1000) },
    controlPlaneMaxRssMB: r2(ru.maxRSS / 1024),
    controlPlaneRssNowMB: r2(process.memoryUsage().rss / 1048576),
  }, null, 1) + '\n');
  process.exit(0);
}

if (process.argv.includes('--agent')) void agent();
else main().catch((e: Error) => { process.stderr.write(`bench-sync: ${e.stack ?? e.message}\n`); process.exit(1); });
