// How sl_ext_xdp keys its next-hop cache (bpf/lib/next_hop.h) on this node. The cache must give a
// flow the path the kernel's multipath hash would: keyed by addresses alone only when the node's
// net.ipv4.fib_multipath_hash_policy reads addresses alone, otherwise by the whole flow.
import fs from 'node:fs';

export const NEXT_HOP_CACHE_MODES = ['auto', 'per-flow', 'off'] as const;
export type NextHopCacheMode = (typeof NEXT_HOP_CACHE_MODES)[number];

/** NH_TTL_NS of bpf/lib/next_hop.h: how long a cached next hop is used after its lookup. */
export const NEXT_HOP_TTL_MS = 1000;

/** enum nh_flag of bpf/lib/next_hop.h (checked against the object's BTF by the layout test). */
export const NH_FLAGS = { NH_BY_ADDRESSES: 1, NH_OFF: 2 } as const;

/** Multipath hash policies that, without an skb (XDP), read the two addresses only: L3, L3 or inner L3. */
const ADDRESS_ONLY_POLICIES: ReadonlySet<number> = new Set([0, 2]);

export interface NextHopCacheChoice {
  flags: number;
  keyedBy: 'addresses' | 'flow' | 'off';
  /** The node's fib_multipath_hash_policy, when it could be read. */
  policy?: number;
}

/** What the cache is keyed by, for `mode` on a node whose multipath hash policy is `policy`. */
export function nextHopCacheChoice(mode: NextHopCacheMode, policy: number | undefined): NextHopCacheChoice {
  if (mode === 'off') return { flags: NH_FLAGS.NH_OFF, keyedBy: 'off', policy };
  // Unknown policy (no sysctl: a kernel without multipath routing, or no /proc) keys by flow: always right.
  if (mode === 'auto' && policy !== undefined && ADDRESS_ONLY_POLICIES.has(policy)) {
    return { flags: NH_FLAGS.NH_BY_ADDRESSES, keyedBy: 'addresses', policy };
  }
  return { flags: 0, keyedBy: 'flow', policy };
}

/** net.ipv4.fib_multipath_hash_policy of this process's network namespace, or undefined. */
export function readMultipathHashPolicy(file = '/proc/sys/net/ipv4/fib_multipath_hash_policy'): number | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    const v = Number(text);
    return text !== '' && Number.isInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
