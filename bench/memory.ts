// Where the agent's memory goes (issue 14): one agent on a simulated node, programmed from a state
// file with COUNT services of EP endpoints (the bench's shape, bench/lib/model.ts), then asked for its
// memory breakdown (bench/lib/memhook.mjs) and the BPF maps' bytes_memlock.
//
//   COUNT=10000 EP=10 node bench/memory.ts            default map sizes
//   COUNT=10000 SIZES=bench node bench/memory.ts      the sizes bench/run.ts used before 2026-11-29
//                                                      (12,522 services, 125,033 backends, 10,725,112
//                                                      Maglev slots, 262,144 conntrack)
//   COUNT=100000 EP=10 SIZES=fit node bench/memory.ts sizes that hold COUNT x EP with 25% room (as
//                                                      bench/programming.ts sizes its maps; 1M
//                                                      backends: about a minute)
// The agent runs as the image runs it: compiled to JavaScript (bench/lib/deployed.ts) with the
// launcher's Node flags (sim/agent.ts AGENT_NODE_FLAGS). AGENT=ts runs agent/main.ts through Node's
// type stripper instead (as the tests do; ~18 MiB more RSS); AGENT_MAIN=/x/agent/main.js runs another
// compiled agent (e.g. another checkout laid out by deploy/image/assemble.sh). SLUICE_AGENT_NODE_FLAGS
// replaces the launcher's Node flags (e.g. "--max-semi-space-size=4 --optimize-for-size").
// MEMHOOK_HEAPSNAPSHOT=1 keeps the agent's heap snapshot (after a full GC) as ./agent-<pid>.heapsnapshot.
// Prints one JSON line. Everything lives in a sluice-<pid>-* namespace, removed at the end.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SimAgent } from '../sim/agent.ts';
import { REPO, SimCluster } from '../sim/cluster.ts';
import { sleep } from '../sim/netns.ts';
import { maglevSize } from '../agent/maglev.ts';
import { compiledAgent } from './lib/deployed.ts';
import { benchServices, stateFile } from './lib/model.ts';
import { realPid } from './lib/proc.ts';

const COUNT = Number(process.env.COUNT ?? 10000), EP = Number(process.env.EP ?? 10);
const FIT_SIZES = ['--max-services', String(Math.ceil((COUNT + 16) * 1.25)), '--max-backends', String(Math.ceil((COUNT * EP + 16) * 1.25)),
  '--maglev-slots', String(Math.ceil((COUNT + 2) * maglevSize(EP) * 1.05) + 4 * maglevSize(EP))];
const BENCH_SIZES = ['--max-services', '12522', '--max-backends', '125033', '--maglev-slots', '10725112', '--max-conntrack', '262144'];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-memory-'));
const main = process.env.AGENT === 'ts' ? undefined : process.env.AGENT_MAIN ?? compiledAgent(path.join(dir, 'js'));
const cluster = await SimCluster.create({ nodes: ['m'] });
try {
  const file = path.join(dir, 'state.json');
  fs.writeFileSync(file, stateFile(benchServices(COUNT, EP, { be1: '10.200.0.1', be2: '10.200.0.2' })));
  // AGENT_NODE_OPTIONS: V8 flags to try on the agent (e.g. --max-semi-space-size=1).
  process.env.NODE_OPTIONS = `--expose-gc --import ${path.join(REPO, 'bench/lib/memhook.mjs')} ${process.env.AGENT_NODE_OPTIONS ?? ''}`;
  process.env.MEMHOOK_DIR = dir;
  const agent = await SimAgent.start(cluster, 'm', {
    stateFile: file, readyTimeoutMs: 120000, main,
    args: ['--log-level', 'info', '--metrics-addr', 'off', '--healthz-addr', 'off', ...(process.env.SIZES === 'bench' ? BENCH_SIZES : process.env.SIZES === 'fit' ? FIT_SIZES : [])],
  });
  delete process.env.NODE_OPTIONS;
  const applied = await agent.waitLog((l) => l.msg === 'applied', 300000);
  // SETTLE_MS: how long after "applied" the memory is read (V8's memory reducer starts 8 s after
  // allocation slows down and hands pooled pages back).
  await sleep(Number(process.env.SETTLE_MS ?? 3000));
  const pid = realPid(agent.proc.pid!, 'node');
  process.kill(pid, 'SIGUSR2');
  const out = path.join(dir, `mem-${pid}.json`);
  for (let i = 0; i < 120 && !fs.existsSync(out); i++) await sleep(500);
  await sleep(200);
  const mem = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>;
  // MEMHOOK_HEAPSNAPSHOT=1: the agent's heap snapshot is kept, as agent-<pid>.heapsnapshot here.
  if (process.env.MEMHOOK_HEAPSNAPSHOT === '1') fs.copyFileSync(path.join(dir, `heap-${pid}.heapsnapshot`), `agent-${pid}.heapsnapshot`);
  const pins = `/sys/fs/bpf/sluice/${cluster.node('m').nodeName}`;
  const maps: Record<string, number> = {};
  for (const f of fs.readdirSync(pins)) {
    const j = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', path.join(pins, f)], { encoding: 'utf8' })) as { bytes_memlock?: number };
    if (j.bytes_memlock) maps[f] = +(j.bytes_memlock / 2 ** 20).toFixed(1);
  }
  const total = +Object.values(maps).reduce((a, b) => a + b, 0).toFixed(1);
  process.stdout.write(`${JSON.stringify({ services: COUNT, endpoints: EP, sizes: process.env.SIZES ?? 'default', agent: main ?? 'agent/main.ts (type-stripped)', applyMs: applied.ms, ...mem, bpfMapsMiB: total, bpfMaps: maps })}\n`);
  await agent.kill('SIGTERM');
} finally {
  await cluster.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
}
