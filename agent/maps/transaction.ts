// Map writes with an undo log: every write first records what it replaces (the previous value or
// its absence), and rollback() puts those back in reverse order, so a change that fails in the
// middle leaves the maps exactly as they were (but for resetBatch's entries, which nothing reads:
// the counters of service ids no frontend holds). Reverse order matters for readers: the datapath
// publishes in dependency order (backends, Maglev run, service entry), so undoing backwards
// unpublishes the service entry before what it referenced changes back.
import { LibbpfError } from '../bpf/libbpf.ts';
import { BPF_ANY, type BpfMap, type U32Region, type UpdateFlag } from './map.ts';

/**
 * One write's undo, or a batch's: the batch keeps its keys and previous values packed (one Buffer
 * each, a presence byte per key, or none when every key was present), not two Buffers per key: a
 * snapshot of 100,000 backends otherwise holds 200,000 small Buffers until it commits. A batch of
 * keys known to be new keeps only its keys.
 */
type Undo = { map: BpfMap; key: Buffer; prev: Buffer | undefined }
  | { map: BpfMap; keys: Buffer; count: number; prevs: Buffer; present: Uint8Array | undefined }
  | { map: BpfMap; inserted: Buffer; count: number };

/** A map write that failed, naming the map and the operation. */
export class MapWriteError extends Error {
  readonly map: string;
  readonly op: string;
  readonly errno: number;
  constructor(map: string, op: string, cause: unknown) {
    super(`${op} on ${map} failed: ${why(cause)}`, { cause });
    this.name = 'MapWriteError';
    this.map = map;
    this.op = op;
    this.errno = cause instanceof LibbpfError ? cause.errno : 0;
  }
}

/** The kernel's reason without the operation LibbpfError puts first (the caller names it). */
function why(e: unknown): string {
  if (e instanceof LibbpfError) return e.message.startsWith(`${e.op}: `) ? e.message.slice(e.op.length + 2) : e.message;
  return e instanceof Error ? e.message : String(e);
}

export class MapTransaction {
  #log: Undo[] = [];

  /** Writes recorded so far (each key of a batch is one). */
  get size(): number {
    return this.#log.reduce((n, u) => n + ('key' in u ? 1 : u.count), 0);
  }

  update(map: BpfMap, key: Buffer, value: Buffer, flags: UpdateFlag = BPF_ANY): void {
    this.#record(map, key);
    this.#run(map, 'update', () => map.update(key, value, flags));
  }

  /**
   * Write a key this transaction has already written through update() (so logged): not logged
   * again, since undoing the first write restores what was there before the transaction.
   */
  overwrite(map: BpfMap, key: Buffer, value: Buffer): void {
    this.#run(map, 'update', () => map.update(key, value, BPF_ANY));
  }

  delete(map: BpfMap, key: Buffer): void {
    this.#record(map, key);
    this.#run(map, 'delete', () => map.delete(key));
  }

  /**
   * @prevs: the values the keys hold now, when the caller knows them (read in bulk, or written by
   * it: its view of the map), packed as `values`; every key is then taken as present and logged with
   * its value, without a lookup per key. Otherwise each key is looked up first.
   */
  updateBatch(map: BpfMap, keys: Buffer, values: Buffer, count: number, prevs?: Buffer): void {
    if (!count) return;
    if (prevs) this.#logBatch(map, keys, count, prevs); else this.#recordBatch(map, keys, count);
    this.#run(map, 'batch update', () => map.updateBatch(keys, values, count));
  }

  /** overwrite() for a batch: keys this transaction has already logged, written again, not logged. */
  overwriteBatch(map: BpfMap, keys: Buffer, values: Buffer, count: number): void {
    if (!count) return;
    this.#run(map, 'batch update', () => map.updateBatch(keys, values, count));
  }

  /**
   * Add entries whose keys the caller knows are absent (ids it has just allocated, keys its view of
   * the map does not hold; the kernel's batch update takes no BPF_NOEXIST): no lookup per key to
   * record; undone by deleting every key of the batch, written or not.
   */
  insertBatch(map: BpfMap, keys: Buffer, values: Buffer, count: number): void {
    if (!count) return;
    this.#log.push({ map, inserted: Buffer.from(keys.subarray(0, count * map.keySize)), count });
    this.#run(map, 'batch update', () => map.updateBatch(keys, values, count));
  }

