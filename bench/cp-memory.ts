// Control plane memory at scale (issue 14): this process IS the control plane, started exactly as
// controlplane/main.ts starts it (startControlPlane, --source kubernetes: informers
// against the fake API server, gRPC on a private Unix socket). The fake API server
// (test/fixtures/fake-apiserver.ts, loaded with the benchmark's services through bench/lib/kube.ts)
// and the agents (the real stream client, one per node name) run in child processes, so that only
// the control plane's own memory is measured here.
//
// Phases (each after a forced full GC): baseline (modules loaded), synced (informers listed, store
// built), served (every agent has acked its snapshot), changed (C single-EndpointSlice changes went
// through the API server's watch to every agent). Reports process.memoryUsage(), VmRSS and VmHWM
// (peak), RSS by mapping kind and V8's heap by space per phase. With --heap-snapshot FILE it writes a V8 heap snapshot at the end and prints
// its self sizes grouped by constructor / string type (`--role analyze FILE` does that alone).
//
// Usage: node --expose-gc bench/cp-memory.ts [--services N] [--endpoints E] [--agents K]
//          [--changes C] [--heap-snapshot FILE] [--json]
// `make bench` runs it as deployed: compiled to JavaScript, with the Deployment's Node settings
// (bench/lib/deployed.ts); run as .ts, Node's type stripper adds ~18 MiB of its own.
// Bounded: one run; the children are killed on exit.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const num = (name: string, def: number): number => Number(arg(name, String(def)));
const out = (o: object): void => { process.stdout.write(JSON.stringify(o) + '\n'); };
const MiB = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;

// ---- child: the fake API server ------------------------------------------------------------
async function apiRole(): Promise<void> {
  const { benchServices } = await import('./lib/model.ts');
  const { kubeService, kubeSlices, SVC, EPS } = await import('./lib/kube.ts');
  const { FakeApiServer } = await import('../test/fixtures/fake-apiserver.ts');
  const N = num('services', 10_000);
  const E = num('endpoints', 10);
  const K = num('agents', 1);
  const services = benchServices(N, E, { be1: '10.244.1.2', be2: '10.244.1.3' });
  const api = new FakeApiServer();
  for (const s of services) {
    api.upsert(SVC, kubeService(s), { silent: true });
    for (const sl of kubeSlices(s, 'node-0')) api.upsert(EPS, sl, { silent: true });
  }
  for (let k = 0; k < K; k++) api.upsert('/api/v1/nodes', { metadata: { name: `node-${k}`, labels: { 'kubernetes.io/hostname': `node-${k}` } }, status: { addresses: [{ type: 'InternalIP', address: `192.168.0.${k + 1}` }] } }, { silent: true });
  await api.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cpmem-'));
  out({ kind: 'api', kubeconfig: api.writeKubeconfig(dir, 'cpmem') });
  // Commands on stdin: "change I G" replaces service I's slice with generation G of its endpoints.
  createInterface({ input: process.stdin }).on('line', (l) => {
    const [cmd, a, b] = l.split(' ');
    if (cmd !== 'change') return;
    const s = services[Number(a)]!;
    const g = Number(b);
    const moved = { ...s, ports: s.ports.map((p) => ({ ...p, endpoints: p.endpoints.map((e, i) => (i === 0 ? { ...e, ip: `10.250.${(g >> 8) & 255}.${g & 255}` } : e)) })) };
    for (const sl of kubeSlices(moved, 'node-0')) api.upsert(EPS, sl);
    out({ kind: 'changed', service: `${s.namespace}/${s.name}`, ip: moved.ports[0]!.endpoints[0]!.ip });
  });
  process.stdin.on('end', () => process.exit(0));
}

// ---- child: the agents (real stream clients) -----------------------------------------------
async function agentsRole(): Promise<void> {
  const { connectStateStream } = await import('../agent/stream-client.ts');
  const target = arg('target', '');
  const K = num('agents', 1);
  for (let k = 0; k < K; k++) {
    const node = `node-${k}`;
    connectStateStream({
      target, nodeName: node,
      onUpdate: async (u) => {
        if (u.snapshot) out({ kind: 'snapshot', node, services: u.upserts.length, endpoints: [...u.upserts].reduce((n, s) => n + s.ports.reduce((m, p) => m + p.endpoints.length, 0), 0) });
        else out({ kind: 'delta', node, ips: [...u.upserts].flatMap((s) => s.ports.flatMap((p) => p.endpoints.map((e) => e.ip))) });
      },
    });
  }
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

// ---- heap snapshot summary -----------------------------------------------------------------
interface HeapSnap { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] }

