// Issue 17, finding 6: the `sluice` CLI as a user runs it, against real pinned maps (two nodes under a
// private pin root in bpffs) and hand-written status files: through a pipe into `head`, with a typo,
// without root, without naming a node, and after its agent died.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Datapath, type Frontend } from '../../agent/datapath.ts';
import { writeStatus, type AgentStatus } from '../../agent/status.ts';
import { STALE_AFTER_MS } from '../../agent/cli/liveness.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'agent/cli/main.ts');
const NODE = process.execPath;
const pinRoot = `/sys/fs/bpf/sluice-cli-${process.pid}`;
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cli-run-'));
const SERVICES = 300;
const dps: Datapath[] = [];

beforeAll(() => {
  fs.mkdirSync(pinRoot, { mode: 0o700 });
  for (const node of ['cli-a', 'cli-b']) {
    const dp = Datapath.open({ node, pinRoot, sizes: { services: 512, backends: 512, maglev: 131072, ct: 64, affinity: 64 } });
    const set: Frontend[] = Array.from({ length: SERVICES }, (_, i) => ({
      vip: `10.96.${i >> 8}.${i & 255}`, port: 80, proto: 'TCP', name: `default/svc-${i}:http`, affinityTimeout: 0,
      backends: [{ ip: `10.244.${i >> 8}.${i & 255}`, port: 8080 }],
    }));
    dp.apply(set);
    dps.push(dp);
  }
}, 60_000);

afterAll(() => {
  for (const dp of dps) dp.close();
  fs.rmSync(pinRoot, { recursive: true, force: true });
  fs.rmSync(runDir, { recursive: true, force: true });
});

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
/** Runs a shell command line, as a user types it. */
function sh(line: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('sh', ['-c', line], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_NAME: '', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const sluice = (args: string): string => `${q(NODE)} ${q(CLI)} --pin-root ${q(pinRoot)} --run-dir ${q(runDir)} ${args}`;

const status = (node: string, pid: number, over: Partial<AgentStatus> = {}): AgentStatus => ({
  node, pid, startedAt: new Date().toISOString(), adopted: false, source: 'control plane',
  controlPlane: { target: 'unix:/run/sluice/cp.sock', connected: true, serverId: 'cp-1', reconnects: 0 },
  appliedVersion: 7, nacked: [], interfaces: [], ...over,
});

describe('sluice CLI (issue 17 finding 6)', () => {
  it('piped into head, ends quietly with status 0', () => {
    // The JSON of 300 services is far above a pipe's 64 kB, so the CLI is still writing when head
    // exits; bash's PIPESTATUS is the CLI's own exit status.
    const r = spawnSync('bash', ['-c', `${sluice('--node-name cli-a service list -o json')} | head -1; echo "cli=\${PIPESTATUS[0]}"`],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_NAME: '' } });
    expect(r.stdout).toBe('[\ncli=0\n');
    expect(r.stderr).toBe('');
  }, 60_000);

  it('says an unknown command is unknown', () => {
    // Also on a host with no maps for its name (the issue's "no Sluice maps for node vm").
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cli-empty-'));
    for (const line of [sluice('--node-name cli-a servce list'), `${q(NODE)} ${q(CLI)} --pin-root ${q(empty)} servce list`]) {
      const r = sh(line);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^sluice: unknown command: servce list\n/);
      expect(r.stderr).not.toMatch(/no Sluice maps/);
    }
    fs.rmSync(empty, { recursive: true });
  });

  it('with several nodes pinned and no --node-name, lists them and asks to choose', () => {
    const r = sh(sluice('service list'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`several nodes have Sluice maps pinned under ${pinRoot}: cli-a, cli-b`);
    expect(r.stderr).toContain('--node-name');
    expect(sh(sluice('service list'), { NODE_NAME: 'cli-b' }).status).toBe(0);
  });

  it('says permission denied when run without root', () => {
    // nobody cannot enter the 0700 pin root: that is a permission problem, not a missing agent.
    for (const args of ['--node-name cli-a service list', 'service list']) {
      const r = sh(`setpriv --reuid=65534 --regid=65534 --clear-groups ${sluice(args)}`);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/permission denied reading .*sluice-cli-.*run as root/);
      expect(r.stderr).not.toMatch(/is the agent running/);
    }
  });

  it('status shows how old its facts are and never calls a dead agent\'s link connected', () => {
    // A live agent (this process) whose status was just written.
    writeStatus(status('cli-a', process.pid), runDir);
    const live = sh(sluice('--node-name cli-a status'));
    expect(live.status).toBe(0);
    expect(live.stdout).toMatch(/Agent: +running \(pid \d+\)/);
    expect(live.stdout).toMatch(/Facts as of: +\S+ \(\d+ s ago\)/);
    expect(live.stdout).toMatch(/Control plane: +unix:\/run\/sluice\/cp.sock connected/);

    // The agent's pid is gone: its last word was "connected".
    const dead = spawnSync(NODE, ['-e', '0']).pid!;
    writeStatus(status('cli-a', dead), runDir);
    const r = sh(sluice('--node-name cli-a status'));
    expect(r.stdout).toMatch(/Agent: +not running \(pid \d+ is not alive\)/);
    expect(r.stdout).toMatch(/Control plane: +agent not running; last known: unix:\/run\/sluice\/cp.sock \(server cp-1\)/);
    expect(r.stdout).not.toMatch(/connected/);
    const j = JSON.parse(sh(sluice('--node-name cli-a status -o json')).stdout) as { agent: { running: boolean; controlPlane: { connected: boolean } } };
    expect(j.agent.running).toBe(false);
    expect(j.agent.controlPlane.connected).toBe(false);

    // The pid is alive (reused, or the agent hung) but the file has not been rewritten for long.
    writeStatus(status('cli-a', process.pid), runDir);
    const file = path.join(runDir, 'cli-a', 'status.json');
    const old = JSON.parse(fs.readFileSync(file, 'utf8')) as AgentStatus;
    old.updatedAt = new Date(Date.now() - STALE_AFTER_MS - 600_000).toISOString();
    fs.writeFileSync(file, JSON.stringify(old));
    const stale = sh(sluice('--node-name cli-a status'));
    expect(stale.stdout).toMatch(/Agent: +not running \(status file not rewritten for \d+ s\)/);
    expect(stale.stdout).toMatch(/Facts as of: .*\(\d+ min ago\)/);
    expect(stale.stdout).not.toMatch(/connected/);
  }, 60_000);
});
