// How XDP's next-hop cache is keyed (bpf/lib/next_hop.h): a cached hop must be the one the kernel's
// multipath hash would pick for the flow, so the key holds every field the node's policy hashes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NH_FLAGS, nextHopCacheChoice, readMultipathHashPolicy } from '../../agent/next-hop-cache.ts';

describe('nextHopCacheChoice', () => {
  it('keys by addresses only under the policies that hash addresses only without an skb (0: L3, 2: L3 or inner L3)', () => {
    for (const policy of [0, 2]) {
      expect(nextHopCacheChoice('auto', policy)).toEqual({ flags: NH_FLAGS.NH_BY_ADDRESSES, keyedBy: 'addresses', policy });
    }
  });

  it('keys by the whole flow when the hash reads ports (1: L4, 3: custom fields) or the policy is unknown', () => {
    for (const policy of [1, 3, 7, undefined]) expect(nextHopCacheChoice('auto', policy)).toEqual({ flags: 0, keyedBy: 'flow', policy });
  });

  it('per-flow keys by flow whatever the policy (ip rules choosing by port or protocol); off turns the cache off', () => {
    expect(nextHopCacheChoice('per-flow', 0)).toEqual({ flags: 0, keyedBy: 'flow', policy: 0 });
    expect(nextHopCacheChoice('off', 0)).toEqual({ flags: NH_FLAGS.NH_OFF, keyedBy: 'off', policy: 0 });
  });
});

describe('readMultipathHashPolicy', () => {
  it('reads the sysctl, and gives undefined for a missing or garbled one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-nh-'));
    try {
      fs.writeFileSync(path.join(dir, 'p'), '1\n');
      expect(readMultipathHashPolicy(path.join(dir, 'p'))).toBe(1);
      for (const garbled of ['x\n', '']) {
        fs.writeFileSync(path.join(dir, 'p'), garbled);
        expect(readMultipathHashPolicy(path.join(dir, 'p'))).toBeUndefined();
      }
      expect(readMultipathHashPolicy(path.join(dir, 'missing'))).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
