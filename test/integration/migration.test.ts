// Upgrades migrate pinned maps instead of refusing them (docs/datapath.md, "Upgrades"). A node runs
// an earlier layout's datapath (test/fixtures/bpf/sluice-layout-v1.o, -v2.o) with live connections;
// the current agent starts on it and must carry every flow across: 0 failed connections, no
// stall, the conntrack map kept as it is, affinity entries converted (from layout 1), Maglev tables
// rebuilt with 16-bit slots (from both), and `sluice status` saying what was migrated.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as bpf from '../../agent/bpf/libbpf.ts';
import * as L from '../../agent/bpf/layout.ts';
import { pinDir } from '../../agent/datapath.ts';
import { fillMaglev, maglevRunLookup, maglevRunWords } from '../../agent/maglev.ts';
import { LibbpfMap } from '../../agent/maps/libbpf-map.ts';
import { u32Key } from '../../agent/maps/map.ts';
import { SimAgent, writeAtomic } from '../../sim/agent.ts';
import { NODE_BIN, REPO, SimCluster, waitForLine, type PodClient } from '../../sim/cluster.ts';

/** The maps each earlier layout's pins have rebuilt. */
const MIGRATED: Record<number, string[]> = { 1: ['sl_affinity', 'sl_maglev'], 2: ['sl_maglev'] };

