// A node's pinned maps read with bpftool's raw bytes and decoded here from bpf/sluice_maps.h, so a
// test's view of the datapath does not go through the agent's own layout code or its CLI.
import { execFileSync } from 'node:child_process';
import { PIN_ROOT } from './netns.ts';

/** sl_counters indexes, in the order of the enum in bpf/sluice_maps.h. */
export const COUNTER = {
  ct_create_fail: 0, no_backend_entry: 1, reject: 2, reject_fail: 3, ext_no_local: 4, ext_snat_fail: 5, ext_fib_fail: 6,
} as const;

interface RawEntry { key: string[]; value?: string[]; values?: Array<{ cpu: number; value: string[] }> }

const bytes = (hex: string[]): Buffer => Buffer.from(hex.map((h) => parseInt(h, 16)));

export function dumpPinned(nodeName: string, map: string): Array<{ key: Buffer; value: Buffer; perCpu: Buffer[] }> {
  const out = execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', `${PIN_ROOT}/${nodeName}/${map}`], { encoding: 'utf8', maxBuffer: 256 << 20 });
  // A hash map walked while entries come and go can list a key twice (the walk restarts when its
  // current key was deleted): one row per key, the last seen.
  const rows = new Map<string, { key: Buffer; value: Buffer; perCpu: Buffer[] }>();
  for (const e of JSON.parse(out) as RawEntry[]) {
    const perCpu = (e.values ?? []).map((v) => bytes(v.value));
    rows.set(e.key.join(), { key: bytes(e.key), value: e.value ? bytes(e.value) : Buffer.alloc(0), perCpu });
  }
  return [...rows.values()];
}

/** A node-wide counter: its u64 summed over every CPU. */
export function pinnedCounter(nodeName: string, name: keyof typeof COUNTER): number {
  const e = dumpPinned(nodeName, 'sl_counters').find((x) => x.key.readUInt32LE(0) === COUNTER[name]);
  if (!e) throw new Error(`sl_counters of ${nodeName} has no index ${COUNTER[name]}`);
  return e.perCpu.reduce((n, v) => n + Number(v.readBigUInt64LE(0)), 0);
}

/** sl_services as "vip:port/proto" (struct sl_svc_key) -> backends taking new connections (count). */
export function pinnedFrontends(nodeName: string): Map<string, number> {
  const proto: Record<number, string> = { 6: 'TCP', 17: 'UDP' };
  return new Map(dumpPinned(nodeName, 'sl_services').map(({ key, value }) => [
    `${[...key.subarray(0, 4)].join('.')}:${key.readUInt16LE(4)}/${proto[key[6]!] ?? key[6]}`,
    value.readUInt16LE(12), // after svc_id, maglev_base, maglev_size
  ]));
}

/** How many backends sl_backends holds. */
export function pinnedBackendCount(nodeName: string): number {
  return dumpPinned(nodeName, 'sl_backends').length;
}

/** 16 network-order bytes as IPv6 text (RFC 5952 form, node's URL parser compresses). */
function ip6(b: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** sl_services6 as "[vip]:port/proto" (struct sl_svc6_key: vip[16], port, proto, scope) -> backends taking new connections. */
export function pinnedFrontends6(nodeName: string): Map<string, number> {
  const proto: Record<number, string> = { 6: 'TCP', 17: 'UDP' };
  return new Map(dumpPinned(nodeName, 'sl_services6').map(({ key, value }) => [
    `[${ip6(key.subarray(0, 16))}]:${key.readUInt16LE(16)}/${proto[key[18]!] ?? key[18]}`,
    value.readUInt16LE(12),
  ]));
}

/** sl_backends6 as "[ip]:port" (struct sl_backend6: ip[16], port, proto, flags, svc_id), one per backend id. */
export function pinnedBackends6(nodeName: string): string[] {
  return dumpPinned(nodeName, 'sl_backends6').map(({ value }) => `[${ip6(value.subarray(0, 16))}]:${value.readUInt16LE(16)}`);
}

/** sl_config6's node address (the IPv6 masquerade source), '::' when unset. */
export function pinnedNodeIp6(nodeName: string): string {
  return ip6(dumpPinned(nodeName, 'sl_config6')[0]!.value.subarray(0, 16));
}
