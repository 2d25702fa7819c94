import { describe, expect, it } from 'vitest';
import { SlotAllocator } from '../../agent/slot-allocator.ts';

describe('SlotAllocator', () => {
  it('allocates first fit and reports exhaustion with -1', () => {
    const a = new SlotAllocator(1000, { graceMs: 0 });
    expect(a.alloc(251)).toBe(0);
    expect(a.alloc(509)).toBe(251);
    expect(a.alloc(251)).toBe(-1);
    expect(a.available).toBe(240);
  });

  it('holds freed runs back for the grace period, then coalesces them', () => {
    let now = 0;
    const a = new SlotAllocator(1000, { graceMs: 1000, now: () => now });
    const x = a.alloc(400), y = a.alloc(400);
    a.free(x, 400);
    a.free(y, 400);
    expect(a.alloc(500)).toBe(-1); // still in quarantine
    now = 1000;
    expect(a.available).toBe(1000);
    expect(a.alloc(1000)).toBe(0); // neighbours were merged back into one run
  });

  it('releases many runs at once (a snapshot that replaced every service) in time order, coalesced', () => {
    let now = 0;
    const a = new SlotAllocator(100 * 251, { graceMs: 1000, now: () => now });
    const runs = Array.from({ length: 100 }, () => a.alloc(251));
    expect(runs.at(-1)).toBe(99 * 251);
    // Freed out of address order, in two waves half a second apart.
    for (const i of [...Array(50).keys()].map((k) => (k * 37) % 100)) a.free(runs[i]!, 251);
    now = 500;
    for (let i = 0; i < 100; i++) if (!Array.from({ length: 50 }, (_, k) => (k * 37) % 100).includes(i)) a.free(runs[i]!, 251);
    now = 1000; // the first wave only
    expect(a.available).toBe(50 * 251);
    expect(a.quarantined).toBe(50 * 251);
    now = 1500;
    expect(a.available).toBe(100 * 251);
    expect(a.alloc(100 * 251)).toBe(0); // every run merged back into one
  });

  it('rebuilds from runs in use and rejects overlaps', () => {
    const a = SlotAllocator.fromUsed(1000, [{ start: 100, len: 100 }, { start: 500, len: 251 }], { graceMs: 0 });
    expect(a.available).toBe(649);
    expect(a.alloc(300)).toBe(200);
    expect(() => SlotAllocator.fromUsed(1000, [{ start: 0, len: 10 }, { start: 5, len: 10 }])).toThrow(/overlap/);
  });

  it('settles: waits out the grace period so freed runs can be reused at once', () => {
    const a = new SlotAllocator(1000, { graceMs: 200 });
    a.free(a.alloc(1000), 1000);
    expect(a.available).toBe(0);
    expect(a.quarantined).toBe(1000);
    const t0 = Date.now();
    a.settle();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150); // it really waited (timer slack allowed)
    expect(a.available).toBe(1000);
  });

  it('restores a checkpoint exactly after allocs, frees and coalescing in between (runs are never changed in place)', () => {
    let now = 0;
    const a = new SlotAllocator(1000, { graceMs: 10, now: () => now });
    const x = a.alloc(100), y = a.alloc(100), z = a.alloc(100);
    a.free(y, 100);
    now = 10;
    expect(a.available).toBe(800); // y's run is back in the free list, where the checkpoint sees it
    const c = a.checkpoint();
    const state = () => ({ available: a.available, quarantined: a.quarantined, first: a.alloc(1) });
    // Split the tail run, coalesce y's hole with freed neighbours, quarantine more.
    expect(a.alloc(50)).toBe(100); // first fit: y's old hole
    a.free(x, 100);
    a.free(z, 100);
    now = 20;
    expect(a.alloc(250)).toBe(150); // the rest of y's hole, z and the tail, coalesced
    a.restore(c);
    const before = state();
    a.restore(c);
    expect(before).toEqual({ available: 800, quarantined: 0, first: 100 });
    expect(state()).toEqual(before);
    expect(a.alloc(700)).toBe(300); // the untouched tail, whole again
  });
});