for (const from of [1, 2]) {
describe(`upgrade from map layout ${from}`, () => {
  let c: SimCluster;
  let client: PodClient;
  let stateFile: string;
  const WEB_VIP = '10.96.20.10';
  const STICKY_VIP = '10.96.20.20';
  const BACKENDS = ['b1', 'b2', 'b3'];

  const svc = (name: string, vip: string, affinity = 0) => ({
    namespace: 'default', name, type: 'ClusterIP', clusterIps: [vip], affinityClientIp: affinity > 0, affinityTimeoutSeconds: affinity,
    ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: BACKENDS.map((b) => ({ ip: c.pod(b).ip, port: 8080, ready: true, serving: true, nodeName: c.node('a').nodeName })) }],
  });

  function cli(...args: string[]): string {
    return execFileSync(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', c.node('a').nodeName, ...args], { encoding: 'utf8' });
  }

  /**
   * Per frontend: the backend id of each Maglev slot as the pinned maps now give it (16-bit slot,
   * then the run's list of ids), and as the layout-2 table over its backends had it.
   */
  function maglevTables(): Map<string, { run: number[]; want: number[] }> {
    const open = (m: string) => LibbpfMap.openPinned(path.join(pinDir(c.node('a').nodeName), m));
    const [services, backends, maglev] = [open('sl_services'), open('sl_backends'), open('sl_maglev')];
    try {
      const words = L.SL_MAGLEV_CHUNK / 2, out = new Map<string, { run: number[]; want: number[] }>();
      const bes = backends.entries().map((e) => ({ id: e.key.readUInt32LE(0), ...L.backend.decode(e.value) }));
      for (const e of services.entries()) {
        const k = L.svcKey.decode(e.key), v = L.svcValue.decode(e.value);
        const run = Uint32Array.from({ length: maglevRunWords(v.maglev_size, v.count) }, (_, i) => {
          const w = v.maglev_base + i;
          return maglev.lookup(u32Key(Math.floor(w / words)))!.readUInt32LE((w % words) * 4);
        });
        const mine = bes.filter((b) => b.svc_id === v.svc_id);
        const want = new Uint32Array(v.maglev_size);
        fillMaglev(mine.map((b) => `${b.ip}:${b.port}`), v.maglev_size, want, 0, mine.map((b) => b.id));
        out.set(k.vip, { run: Array.from({ length: v.maglev_size }, (_, i) => maglevRunLookup(run, v.maglev_size, i)), want: [...want] });
      }
      return out;
    } finally {
      for (const m of [services, backends, maglev]) m.close();
    }
  }

  /** The kernel's id of a pinned map: the same id means the same map, entries and all. */
  function mapId(name: string): number {
    const fd = bpf.objGet(path.join(pinDir(c.node('a').nodeName), name));
    try { return bpf.mapInfo(fd).id; } finally { bpf.closeFd(fd); }
  }

  beforeAll(async () => {
    c = await SimCluster.create({ nodes: ['a'] });
    await c.addPod('a', 'client');
    for (const b of BACKENDS) {
      await c.addPod('a', b);
      await c.serve(b, { tcp: [8080] });
    }
    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-migrate-')), 'services.json');
    writeAtomic(stateFile, { services: [svc('web', WEB_VIP), svc('sticky', STICKY_VIP, 600)] });
    const old = c.spawnTs(c.node('a').ns, `test/fixtures/layout-v${from}-node.ts`, [c.node('a').nodeName, stateFile]);
    await waitForLine(old, (l) => l.startsWith('ready'), 30000, `layout-${from} node`);
    client = await c.client('client');
  });

  afterAll(async () => {
    await c?.destroy();
    if (stateFile) fs.rmSync(path.dirname(stateFile), { recursive: true, force: true });
  });

    it('carries live connections, conntrack and affinity across; status says what was migrated', async () => {
      const dir = pinDir(c.node('a').nodeName);
      expect(fs.existsSync(path.join(dir, 'sl_meta')), 'layout 1 has no sl_meta, later ones have').toBe(from > 1);
      // Live state under the old programs: held connections, and a client pinned to one backend.
      const held = await client.open(`${WEB_VIP}:80`, 12);
      expect(held.pods).toHaveLength(12);
      const before = await client.burst(`${STICKY_VIP}:80`, { count: 20 });
      expect(before.failed).toBe(0);
      const stickyPods = Object.keys(before.counts);
      expect(stickyPods, `affinity under layout ${from}`).toHaveLength(1);
      const ctId = mapId('sl_ct'), affId = mapId('sl_affinity'), maglevId = mapId('sl_maglev'), svcId = mapId('sl_services');
      const ctBefore = JSON.parse(cli('bpf', 'ct', 'list', '-o', 'json')) as unknown[];
      expect(ctBefore.length).toBeGreaterThanOrEqual(2 * 12);

      // New connections all through the takeover. The bound: a flow that waits for the agent to
      // swap programs must not wait at all, since the old programs serve until the new ones replace
      // them; 1 s on a loaded 2-core machine is far above any scheduling delay and far below the
      // 1 s + 3 s SYN retransmits that a silent drop would show.
      const load = client.burst(`${WEB_VIP}:80`, { durationMs: 8000, concurrency: 4, timeoutMs: 5000 });
      await new Promise((r) => setTimeout(r, 1000));
      const agent = await SimAgent.start(c, 'a', { stateFile });
      const during = await load;
      expect(during.failed, JSON.stringify(during.errors)).toBe(0);
      expect(Math.max(...during.ms), 'slowest connection during the takeover (ms)').toBeLessThan(1000);
      expect((await client.ping()).failed, 'held connections after the takeover').toBe(0);

      const migrated = agent.logs.find((l) => l.msg === 'migrated pinned maps');
      expect(migrated, 'the agent logs the migration').toMatchObject({ from, to: L.SL_LAYOUT_VERSION, maps: MIGRATED[from] });
      // Conntrack kept its map (same kernel id): nothing was copied, nothing could be lost.
      expect(mapId('sl_ct')).toBe(ctId);
      // Affinity was rebuilt in the new layout (from layout 1), its entry carried over: the client keeps its backend.
      if (from === 1) expect(mapId('sl_affinity')).not.toBe(affId);
      else expect(mapId('sl_affinity')).toBe(affId);
      // The Maglev map was rebuilt (16-bit slots); the service entries kept their map and words.
      expect(mapId('sl_maglev')).not.toBe(maglevId);
      expect(mapId('sl_services')).toBe(svcId);
      // Slot for slot the backend each layout-2 table slot named: every hash keeps its backend.
      for (const [vip, table] of maglevTables()) expect(table.run, vip).toEqual(table.want);
      const aff = JSON.parse(cli('bpf', 'affinity', 'list', '-o', 'json')) as Array<{ client: string }>;
      expect(aff.map((a) => a.client)).toContain(c.pod('client').ip);
      const after = await client.burst(`${STICKY_VIP}:80`, { count: 20 });
      expect(Object.keys(after.counts)).toEqual(stickyPods);

      // Recorded and cleaned up.
      const meta = Buffer.alloc(L.meta.size);
      const fd = bpf.objGet(path.join(dir, 'sl_meta'));
      try { expect(bpf.mapLookup(fd, Buffer.alloc(4), meta)).toBe(true); } finally { bpf.closeFd(fd); }
      expect(L.meta.decode(meta).layout_version).toBe(L.SL_LAYOUT_VERSION);
      expect(fs.readdirSync(dir).filter((f) => /-v\d+$/.test(f)), 'aside pins removed').toEqual([]);
      const status = JSON.parse(cli('status', '-o', 'json'));
      expect(status.agent.migration).toMatchObject({ from, to: L.SL_LAYOUT_VERSION, maps: MIGRATED[from] });
      expect(cli('status')).toMatch(new RegExp(`Migrated:\\s+map layout ${from} -> ${L.SL_LAYOUT_VERSION} \\(${MIGRATED[from]![0]}`));

      // A second start finds the current layout and migrates nothing.
      await agent.kill();
      await agent.restart();
      expect(agent.logs.filter((l) => l.msg === 'migrated pinned maps')).toHaveLength(1);
      expect((await client.ping()).failed).toBe(0);
      await client.closeAll();
    });
});
}
