import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildMaglev, fillMaglev, maglevRunLookup, maglevRunWords, maglevSize, murmur3, writeMaglevRun, MAGLEV_MAX_BACKENDS, MAGLEV_MAX_SIZE } from '../../agent/maglev.ts';

const names = (n: number, prefix = '10.244.1.') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}:8080`);

function slotsPerBackend(table: Int32Array, n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (const i of table) counts[i]!++;
  return counts;
}

/**
 * The population as first written (the paper's Pseudocode 1, modulo arithmetic, the hash over a
 * Buffer of the name's UTF-8): the reference the optimised builder must equal slot for slot, since
 * every node and every agent version must build the same table from the same backends.
 */
function referenceMaglev(names: readonly string[], size: number): Int32Array {
  const hash = (text: string, seed: number): number => {
    const b = Buffer.from(text, 'utf8');
    let h = seed >>> 0;
    const blocks = b.length & ~3;
    const mix = (k: number) => { k = Math.imul(k, 0xcc9e2d51); k = (k << 15) | (k >>> 17); return Math.imul(k, 0x1b873593); };
    for (let i = 0; i < blocks; i += 4) {
      h ^= mix(b.readUInt32LE(i));
      h = (h << 13) | (h >>> 19); h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
    }
    let k = 0;
    for (let i = b.length - 1; i >= blocks; i--) k = (k << 8) | b[i]!;
    if (b.length & 3) h ^= mix(k);
    h ^= b.length;
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
    return h >>> 0;
  };
  const table = new Int32Array(size).fill(-1);
  if (!names.length) return table;
  const order = names.map((_, i) => i).sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
  const offset = order.map((i) => hash(names[i]!, 0x5a17) % size);
  const skip = order.map((i) => (hash(names[i]!, 0xc0ffee) % (size - 1)) + 1);
  const next = order.map(() => 0);
  for (let filled = 0; ;) {
    for (let r = 0; r < order.length; r++) {
      let c = (offset[r]! + next[r]! * skip[r]!) % size;
      while (table[c]! >= 0) { next[r]!++; c = (offset[r]! + next[r]! * skip[r]!) % size; }
      table[c] = order[r]!;
      next[r]!++;
      if (++filled === size) return table;
    }
  }
}

/** A seeded generator (mulberry32), so a failure names inputs that can be rebuilt. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const isPrime = (m: number) => { for (let d = 2; d * d <= m; d++) if (m % d === 0) return false; return m > 1; };

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

  it('builds the same tables as the reference population on random inputs', () => {
    const rand = rng(0x51ce);
    const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const nameOf = () => {
      const kind = rand();
      const port = 1 + Math.floor(rand() * 65535);
      if (kind < 0.6) return `10.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}:${port}`;
      if (kind < 0.8) return `[fd00::${Math.floor(rand() * 65536).toString(16)}]:${port}`;
      if (kind < 0.9) return `pod-${'é☃𝄞'.slice(0, 1 + Math.floor(rand() * 3))}-${Math.floor(rand() * 1e6)}`;
      return 'x'.repeat(Math.floor(rand() * 9));
    };
    for (let round = 0; round < 300; round++) {
      const n = round < 200 ? 1 + Math.floor(rand() * 40) : 1 + Math.floor(rand() * 700);
      const set = new Set<string>();
      while (set.size < n) set.add(nameOf());
      const names = [...set];
      // The agent's sizes, and other primes (a table kept at its old size after backends went).
      let size = maglevSize(n);
      if (rand() < 0.3) { size = pick([2, 3, 5, 7, 11, 101, 211, 1009, 2003]); while (size < n) size = size * 2 + 1; while (!isPrime(size)) size++; }
      const want = referenceMaglev(names, size);
      expect(Buffer.from(buildMaglev(names, size).buffer).equals(Buffer.from(want.buffer)), `round ${round}: ${n} backends, ${size} slots`).toBe(true);
      // Written as ids into a larger region at an offset: the slots around the run are left alone.
      const ids = names.map((_, i) => 1000 + i * 7);
      const out = new Uint32Array(size + 20).fill(0xdeadbeef);
      fillMaglev(names, size, out, 10, ids);
      for (let i = 0; i < 10; i++) expect(out[i] === 0xdeadbeef && out[size + 10 + i] === 0xdeadbeef).toBe(true);
      for (let i = 0; i < size; i++) if (out[10 + i] !== ids[want[i]!]) expect.fail(`round ${round}: slot ${i} holds ${out[10 + i]}, not ${ids[want[i]!]}`);
    }
  });

  it('keeps the tables it has always built (nodes of different versions agree)', () => {
    // Digests of tables built before the population was optimised.
    const digest = (n: number, m: number) => crypto.createHash('sha256').update(Buffer.from(buildMaglev(names(n), m).buffer)).digest('hex').slice(0, 16);
    expect(digest(10, 1009)).toBe('aa9aff6826386174');
    expect(digest(3, 307)).toBe('50426eca6da72e39');
    expect(digest(100, 10007)).toBe('06a7c09b3d12ee96');
    expect(Array.from(buildMaglev(names(10), 1009).slice(0, 12))).toEqual([5, 4, 4, 4, 3, 9, 9, 6, 2, 5, 8, 5]);
  });

  it('a run of 16-bit indexes and a list of ids gives every hash the backend the 32-bit table of ids (layout 2) gave', () => {
    // The same inputs on both sides: the layout-2 table (a backend id per slot, what nodes running
    // the previous agent hold) against the run sl_maglev holds now, read as bpf/lib/lb.h does.
    let seed = 7;
    const rand = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
    const shapes: Array<[number, number]> = [[1, 101], [3, 307], [10, 1009], [10, 1013], [37, 3701], [655, MAGLEV_MAX_SIZE], [2000, MAGLEV_MAX_SIZE]];
    for (const [n, size] of shapes) {
      const ns = names(n, `10.${n % 256}.7.`);
      const ids = ns.map((_, i) => 100_000 + i * 7919 + n);
      const old = new Uint32Array(size);
      fillMaglev(ns, size, old, 0, ids);
      const words = maglevRunWords(size, n);
      expect(words, `${n} backends, M ${size}`).toBe(Math.ceil(size / 2) + n);
      const run = new Uint32Array(words + 2).fill(0xdeadbeef);
      writeMaglevRun(ns, size, ids, run.subarray(1, 1 + words));
      expect(run[0] === 0xdeadbeef && run[words + 1] === 0xdeadbeef, 'nothing written outside the run').toBe(true);
      const view = run.subarray(1, 1 + words);
      // Every slot, then 100,000 random 32-bit hashes (the datapath takes hash % M).
      for (let slot = 0; slot < size; slot++) if (maglevRunLookup(view, size, slot) !== old[slot]) expect.fail(`${n} backends: slot ${slot}`);
      for (let i = 0; i < 100_000; i++) {
        const h = Math.floor(rand() * 2 ** 32);
        if (maglevRunLookup(view, size, h) !== old[h % size]) expect.fail(`${n} backends: hash ${h}`);
      }
    }
  });

  it('a run holds at most 65,535 backends (16-bit slots), and says so', () => {
    expect(MAGLEV_MAX_BACKENDS).toBe(65535);
    const ns = names(MAGLEV_MAX_BACKENDS + 1);
    expect(() => writeMaglevRun(ns, MAGLEV_MAX_SIZE, ns.map((_, i) => i + 1), new Uint32Array(maglevRunWords(MAGLEV_MAX_SIZE, ns.length))))
      .toThrow(/65536 backends do not fit a Maglev run's 16-bit slots \(at most 65535\)/);
  });
});
