// Pin directories in bpffs, which refuses names holding a dot: a node named as an FQDN (as EKS and
// many clouds name nodes) must still get its maps, and the CLI must find them under the same name.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as bpf from '../../agent/bpf/libbpf.ts';
import { DROP_NAMES } from '../../agent/bpf/layout.ts';
import * as L from '../../agent/bpf/layout.ts';
import { addrSlot, ip4Bytes } from '../../agent/addr-filter.ts';
import { u32Key } from '../../agent/maps/map.ts';
import { Datapath, DEFAULT_PIN_ROOT, pinDir } from '../../agent/datapath.ts';
import { NODE_BIN, REPO } from '../../sim/cluster.ts';

describe('pin directories', () => {
  it('hold the maps of a node whose name has dots, and the CLI reads them by that name', () => {
    const node = `p${process.pid}-pins.ec2.internal`; // removed with this run's other pins by the harness
    const dir = pinDir(node);
    expect(dir).toBe(`${DEFAULT_PIN_ROOT}/p${process.pid}-pins_ec2_internal`);
    const dp = Datapath.open({ node, sizes: { services: 64, backends: 64, maglev: 4096, ct: 64, affinity: 64 } });
    try {
      dp.apply([{ vip: '10.96.0.1', port: 443, proto: 'TCP', name: 'default/kubernetes:https', affinityTimeout: 0, backends: [{ ip: '10.0.0.1', port: 6443 }] }]);
      const rows = JSON.parse(execFileSync(NODE_BIN, [`${REPO}agent/cli/main.ts`, '--node-name', node, 'service', 'list', '-o', 'json'], { encoding: 'utf8' }));
      expect(rows.map((r: { frontend: string }) => r.frontend)).toEqual(['10.96.0.1:443/TCP']);
    } finally {
      dp.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('replace a drop-reason counter array pinned with fewer reasons (an older agent) and adopt the other maps', () => {
    const node = `p${process.pid}-drops`;
    const dir = pinDir(node);
    const sizes = { services: 64, backends: 64, maglev: 4096, ct: 64, affinity: 64 };
    const idOf = (m: string) => { const fd = bpf.objGet(`${dir}/${m}`); try { return bpf.mapInfo(fd); } finally { bpf.closeFd(fd); } };
    try {
      Datapath.open({ node, sizes }).close();
      const ct = idOf('sl_ct').id;
      // sl_drops as an agent that knew two reasons pinned it.
      fs.rmSync(`${dir}/sl_drops`);
      execFileSync('bpftool', ['map', 'create', `${dir}/sl_drops`, 'type', 'percpu_array', 'key', '4', 'value', '8', 'entries', '2', 'name', 'sl_drops']);
      expect(idOf('sl_drops').maxEntries).toBe(2);
      Datapath.open({ node, sizes }).close();
      expect(idOf('sl_drops').maxEntries).toBe(DROP_NAMES.length);
      expect(idOf('sl_ct').id).toBe(ct);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('replace an address filter pinned at its old size (2 x 1,024 words) and set the bits of the frontends already pinned', () => {
    const node = `p${process.pid}-filter`;
    const dir = pinDir(node);
    const sizes = { services: 64, backends: 64, maglev: 4096, ct: 64, affinity: 64 };
    const idOf = (m: string) => { const fd = bpf.objGet(`${dir}/${m}`); try { return bpf.mapInfo(fd); } finally { bpf.closeFd(fd); } };
    try {
      const first = Datapath.open({ node, sizes });
      first.apply([{ vip: '10.96.0.1', port: 443, proto: 'TCP', name: 'default/kubernetes:https', affinityTimeout: 0, backends: [{ ip: '10.0.0.1', port: 6443 }] }]);
      first.close();
      const svc = idOf('sl_services').id;
      // sl_addr_filter as an agent from before it grew pinned it: 65,536 bits per kind, all clear.
      fs.rmSync(`${dir}/sl_addr_filter`);
      execFileSync('bpftool', ['map', 'create', `${dir}/sl_addr_filter`, 'type', 'array', 'key', '4', 'value', '8', 'entries', '2048', 'name', 'sl_addr_filter']);
      const dp = Datapath.open({ node, sizes });
      try {
        expect(idOf('sl_addr_filter').maxEntries).toBe(2 * L.SL_ADDR_FILTER_WORDS);
        expect(idOf('sl_services').id).toBe(svc);
        const { word, bit } = addrSlot(L.SL_ADDR_FRONTEND, ip4Bytes('10.96.0.1'));
        const v = dp.maps.sl_addr_filter.lookup(u32Key(word));
        expect(((v?.readBigUInt64LE(0) ?? 0n) & bit) !== 0n, 'the pinned frontend has its bit in the new filter').toBe(true);
      } finally {
        dp.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