/** Self sizes of a heap snapshot grouped by constructor name (objects) or node type (strings, arrays, code...). */
export function summarizeHeap(file: string, top = 25): { total_mib: number; groups: { what: string; count: number; mib: number }[] } {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as HeapSnap;
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = f.length, iType = f.indexOf('type'), iName = f.indexOf('name'), iSize = f.indexOf('self_size');
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    const size = snap.nodes[i + iSize]!;
    total += size;
    const name = snap.strings[snap.nodes[i + iName]!]!;
    const what = type === 'object' || type === 'closure' ? `${type} ${name.slice(0, 60)}` : type === 'native' ? `native ${name.slice(0, 40)}` : `(${type})`;
    const g = groups.get(what) ?? { count: 0, bytes: 0 };
    g.count++; g.bytes += size;
    groups.set(what, g);
  }
  const sorted = [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top);
  return { total_mib: MiB(total), groups: sorted.map(([what, g]) => ({ what, count: g.count, mib: MiB(g.bytes) })) };
}

// ---- the control plane (this process) ------------------------------------------------------
function procStatus(): { rss: number; hwm: number } {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Resident memory by mapping kind (/proc/self/smaps): files (code, libraries), [heap] (brk malloc), anonymous (V8 heap pages, malloc arenas, mmapped buffers). */
function smaps(): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = '';
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) { const n = head[1]!; kind = n.startsWith('/') ? 'file' : n === '' ? 'anon' : n; continue; }
    const m = /^(Rss|LazyFree):\s+(\d+) kB/.exec(line);
    if (m) { const k = m[1] === 'Rss' ? kind : 'lazyfree (MADV_FREE, reclaimable)'; out[k] = (out[k] ?? 0) + Number(m[2]) * 1024; }
  }
  return Object.fromEntries(Object.entries(out).filter(([, b]) => b >= 1 << 20).map(([k, b]) => [k, MiB(b)]));
}

interface Phase { phase: string; rss_by_mapping_mib: Record<string, number>; heap_spaces_used_mib: Record<string, number>; rss_mib: number; peak_rss_mib: number; heap_used_mib: number; heap_total_mib: number; external_mib: number; array_buffers_mib: number; ms: number }

