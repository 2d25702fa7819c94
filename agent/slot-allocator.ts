// First-fit allocator for Maglev runs in the one big sl_maglev array, counted in 4-byte words (a
// run is its table of u16 slots rounded to a word, then one word per backend id: maglevRunWords()).
// A freed run is held back for a grace period first: a packet that read a service entry just
// before it was replaced may still be indexing the old run.

// Runs are never changed in place once in a list (a changed run is a new object), so a checkpoint
// is a copy of the two lists' references, not of every run: one is taken for every change.
interface Run { readonly start: number; readonly len: number }
export interface AllocatorCheckpoint { readonly free: Run[]; readonly quarantine: Array<Run & { at: number }> }

export class SlotAllocator {
  readonly capacity: number;
  readonly graceMs: number;
  #free: Run[];
  #quarantine: Array<Run & { at: number }> = [];
  #now: () => number;

  constructor(capacity: number, opts: { graceMs?: number; now?: () => number } = {}) {
    this.capacity = capacity;
    this.graceMs = opts.graceMs ?? 1000;
    this.#now = opts.now ?? Date.now;
    this.#free = capacity > 0 ? [{ start: 0, len: capacity }] : [];
  }

  /** Rebuild from the runs in use (adopting pinned maps). */
  static fromUsed(capacity: number, used: Run[], opts: { graceMs?: number; now?: () => number } = {}): SlotAllocator {
    const a = new SlotAllocator(capacity, opts);
    a.#free = [];
    let pos = 0;
    for (const r of [...used].sort((x, y) => x.start - y.start)) {
      if (r.start < pos) throw new Error(`maglev runs overlap at slot ${r.start}`);
      if (r.start > pos) a.#free.push({ start: pos, len: r.start - pos });
      pos = r.start + r.len;
    }
    if (pos > capacity) throw new Error(`maglev run ends at ${pos}, beyond the map's ${capacity} slots`);
    if (pos < capacity) a.#free.push({ start: pos, len: capacity - pos });
    return a;
  }

  /** Slots that can be allocated now (quarantined runs excluded). */
  get available(): number {
    this.#release();
    return this.#free.reduce((s, r) => s + r.len, 0);
  }

  /** Slots freed less than the grace period ago. */
  get quarantined(): number {
    this.#release();
    return this.#quarantine.reduce((s, r) => s + r.len, 0);
  }

  /**
   * Block until every quarantined run is free again (at most the grace period). For a change that
   * fits only once runs freed a moment ago can be reused, such as replacing all services at once.
   */
  settle(): void {
    if (!this.#quarantine.length) return;
    const wait = Math.max(0, this.graceMs - (this.#now() - this.#quarantine.reduce((m, q) => Math.max(m, q.at), -Infinity)));
    if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    this.#release();
  }

  /** The allocator's state, for restore() when a change that allocated and freed runs is undone. */
  checkpoint(): AllocatorCheckpoint {
    return { free: this.#free.slice(), quarantine: this.#quarantine.slice() };
  }

  restore(c: AllocatorCheckpoint): void {
    this.#free = c.free.slice();
    this.#quarantine = c.quarantine.slice();
  }

  /** Start of a free run of `len` slots, or -1 when no run is large enough. */
  alloc(len: number): number {
    this.#release();
    const i = this.#free.findIndex((r) => r.len >= len);
    if (i < 0) return -1;
    const run = this.#free[i]!;
    const start = run.start;
    if (run.len === len) this.#free.splice(i, 1);
    else this.#free[i] = { start: start + len, len: run.len - len };
    return start;
  }

  free(start: number, len: number): void {
    if (len > 0) this.#quarantine.push({ start, len, at: this.#now() });
  }

  #release(): void {
    // Runs are quarantined in time order: the ready ones are a prefix (a clock stepping back only
    // delays a release). Checking the first is all an alloc() pays when none is ready.
    const now = this.#now(), q = this.#quarantine;
    let k = 0;
    while (k < q.length && now - q[k]!.at >= this.graceMs) k++;
    if (!k) return;
    const ready = q.splice(0, k);
    if (ready.length <= 8) {
      for (const r of ready) this.#insert({ start: r.start, len: r.len });
      return;
    }
    // Many at once (a snapshot that replaced every service): one sort and one coalescing pass,
    // not a linear insert each.
    const all = [...this.#free, ...ready.map((r) => ({ start: r.start, len: r.len }))].sort((a, b) => a.start - b.start);
    const free: Run[] = [];
    for (const r of all) {
      const last = free[free.length - 1];
      if (last && last.start + last.len === r.start) free[free.length - 1] = { start: last.start, len: last.len + r.len };
      else free.push(r);
    }
    this.#free = free;
  }

  #insert(run: Run): void {
    const free = this.#free;
    let i = 0;
    while (i < free.length && free[i]!.start < run.start) i++;
    let start = run.start, len = run.len, from = i, to = i;
    // Coalesce with the neighbours (into a new run: the old ones may be in a checkpoint).
    if (i < free.length && start + len === free[i]!.start) { len += free[i]!.len; to = i + 1; }
    if (i > 0 && free[i - 1]!.start + free[i - 1]!.len === start) { start = free[i - 1]!.start; len += free[i - 1]!.len; from = i - 1; }
    free.splice(from, to - from, { start, len });
  }
}
