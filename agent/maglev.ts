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

/**
 * Backends one frontend may have: a Maglev slot holds a backend's index in the frontend's list as a
 * u16 (sl_maglev_chunk), and sl_svc_value.count is a u16. Past MAGLEV_MAX_SIZE backends some get no
 * slot at all (M < N), as before slots were 16 bits wide.
 */
export const MAGLEV_MAX_BACKENDS = 65535;

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * Table size for `backends` backends: the smallest prime of at least SLOTS_PER_BACKEND slots per
 * backend (a prime, so every skip of the permutation reaches every slot), capped at MAGLEV_MAX_SIZE.
 * Each slot is 2 bytes of sl_maglev (plus 4 per backend for the list of ids, maglevRunWords()):
 * 10 backends take 1,009 slots, a run of 515 words (2,060 bytes).
 */
export function maglevSize(backends: number): number {
  if (backends * SLOTS_PER_BACKEND >= MAGLEV_MAX_SIZE) return MAGLEV_MAX_SIZE;
  // Asked twice per frontend of every change (capacity check, then programming): found once per count.
  let m = sizes.get(backends);
  if (m !== undefined) return m;
  m = Math.max(2, backends * SLOTS_PER_BACKEND);
  while (!isPrime(m)) m++;
  sizes.set(backends, m);
  return m;
}

/** maglevSize() by backend count (at most MAGLEV_MAX_SIZE / SLOTS_PER_BACKEND entries). */
const sizes = new Map<number, number>();

/** MurmurHash3 x86 32-bit of a UTF-8 string: stable across nodes, processes and versions. */
export function murmur3(text: string, seed: number): number {
  // Backend names are ASCII ("ip:port"): their UTF-8 bytes are the char codes, no Buffer needed.
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0x80) return murmur3Bytes(Buffer.from(text, 'utf8'), seed);
  }
  return murmur3Ascii(text, seed);
}

const C1 = 0xcc9e2d51, C2 = 0x1b873593;

/** One 4-byte block mixed into @h. */
function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1); k = (k << 15) | (k >>> 17); k = Math.imul(k, C2);
  h ^= k; h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The tail (1-3 bytes, little-endian in @k) and the finalizer. */
