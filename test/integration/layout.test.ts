// The map layouts and constants live in bpf/sluice_maps.h and are mirrored once in
// agent/bpf/layout.ts; the FFI structs are declared once in agent/bpf/libbpf.ts. These tests hold
// both mirrors to what the compilers say, for every datapath object.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { structSizes } from '../../agent/bpf/libbpf.ts';
import { ALL_STRUCTS, COUNTER_NAMES, DROP_NAMES, ENUMS, EVENT_MAPS, EVENT_REASONS, MAP_NAMES, MAPS, SOCKET_STORAGE_MAPS } from '../../agent/bpf/layout.ts';
import * as L from '../../agent/bpf/layout.ts';
import { datapathObjects, PRIVATE_MAPS } from '../../agent/bpf/objects.ts';
import { Datapath, DEFAULT_PIN_ROOT, DEFAULT_SIZES } from '../../agent/datapath.ts';

interface BtfType {
  id: number; kind: string; name?: string; size?: number; type_id?: number; nr_elems?: number;
  members?: Array<{ name: string; type_id: number; bits_offset: number }>;
  values?: Array<{ name: string; val: number }>;
  vars?: Array<{ type_id: number }>;
}

function btfTypes(object: string): Map<number, BtfType> {
  const out = execFileSync('bpftool', ['btf', 'dump', 'file', object, '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return new Map((JSON.parse(out).types as BtfType[]).map((t) => [t.id, t]));
}

function sizeOf(types: Map<number, BtfType>, id: number): number {
  const t = types.get(id)!;
  switch (t.kind) {
    case 'TYPEDEF': case 'CONST': case 'VOLATILE': return sizeOf(types, t.type_id!);
    case 'ARRAY': return sizeOf(types, t.type_id!) * t.nr_elems!;
    default: return t.size!;
  }
}

/** The sl_* enums: name -> constant -> value. */
function enumsOf(types: Map<number, BtfType>): Record<string, Record<string, number>> {
  return Object.fromEntries([...types.values()].filter((t) => t.kind === 'ENUM' && t.name?.startsWith('sl_'))
    .map((t) => [t.name!, Object.fromEntries(t.values!.map((v) => [v.name, v.val]))]));
}

/** BPF_MAP_TYPE_PROG_ARRAY: an object's own tail-call table (the IPv6 halves), pinned apart (agent/bpf/objects.ts PROGRAM_ARRAYS). */
const PROG_ARRAY = 3;

/**
 * The pinned map definitions in .maps, in declaration order. libbpf's __uint(max_entries, N) is a
 * member `int (*max_entries)[N]`, __type(key, T) a member `T *key` (none in a ring buffer: size 0).
 * Program arrays are left out: they belong to their object, not to the pinned datapath.
 */
function mapsOf(types: Map<number, BtfType>): Array<{ name: string; entries: number; key: number; value: number }> {
  const sec = [...types.values()].find((t) => t.kind === 'DATASEC' && t.name === '.maps')!;
  const uint = (members: BtfType['members'], m: string) => types.get(types.get(members!.find((x) => x.name === m)!.type_id)!.type_id!)!.nr_elems!;
  return sec.vars!.filter((v) => uint(types.get(types.get(v.type_id)!.type_id!)!.members, 'type') !== PROG_ARRAY).map((v) => {
    const variable = types.get(v.type_id)!;
    const members = types.get(variable.type_id!)!.members!;
    const target = (m: string) => types.get(members.find((x) => x.name === m)!.type_id)!.type_id!;
    const size = (m: string) => (members.some((x) => x.name === m) ? sizeOf(types, target(m)) : 0);
    return {
      name: variable.name!, entries: types.get(target('max_entries'))!.nr_elems!,
      key: size('key'), value: size('value'),
    };
  });
}

for (const object of datapathObjects()) {
  describe(`${path.basename(object)}: map layouts`, () => {
    const types = btfTypes(object);
    for (const codec of ALL_STRUCTS) {
      it(`${codec.name} in TypeScript matches the BTF clang emitted`, () => {
        const s = [...types.values()].find((t) => t.kind === 'STRUCT' && t.name === codec.name);
        expect(s, `struct ${codec.name} in ${object}`).toBeDefined();
        expect(codec.size).toBe(s!.size);
        const btf = s!.members!.map((m) => ({ name: m.name, offset: m.bits_offset / 8, size: sizeOf(types, m.type_id) }));
        // An array member (sl_maglev_chunk.id[16]) is mirrored as one field per element.
        const ts = codec.fields.map((f) => ({ name: f.name, offset: f.offset, size: f.size }));
        if (btf.length === 1 && ts.length > 1) {
          expect(ts.reduce((n, f) => n + f.size, 0)).toBe(btf[0]!.size);
          expect(ts[0]!.offset).toBe(btf[0]!.offset);
        } else {
          expect(ts).toEqual(btf);
        }
      });
    }
  });

  describe(`${path.basename(object)}: constants mirrored from C`, () => {
    const types = btfTypes(object);
    const enums = enumsOf(types);

    it('every enum of sluice_maps.h (sizes, scopes, flags, conntrack directions) has its values in layout.ts', () => {
      expect(Object.keys(enums).sort()).toEqual([...Object.keys(ENUMS), 'sl_counter', 'sl_drop', 'sl_event_reason'].sort());
      for (const [name, values] of Object.entries(ENUMS)) expect(enums[name], `enum ${name}`).toEqual(values);
    });

    it('counter names follow enum sl_counter, in its order', () => {
      const byValue = Object.entries(enums.sl_counter!).sort((a, b) => a[1] - b[1]).map(([n]) => n);
      expect(byValue).toEqual([...COUNTER_NAMES.map((n) => `SL_CNT_${n.toUpperCase()}`), 'SL_CNT_MAX']);
      const drops = Object.entries(enums.sl_drop!).sort((a, b) => a[1] - b[1]).map(([n]) => n);
      expect(drops).toEqual([...DROP_NAMES.map((n) => `SL_DROP_${n.toUpperCase()}`), 'SL_DROP_MAX']);
    });

    it('event reason names follow enum sl_event_reason, in its order', () => {
      const byValue = Object.entries(enums.sl_event_reason!).sort((a, b) => a[1] - b[1]).map(([n]) => n);
      expect(byValue).toEqual([...EVENT_REASONS.map((n) => `SL_EV_REASON_${n.toUpperCase()}`), 'SL_EV_REASON_MAX']);
    });

    it('map names, key/value sizes and default max_entries are those of the map definitions', () => {
      const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
      // Maps private to this object (PRIVATE_MAPS): named there; the agent writes one u32 to sl_nh_config.
      const own = Object.entries(PRIVATE_MAPS).filter(([, o]) => o === path.basename(object)).map(([m]) => m);
      const all = mapsOf(types);
      expect(all.filter((m) => m.name in PRIVATE_MAPS).map((m) => m.name).sort()).toEqual(own.sort());
      const nhConfig = all.find((m) => m.name === 'sl_nh_config');
      if (nhConfig) expect(nhConfig).toEqual({ name: 'sl_nh_config', entries: 1, key: 4, value: 4 });
      expect(all.filter((m) => !(m.name in PRIVATE_MAPS)).sort(byName)).toEqual([
        ...MAP_NAMES.map((name) => {
          const m = MAPS[name];
          return { name, entries: m.entries, key: m.key?.size ?? 4, value: m.value?.size ?? 8 };
        }),
        ...Object.entries(EVENT_MAPS).map(([name, m]) => ({
          name, entries: m.entries, key: m.ringbuf ? 0 : 4, value: m.value?.size ?? 0,
        })),
        ...Object.entries(SOCKET_STORAGE_MAPS).map(([name, m]) => ({ name, entries: m.entries, key: 4, value: m.value.size })),
      ].sort(byName));
    });

    it("the agent's default sizes are the header's", () => {
      const s = enums.sl_size!;
      expect(DEFAULT_SIZES).toEqual({
        services: s.SL_MAX_SERVICES, backends: s.SL_MAX_BACKENDS, maglev: s.SL_MAGLEV_SLOTS, ct: s.SL_MAX_CT, affinity: s.SL_MAX_AFFINITY,
        sockRev: enums.sl_sock_size!.SL_MAX_SOCK_REV, ct6: enums.sl_size6!.SL_MAX_CT6,
      });
    });
  });
}

describe('libbpf structs declared for koffi', () => {
  it('have the sizes C gives them', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-sizes-'));
    const src = path.join(dir, 'sizes.c');
    fs.writeFileSync(src, `#include <stdio.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
int main(void) {
  printf("{\\"bpf_tc_hook\\":%zu,\\"bpf_tc_opts\\":%zu,\\"bpf_map_batch_opts\\":%zu,\\"bpf_xdp_attach_opts\\":%zu}\\n",
         sizeof(struct bpf_tc_hook), sizeof(struct bpf_tc_opts), sizeof(struct bpf_map_batch_opts), sizeof(struct bpf_xdp_attach_opts));
  return 0;
}
`);
    execFileSync('cc', [src, '-o', path.join(dir, 'sizes')]);
    const c = JSON.parse(execFileSync(path.join(dir, 'sizes'), { encoding: 'utf8' }));
    fs.rmSync(dir, { recursive: true, force: true });
    expect(structSizes).toEqual(c);
  });
});

describe('pinned maps of another layout', () => {
  it('of a newer layout version: the agent refuses to guess at a downgrade', () => {
    const node = `p${process.pid}-newer`; // removed with this run's other pins by the harness
    const dir = path.join(DEFAULT_PIN_ROOT, node);
    fs.mkdirSync(dir, { recursive: true });
    try {
      const meta = path.join(dir, 'sl_meta');
      execFileSync('bpftool', ['map', 'create', meta, 'type', 'array', 'key', '4', 'value', String(L.meta.size), 'entries', '1', 'name', 'sl_meta']);
      const value = L.meta.encode({ layout_version: L.SL_LAYOUT_VERSION + 1 });
      execFileSync('bpftool', ['map', 'update', 'pinned', meta, 'key', 'hex', '00', '00', '00', '00', 'value', 'hex', ...[...value].map((b) => b.toString(16).padStart(2, '0'))]);
      expect(() => Datapath.open({ node })).toThrow(new RegExp(`layout version ${L.SL_LAYOUT_VERSION + 1}, newer than this agent's ${L.SL_LAYOUT_VERSION}`));
      expect(fs.readdirSync(dir), 'nothing created or moved').toEqual(['sl_meta']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('that no migration step explains make the agent refuse to start with an error naming the directory and the remedy', () => {
    const node = `p${process.pid}-layout`; // removed with this run's other pins by the harness
    const dir = path.join(DEFAULT_PIN_ROOT, node);
    fs.mkdirSync(dir, { recursive: true });
    try {
      // sl_ct as an older datapath might have pinned it: a 24-byte value instead of today's.
      execFileSync('bpftool', ['map', 'create', path.join(dir, 'sl_ct'), 'type', 'lru_hash', 'key', '16', 'value', '24', 'entries', '1024', 'name', 'sl_ct']);
      expect(() => Datapath.open({ node })).toThrow(/have another layout[\s\S]*Remove that directory[\s\S]*couldn't reuse pinned map/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
