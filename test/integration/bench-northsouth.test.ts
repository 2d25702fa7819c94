// Smoke test of the north-south benchmark (bench/northsouth.ts): the quick mode runs end to end into
// a temporary directory, writes every figure for every contender, and leaves no namespace behind.
// No speed is asserted (shared machines are too noisy).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = new URL('../..', import.meta.url).pathname;
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ns-bench-test-'));

afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

function runQuick(): Promise<{ code: number | null; output: string; pid: number }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(REPO, 'bench/northsouth.ts')], {
      cwd: REPO, env: { ...process.env, BENCH_QUICK: '1', BENCH_OUT: out }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    p.stdout.on('data', (d) => { output = (output + String(d)).slice(-20000); });
    p.stderr.on('data', (d) => { output = (output + String(d)).slice(-20000); });
    // Bounded: the quick mode takes about a minute alone, more next to other suites on the 2
    // cores; SIGTERM lets it remove its namespaces.
    const timer = setTimeout(() => p.kill('SIGTERM'), 240_000);
    p.on('exit', (code) => { clearTimeout(timer); resolve({ code, output, pid: p.pid! }); });
  });
}

const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;

describe('north-south bench quick mode', () => {
  it('measures every contender, writes northsouth.json/.md and removes its namespaces', async () => {
    const r = await runQuick();
    expect(r.code, r.output).toBe(0);
    const j = JSON.parse(fs.readFileSync(path.join(out, 'northsouth.json'), 'utf8')) as Record<string, any>;
    for (const k of ['crr', 'throughput_gbps', 'pps', 'meta']) expect(j).toHaveProperty(k);
    for (const name of ['direct', 'direct-remote', 'sluice-xdp', 'sluice-xdp-remote', 'sluice-xdp-remote-uncached', 'sluice-tc', 'iptables', 'nftables']) {
      for (const n of ['1', '1000']) {
        const c = j.crr[name]?.[n], t = j.throughput_gbps[name]?.[n];
        expect(c, `crr ${name} ${n}`).toBeDefined();
        expect(t, `throughput ${name} ${n}`).toBeDefined();
        expect(c.errors, `crr ${name} ${n}: failed connections`).toBe(0);
        for (const k of ['median', 'min', 'max']) {
          expect(positive(c[k]), `crr ${name} ${n} ${k}: ${c[k]}`).toBe(true);
          expect(positive(t[k]), `throughput ${name} ${n} ${k}: ${t[k]}`).toBe(true);
        }
      }
    }
    for (const n of ['1', '1000']) {
      const np = j.nodeport_remote_ratio[n];
      for (const k of ['ratio', 'ratio_same_hops', 'uncached_ratio']) expect(positive(np?.[k]), `nodeport_remote_ratio ${n} ${k}: ${np?.[k]}`).toBe(true);
    }
    for (const name of ['baseline-xdp-tx', 'baseline-xdp-drop', 'sluice-xdp', 'sluice-xdp-remote', 'sluice-xdp-remote-uncached']) {
      const p = j.pps[name];
      expect(p, `pps ${name}`).toBeDefined();
      for (const v of [p.median, p.min, p.max, p.sent_pps.median, p.ns_per_packet.median]) expect(positive(v), `pps ${name}: ${v}`).toBe(true);
    }
    const md = fs.readFileSync(path.join(out, 'northsouth.md'), 'utf8');
    expect(md).toContain('| sluice-xdp |');
    expect(md).toContain('vs baseline XDP_TX');
    // Every namespace of that run (sluice-p<pid>-*) is gone.
    const left = (spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '').split('\n').filter((l) => l.startsWith(`sluice-p${r.pid}-`));
    expect(left).toEqual([]);
    expect(r.output).toContain(`run id p${r.pid}`);
    for (const root of ['/sys/fs/bpf/sluice', '/run/sluice']) {
      const dirs = fs.existsSync(root) ? fs.readdirSync(root) : [];
      expect(dirs.filter((d) => d === `p${r.pid}` || d.startsWith(`p${r.pid}-`)), root).toEqual([]);
    }
  }, 260_000);
});