async function main(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const N = num('services', 10_000);
  const E = num('endpoints', 10);
  const K = num('agents', 1);
  const C = num('changes', 50);
  const snapFile = arg('heap-snapshot', '');
  const t0 = performance.now();
  const { startControlPlane } = await import('../controlplane/main.ts');
  const { privateSocketAddress } = await import('../controlplane/server.ts');
  const { pino } = await import('pino');
  const phases: Phase[] = [];
  const measure = (phase: string): Phase => {
    gc(); gc();
    const m = process.memoryUsage();
    const p = procStatus();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().filter((x) => x.space_used_size >= 1 << 20).map((x) => [x.space_name, MiB(x.space_used_size)]));
    const r: Phase = { phase, rss_by_mapping_mib: smaps(), heap_spaces_used_mib: spaces, rss_mib: MiB(p.rss), peak_rss_mib: MiB(p.hwm), heap_used_mib: MiB(m.heapUsed), heap_total_mib: MiB(m.heapTotal), external_mib: MiB(m.external), array_buffers_mib: MiB(m.arrayBuffers), ms: Math.round(performance.now() - t0) };
    phases.push(r);
    process.stderr.write(`cp-memory: ${JSON.stringify(r)}\n`);
    return r;
  };
  measure('baseline');

  const children: ChildProcess[] = [];
  const kill = (): void => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); };
  process.on('exit', kill);
  const lines = (c: ChildProcess): { wait: (pred: (l: Record<string, unknown>) => boolean, what: string, ms?: number) => Promise<Record<string, unknown>>; seen: Record<string, unknown>[] } => {
    const seen: Record<string, unknown>[] = [];
    let wake: (() => void) | null = null;
    createInterface({ input: c.stdout! }).on('line', (l) => { try { seen.push(JSON.parse(l) as Record<string, unknown>); } catch { /* not ours */ } wake?.(); });
    let from = 0;
    return {
      seen,
      wait: async (pred, what, ms = 600_000) => {
        const end = Date.now() + ms;
        for (;;) {
          for (; from < seen.length; from++) if (pred(seen[from]!)) return seen[from++]!;
          if (Date.now() > end || c.exitCode !== null) throw new Error(`cp-memory: no ${what}`);
          await new Promise<void>((r) => { wake = r; setTimeout(r, 200); });
        }
      },
    };
  };
  const nodeArgs = ['--max-old-space-size=4096', SELF];
  // The children are not the control plane: they do not get its Node settings.
  const { NODE_OPTIONS: _o, GLIBC_TUNABLES: _g, ...childEnv } = process.env;
  const api = spawn(process.execPath, [...nodeArgs, '--role', 'api', '--services', String(N), '--endpoints', String(E), '--agents', String(K)], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv });
  children.push(api);
  const apiOut = lines(api);
  const kubeconfig = (await apiOut.wait((l) => l.kind === 'api', 'API server')).kubeconfig as string;
  const tList = performance.now();

  const listen = privateSocketAddress('sluice-cpmem-');
  const cp = await startControlPlane({
    source: 'kubernetes', kubeconfig, serviceCidr: '10.96.0.0/12', serviceCidr6: 'fd00:10:96::/112', podCidr: '10.244.0.0/16', nodePortRange: '30000-32767',
    maxManifestBytes: 1 << 20, rescanIntervalS: 10, listen, insecureListen: false, logLevel: 'warn',
  }, pino({ level: 'warn' }));
  while (!cp.store.synced) await new Promise((r) => setTimeout(r, 50));
  const syncMs = performance.now() - tList;
  measure('synced');

  const tServe = performance.now();
  const agents = spawn(process.execPath, ['--max-old-space-size=4096', SELF, '--role', 'agents', '--target', listen, '--agents', String(K)], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv });
  children.push(agents);
  const agOut = lines(agents);
  let snapshotServices = 0;
  for (let k = 0; k < K; k++) snapshotServices = (await agOut.wait((l) => l.kind === 'snapshot', `snapshot ${k}`)).services as number;
  while (cp.server.agents().length < K || cp.server.agents().some((a) => a.lastAckedVersion === 0)) await new Promise((r) => setTimeout(r, 20));
  const serveMs = performance.now() - tServe;
  measure('served');

  for (let c = 0; c < C; c++) {
    const i = (c * 97 + 3) % Math.max(1, N - 1);
    api.stdin!.write(`change ${i} ${c + 1}\n`);
    const ch = await apiOut.wait((l) => l.kind === 'changed', 'change');
    for (let k = 0; k < K; k++) await agOut.wait((l) => l.kind === 'delta' && (l.ips as string[]).includes(ch.ip as string), `delta ${c}`);
  }
  measure('changed');
  let heap: ReturnType<typeof summarizeHeap> | undefined;
  if (snapFile) {
    v8.writeHeapSnapshot(snapFile);
    heap = summarizeHeap(snapFile);
  }
  const result = {
    services: N, endpoints_per_service: E, agents: K, changes: C, snapshot_services: snapshotServices,
    store_services: cp.store.size, store_endpoints: cp.store.endpointCount,
    sync_ms: Math.round(syncMs), serve_ms: Math.round(serveMs),
    node: process.version, compiled: SELF.endsWith('.js'), exec_argv: process.execArgv, node_options: process.env.NODE_OPTIONS ?? '', glibc_tunables: process.env.GLIBC_TUNABLES ?? '',
    phases, heap_snapshot: heap,
  };
  await cp.stop();
  api.stdin!.end();
  agents.stdin!.end();
  kill();
  out(result);
  process.exit(0);
}

const role = arg('role', '');
if (role === 'api') void apiRole();
else if (role === 'agents') void agentsRole();
else if (role === 'analyze') out(summarizeHeap(process.argv[process.argv.indexOf('analyze') + 1]!));
else main().catch((e: Error) => { process.stderr.write(`cp-memory: ${e.stack ?? e.message}\n`); process.exit(1); });
