// Map writes with an undo log: every write first records what it replaces (the previous value or
// its absence), and rollback() puts those back in reverse order, so a change that fails in the
// middle leaves the maps exactly as they were. Reverse order matters for readers: the datapath
// publishes in dependency order (backends, Maglev run, service entry), so undoing backwards
// unpublishes the service entry before what it referenced changes back.
import { LibbpfError } from '../bpf/libbpf.ts';
import { BPF_ANY, type BpfMap, type UpdateFlag } from './map.ts';

type Undo = { map: BpfMap; key: Buffer; prev: Buffer | undefined };

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

  /** Writes recorded so far. */
  get size(): number {
    return this.#log.length;
  }

  update(map: BpfMap, key: Buffer, value: Buffer, flags: UpdateFlag = BPF_ANY): void {
    this.#record(map, key);
    this.#run(map, 'update', () => map.update(key, value, flags));
  }

  delete(map: BpfMap, key: Buffer): void {
    this.#record(map, key);
    this.#run(map, 'delete', () => map.delete(key));
  }

  updateBatch(map: BpfMap, keys: Buffer, values: Buffer, count: number): void {
    for (let i = 0; i < count; i++) this.#record(map, keys.subarray(i * map.keySize, (i + 1) * map.keySize));
    this.#run(map, 'batch update', () => map.updateBatch(keys, values, count));
  }

  deleteBatch(map: BpfMap, keys: Buffer, count: number): void {
    for (let i = 0; i < count; i++) this.#record(map, keys.subarray(i * map.keySize, (i + 1) * map.keySize));
    this.#run(map, 'batch delete', () => map.deleteBatch(keys, count));
  }

  /**
   * Write `values` into a run of shared u32 slots (the Maglev slots): memory, cannot fail. Not
   * logged: the run must be one just allocated (SlotAllocator), which no service entry references
   * until the publishing write and which rollback gives back to the allocator, so its old contents
   * are nobody's. (A copy per run would double a snapshot's memory: 40 MiB at 10,000 x 10.)
   */
  writeRegion(region: Uint32Array, base: number, values: ArrayLike<number>): void {
    region.set(values, base);
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
    for (const u of this.#log.reverse()) {
      try {
        if (u.prev) u.map.update(u.key, u.prev, BPF_ANY);
        else u.map.delete(u.key);
      } catch (e) {
        errors.push(`${u.map.name} key ${u.key.toString('hex')}: ${(e as Error).message}`);
      }
    }
    this.#log = [];
    return errors;
  }

  #record(map: BpfMap, key: Buffer): void {
    this.#log.push({ map, key: Buffer.from(key), prev: map.lookup(key) });
  }

  #run(map: BpfMap, op: string, write: () => void): void {
    try {
      write();
    } catch (e) {
      throw new MapWriteError(map.name, op, e);
    }
  }
}
