import { describe, expect, it } from 'vitest';
import { buildMaglev, maglevSize, murmur3, MAGLEV_MAX_SIZE } from '../../agent/maglev.ts';

const names = (n: number, prefix = '10.244.1.') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}:8080`);

function slotsPerBackend(table: Int32Array, n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (const i of table) counts[i]!++;
  return counts;
}

describe('maglev', () => {
  it('sizes tables at the smallest prime of 100 slots per backend or more', () => {
    expect(maglevSize(1)).toBe(101);
    expect(maglevSize(3)).toBe(307);
    expect(maglevSize(10)).toBe(1009);
    expect(maglevSize(100)).toBe(10007);
    expect(maglevSize(655)).toBe(65519);
    expect(maglevSize(100000)).toBe(MAGLEV_MAX_SIZE);
    for (let n = 1; n <= 700; n++) {
      const m = maglevSize(n);
      for (let d = 2; d * d <= m; d++) expect(m % d, `${m} is prime`).not.toBe(0);
      expect(m, `n=${n}`).toBeGreaterThanOrEqual(Math.min(100 * n, MAGLEV_MAX_SIZE));
    }
  });

  it('murmur3 matches the reference vectors', () => {
    // Published test vectors of MurmurHash3_x86_32.
    expect(murmur3('', 0)).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('hello', 0)).toBe(0x248bfa47);
    expect(murmur3('Hello, world!', 1234)).toBe(0xfaf6cdb3);
  });

  it('fills every slot and gives each backend M/N slots within 1%', () => {
    for (const n of [1, 2, 3, 4, 7, 10, 33, 100]) {
      const m = maglevSize(n);
      const table = buildMaglev(names(n), m);
      expect(table.every((v) => v >= 0 && v < n)).toBe(true);
      const ideal = m / n;
      for (const c of slotsPerBackend(table, n)) {
        expect(Math.abs(c - ideal) / ideal, `n=${n} count=${c} ideal=${ideal}`).toBeLessThanOrEqual(0.01);
      }
    }
  });

  it('does not depend on the order backends are given in', () => {
    const a = names(10);
    const b = [...a].reverse();
    const ta = buildMaglev(a, 1021), tb = buildMaglev(b, 1021);
    for (let s = 0; s < 1021; s++) expect(a[ta[s]!]).toBe(b[tb[s]!]);
  });

  it('removing one of N backends remaps close to 1/N of the slots', () => {
    for (const n of [4, 10, 50]) {
      const before = names(n);
      const after = before.filter((_, i) => i !== 1);
      const m = maglevSize(n); // same M before and after, as the agent keeps it while it fits
      const tb = buildMaglev(before, m), ta = buildMaglev(after, m);
      let moved = 0, movedOff = 0;
      for (let s = 0; s < m; s++) {
        const was = before[tb[s]!]!, now = after[ta[s]!]!;
        if (was !== now) {
          moved++;
          if (was !== before[1]) movedOff++;
        }
      }
      // Slots of the removed backend must move (1/N); Maglev adds only a little more churn.
      expect(moved / m).toBeGreaterThanOrEqual(1 / n - 0.01);
      expect(moved / m, `n=${n}`).toBeLessThanOrEqual(1 / n + 0.06);
      expect(movedOff / m, `n=${n}: slots of surviving backends that moved`).toBeLessThanOrEqual(0.06);
    }
  });
});