function finish(h: number, k: number, rest: number, len: number): number {
  if (rest) { k = Math.imul(k, C1); k = (k << 15) | (k >>> 17); k = Math.imul(k, C2); h ^= k; }
  h ^= len;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3 of an ASCII string, read by char code (integer arithmetic only, no closure or Buffer). */
function murmur3Ascii(text: string, seed: number): number {
  const len = text.length, blocks = len & ~3;
  let h = seed | 0;
  for (let i = 0; i < blocks; i += 4) {
    h = mixBlock(h, text.charCodeAt(i) | (text.charCodeAt(i + 1) << 8) | (text.charCodeAt(i + 2) << 16) | (text.charCodeAt(i + 3) << 24));
  }
  let k = 0;
  for (let i = len - 1; i >= blocks; i--) k = (k << 8) | text.charCodeAt(i);
  return finish(h, k, len & 3, len);
}

function murmur3Bytes(b: Buffer, seed: number): number {
  const len = b.length, blocks = len & ~3;
  let h = seed | 0;
  for (let i = 0; i < blocks; i += 4) h = mixBlock(h, b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
  let k = 0;
  for (let i = len - 1; i >= blocks; i--) k = (k << 8) | b[i]!;
  return finish(h, k, len & 3, len);
}

// Scratch for fillMaglev, grown as needed and reused (a load from nothing builds 10,000 tables):
// per-slot "taken" flags, and per-backend rank order, next candidate, skip and value.
let taken = new Uint8Array(0);
let order = new Int32Array(0), pos = new Int32Array(0), skip = new Int32Array(0), value = new Int32Array(0);

function grow(size: number, n: number): void {
  if (taken.length < size) taken = new Uint8Array(size);
  if (order.length < n) {
    const m = Math.max(n, 2 * order.length, 16);
    order = new Int32Array(m); pos = new Int32Array(m); skip = new Int32Array(m); value = new Int32Array(m);
  }
}

/** order[0..n) = 0..n-1 sorted by name (UTF-16 code unit order, as `<` compares). */
function rank(names: readonly string[], n: number): void {
  if (n > 32) {
    const o = names.map((_, i) => i).sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
    for (let i = 0; i < n; i++) order[i] = o[i]!;
    return;
  }
  // Insertion sort: a service's few backends, without allocating.
  for (let i = 0; i < n; i++) {
    const name = names[i]!;
    let j = i;
    while (j > 0 && names[order[j - 1]!]! > name) { order[j] = order[j - 1]!; j--; }
    order[j] = i;
  }
}

/**
 * Maglev's population (the paper's Pseudocode 1) over `names`, written into `out` from `base`:
 * slot i gets `ids[k]` (or k without ids) for the backend names[k] the table assigns it. The names
 * are ranked in sorted order, so the caller's order does not matter. No names: nothing is written.
 */
export function fillMaglev(names: readonly string[], size: number, out: Int32Array | Uint32Array | Uint16Array, base: number, ids?: ArrayLike<number>): void {
  const n = names.length;
  if (n === 0) return;
  grow(size, n);
  rank(names, n);
  const t = taken, p = pos, sk = skip, v = value;
  t.fill(0, 0, size);
  // Backend r's permutation is (offset + j * skip) mod size for j = 0, 1, ...: `pos` holds its
  // next candidate, stepped by one addition (no multiply or modulo in the hot loop).
  for (let r = 0; r < n; r++) {
    const k = order[r]!, name = names[k]!;
    p[r] = murmur3(name, 0x5a17) % size;
    sk[r] = (murmur3(name, 0xc0ffee) % (size - 1)) + 1;
    v[r] = ids ? ids[k]! : k;
  }
  let filled = 0;
  for (;;) {
    for (let r = 0; r < n; r++) {
      // Walk backend r's permutation to its next free slot. The wrap is branch-free: c + step - size
      // is negative exactly when c + step did not reach size (a random branch, mispredicted half the time).
      const step = sk[r]! - size;
      let c = p[r]!;
      while (t[c] !== 0) { c += step; c += (c >> 31) & size; }
      t[c] = 1;
      out[base + c] = v[r]!;
      c += step; c += (c >> 31) & size;
      p[r] = c;
      if (++filled === size) return;
    }
  }
}

/**
 * Build a lookup table of `size` slots (a prime) over `names`; each slot holds an index into
 * `names` as given (-1 everywhere when there are none).
 */
export function buildMaglev(names: readonly string[], size: number): Int32Array {
  const table = new Int32Array(size).fill(-1);
  fillMaglev(names, size, table, 0);
  return table;
}

/**
 * 4-byte words of a frontend's run in sl_maglev (bpf/sluice_maps.h, sl_maglev_chunk): `size` u16
 * slots rounded up to a word, then one word per backend id. The unit the slot allocator counts.
 */
export function maglevRunWords(size: number, backends: number): number {
  return size ? Math.ceil(size / 2) + backends : 0;
}

/**
 * A frontend's run as sl_maglev holds it, into `out` (maglevRunWords(size, names.length) words):
 * the table of buildMaglev(names, size), each slot the index of its backend in `names` as a u16,
 * then `ids` (ids[k] is names[k]'s backend id), one word each. The same table as buildMaglev's, so
 * the same backend for every hash as when slots held the ids themselves (layout 2).
 */
export function writeMaglevRun(names: readonly string[], size: number, ids: ArrayLike<number>, out: Uint32Array): void {
  const n = names.length;
  if (n > MAGLEV_MAX_BACKENDS) throw new RangeError(`${n} backends do not fit a Maglev run's 16-bit slots (at most ${MAGLEV_MAX_BACKENDS})`);
  const half = Math.ceil(size / 2);
  if (out.length < half + n) throw new RangeError(`a run of ${half + n} words does not fit ${out.length}`);
  const slots = new Uint16Array(out.buffer, out.byteOffset, 2 * half);
  // The padding slot of an odd M is never read; zero keeps the map's bytes deterministic.
  slots[2 * half - 1] = 0;
  fillMaglev(names, size, slots, 0);
  for (let k = 0; k < n; k++) out[half + k] = ids[k]!;
}

/**
 * The backend id a run written by writeMaglevRun() gives hash `hash`: what bpf/lib/lb.h
 * maglev_slot_id() reads, for tests and tools.
 */
export function maglevRunLookup(run: Uint32Array, size: number, hash: number): number {
  const slots = new Uint16Array(run.buffer, run.byteOffset, 2 * Math.ceil(size / 2));
  return run[Math.ceil(size / 2) + slots[(hash >>> 0) % size]!]!;
}
