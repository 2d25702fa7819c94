// The harness cleans up after itself when it is interrupted (Ctrl-C: SIGINT) or fails: no
// namespace, cgroup, pinned map, status directory or process of its run is left. A child process builds a
// cluster with a node, a pod and a running agent, then is interrupted or throws.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { cgroupV2Mount } from '../../sim/cgroup.ts';
import { NODE_BIN, REPO } from '../../sim/cluster.ts';
import { listNamespaces, PIN_ROOT, RUN_DIR } from '../../sim/netns.ts';

const SCRIPT = `
  import { SimCluster } from ${JSON.stringify(`${REPO}sim/cluster.ts`)};
  import { SimAgent } from ${JSON.stringify(`${REPO}sim/agent.ts`)};
  const c = await SimCluster.create({ nodes: ['a'] });
  await c.addPod('a', 'p1');
  const a = await SimAgent.start(c, 'a', { args: ['--metrics-addr', 'off'] });
  console.log(JSON.stringify({ runId: c.runId, agent: a.proc.pid }));
  // A line on stdin: fail (an uncaught exception in a timer, as a broken test step would).
  process.stdin.once('data', () => setTimeout(() => { throw new Error('failing on purpose'); }));
  setInterval(() => {}, 1000);
`;

/** Running (not gone, and not a killed process waiting to be reaped). */
function alive(pid: number): boolean {
  try { return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
}

async function runAndStop(how: 'SIGINT' | 'fail'): Promise<{ runId: string; agent: number; code: number | null }> {
  const p = spawn(NODE_BIN, ['--input-type=module', '-e', SCRIPT], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  const up = await new Promise<{ runId: string; agent: number }>((resolve, reject) => {
    readline.createInterface({ input: p.stdout }).on('line', (l) => { if (l.startsWith('{')) resolve(JSON.parse(l)); });
    p.on('exit', () => reject(new Error(`harness exited before it was up: ${err}`)));
  });
  // While up: its namespaces and the agent exist (so the checks below can fail).
  expect(listNamespaces().filter((n) => n.startsWith(`sluice-${up.runId}-`)).length).toBeGreaterThanOrEqual(3);
  expect(fs.readdirSync(cgroupV2Mount()).filter((d) => d.startsWith(`sluice-${up.runId}-`))).toEqual([`sluice-${up.runId}-a`]);
  expect(alive(up.agent)).toBe(true);
  if (how === 'SIGINT') p.kill('SIGINT'); else p.stdin.write('fail\n');
  const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 30000))]);
  return { ...up, code };
}

function leftovers(runId: string, agent: number): string[] {
  const left = listNamespaces().filter((n) => n.startsWith(`sluice-${runId}-`));
  for (const root of [PIN_ROOT, RUN_DIR]) {
    const dirs = fs.existsSync(root) ? fs.readdirSync(root) : [];
    left.push(...dirs.filter((d) => d === runId || d.startsWith(`${runId}-`)).map((d) => `${root}/${d}`));
  }
  left.push(...fs.readdirSync(cgroupV2Mount()).filter((d) => d.startsWith(`sluice-${runId}-`)).map((d) => `cgroup ${d}`));
  if (alive(agent)) left.push(`agent pid ${agent}`);
  return left;
}

describe('harness cleanup', () => {
  for (const how of ['SIGINT', 'fail'] as const) {
    it(`leaves nothing of its run behind after ${how === 'SIGINT' ? 'Ctrl-C (SIGINT)' : 'an uncaught failure'}`, async () => {
      const r = await runAndStop(how);
      expect(r.code, 'the harness exited').not.toBeNull();
      expect(r.code).not.toBe(0);
      expect(leftovers(r.runId, r.agent)).toEqual([]);
    });
  }
});
