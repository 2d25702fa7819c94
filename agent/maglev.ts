// Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4). Every node builds the same
// table from the same backend names, and removing one backend moves little more than its own
// share of slots, so flows that were not on it mostly keep their backend.

/**
 * Slots per backend: Maglev's population gives every backend ⌊M/N⌋ or ⌈M/N⌉ of the M slots, so
 * the most loaded backend holds at most N/M above its fair share; M ≥ 100·N keeps that within 1%
 * (the paper's M ≫ N), and keeps the slots that move to a surviving backend when one is removed near
 * 3% (50·N would save half the table but moves up to 12%; docs/benchmarks.md, "BPF maps").
 */
export const SLOTS_PER_BACKEND = 100;

/** The largest table: 65,521 (a prime below 2^16); past 655 backends the 1% bound loosens. */
export const MAGLEV_MAX_SIZE = 65521;

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * Table size for `backends` backends: the smallest prime of at least SLOTS_PER_BACKEND slots per
 * backend (a prime, so every skip of the permutation reaches every slot), capped at MAGLEV_MAX_SIZE.
 * Each slot is 4 bytes of sl_maglev: 10 backends take 1,009 slots.
 */
export function maglevSize(backends: number): number {
  if (backends * SLOTS_PER_BACKEND >= MAGLEV_MAX_SIZE) return MAGLEV_MAX_SIZE;
  let m = Math.max(2, backends * SLOTS_PER_BACKEND);
  while (!isPrime(m)) m++;
  return m;
}

/** MurmurHash3 x86 32-bit of a UTF-8 string: stable across nodes, processes and versions. */
export function murmur3(text: string, seed: number): number {
  // Backend names are ASCII ("ip:port"): their UTF-8 bytes are the char codes, no Buffer needed.
  let ascii = true;
  for (let i = 0; i < text.length && ascii; i++) ascii = text.charCodeAt(i) < 0x80;
  return ascii ? murmur3Bytes(text.length, (i) => text.charCodeAt(i), seed) : murmur3Bytes(Buffer.byteLength(text), bufferAt(Buffer.from(text, 'utf8')), seed);
}

const bufferAt = (b: Buffer) => (i: number) => b[i]!;

function murmur3Bytes(len: number, at: (i: number) => number, seed: number): number {
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51, c2 = 0x1b873593;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = (at(i) | (at(i + 1) << 8) | (at(i + 2) << 16) | (at(i + 3) << 24)) >>> 0;
    k = Math.imul(k, c1); k = (k << 15) | (k >>> 17); k = Math.imul(k, c2);
    h ^= k; h = (h << 13) | (h >>> 19); h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  const rest = len & 3;
  if (rest) {
    let k = 0;
    for (let i = rest - 1; i >= 0; i--) k = (k << 8) | at(blocks + i);
    k = Math.imul(k, c1); k = (k << 15) | (k >>> 17); k = Math.imul(k, c2); h ^= k;
  }
  h ^= len;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Build a lookup table of `size` slots (a prime) over `names`; each slot holds an index into
 * `names` as given. The names are ranked in sorted order so the caller's order does not matter.
 */
export function buildMaglev(names: readonly string[], size: number): Int32Array {
  const table = new Int32Array(size).fill(-1);
  const n = names.length;
  if (n === 0) return table;
  const order = names.map((_, i) => i).sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
  // Backend r's permutation is (offset + j * skip) mod size for j = 0, 1, ...: `pos` holds its
  // next candidate, stepped by one addition (no multiply or modulo in the hot loop).
  const skip = new Int32Array(n), pos = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const name = names[order[r]!]!;
    pos[r] = murmur3(name, 0x5a17) % size;
    skip[r] = (murmur3(name, 0xc0ffee) % (size - 1)) + 1;
  }
  let filled = 0;
  for (;;) {
    for (let r = 0; r < n; r++) {
      // Walk backend r's permutation to its next free slot.
      const step = skip[r]!;
      let c = pos[r]!;
      while (table[c]! >= 0) {
        c += step;
        if (c >= size) c -= size;
      }
      table[c] = order[r]!;
      c += step;
      pos[r] = c >= size ? c - size : c;
      if (++filled === size) return table;
    }
  }
}

/**
 * buildMaglev(names, size) written straight into `out` from `base` as `ids[index]` (the mmapped
 * sl_maglev slots hold backend ids), without an intermediate table of ids.
 */
export function writeMaglev(names: readonly string[], size: number, ids: ArrayLike<number>, out: Uint32Array, base: number): void {
  const table = buildMaglev(names, size);
  for (let i = 0; i < size; i++) out[base + i] = ids[table[i]!]!;
}