  /**
   * Overwrite array entries nothing reads while they hold what they hold (the counters of service
   * ids no frontend has): not logged, so no lookup per key; a rollback leaves the new values, which
   * are what the next frontend to take such an id writes anyway.
   */
  resetBatch(map: BpfMap, keys: Buffer, values: Buffer, count: number): void {
    if (!count) return;
    this.#run(map, 'batch update', () => map.updateBatch(keys, values, count));
  }

  /**
   * @prevs as for updateBatch(): the values the keys hold, known to the caller (what it wrote), so
   * that recording a delete of 100,000 backends costs no lookup each; a rollback writes them back.
   */
  deleteBatch(map: BpfMap, keys: Buffer, count: number, prevs?: Buffer): void {
    if (!count) return;
    if (prevs) this.#logBatch(map, keys, count, prevs); else this.#recordBatch(map, keys, count);
    this.#run(map, 'batch delete', () => map.deleteBatch(keys, count));
  }

  /**
   * Write `values` into a run of shared u32 slots (the Maglev slots): memory, cannot fail. Not
   * logged: the run must be one just allocated (SlotAllocator), which no service entry references
   * until the publishing write and which rollback gives back to the allocator, so its old contents
   * are nobody's. (A copy per run would double a snapshot's memory: 40 MiB at 10,000 x 10.)
   */
  writeRegion(region: U32Region, base: number, values: Uint32Array): void {
    region.write(base, values);
  }

  /** Keep everything written: the log is dropped. */
  commit(): void {
    this.#log = [];
  }

  /**
   * Undo every write, newest first, and empty the log. Best effort past an undo that fails: returns
   * what could not be undone.
   */
  rollback(): string[] {
    const errors: string[] = [];
    const undo = (map: BpfMap, key: Buffer, prev: Buffer | undefined) => {
      try {
        if (prev) map.update(key, prev, BPF_ANY);
        else map.delete(key);
      } catch (e) {
        errors.push(`${map.name} key ${key.toString('hex')}: ${(e as Error).message}`);
      }
    };
    for (const u of this.#log.reverse()) {
      if ('key' in u) { undo(u.map, u.key, u.prev); continue; }
      if ('inserted' in u) {
        try {
          u.map.deleteBatch(u.inserted, u.count);
        } catch (e) {
          errors.push(`${u.map.name} ${u.count} inserted keys: ${(e as Error).message}`);
        }
        continue;
      }
      const { map, keys, prevs, present } = u, ks = map.keySize, vs = map.valueSize;
      for (let i = u.count - 1; i >= 0; i--) {
        undo(map, keys.subarray(i * ks, (i + 1) * ks), !present || present[i] ? prevs.subarray(i * vs, (i + 1) * vs) : undefined);
      }
    }
    this.#log = [];
    return errors;
  }

  #record(map: BpfMap, key: Buffer): void {
    this.#log.push({ map, key: Buffer.from(key), prev: map.lookup(key) });
  }

  #logBatch(map: BpfMap, keys: Buffer, count: number, prevs: Buffer): void {
    const ks = map.keySize, vs = map.valueSize;
    if (prevs.length < count * vs) throw new RangeError(`${map.name}: ${count} previous values need ${count * vs} bytes, got ${prevs.length}`);
    this.#log.push({ map, keys: Buffer.from(keys.subarray(0, count * ks)), count, prevs: Buffer.from(prevs.subarray(0, count * vs)), present: undefined });
  }

  #recordBatch(map: BpfMap, keys: Buffer, count: number): void {
    const ks = map.keySize, vs = map.valueSize;
    const u = { map, keys: Buffer.from(keys.subarray(0, count * ks)), count, prevs: Buffer.alloc(count * vs), present: new Uint8Array(count) };
    for (let i = 0; i < count; i++) {
      const prev = map.lookup(u.keys.subarray(i * ks, (i + 1) * ks));
      if (prev) { prev.copy(u.prevs, i * vs); u.present[i] = 1; }
    }
    this.#log.push(u);
  }

  #run(map: BpfMap, op: string, write: () => void): void {
    try {
      write();
    } catch (e) {
      throw new MapWriteError(map.name, op, e);
    }
  }
}
