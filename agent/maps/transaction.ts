// Map writes with an undo log: every write first records what it replaces (the previous value or
// its absence), and rollback() puts those back in reverse order, so a change that fails in the
// middle leaves the maps exactly as they were. Reverse order matters for readers: the datapath
// publishes in dependency order (backends, Maglev run, service entry), so undoing backwards
// unpublishes the service entry before what it referenced changes back.
import { LibbpfError } from '../bpf/libbpf.ts';
import { BPF_ANY, type BpfMap, type UpdateFlag } from './map.ts';

type Undo = { map: BpfMap; key: Buffer; prev: Buffer | undefined } | { region: Uint32Array; base: number; prev: Uint32Array }
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

  deleteBatch(map: BpfMap, keys: Buffer, count: number): void {
    for (let i = 0; i < count; i++) this.#record(map, keys.subarray(i * map.keySize, (i + 1) * map.keySize));
    this.#run(map, 'batch delete', () => map.deleteBatch(keys, count));
  }

  /**
   * Record slots [base, base + len) of a shared u32 region (the Maglev slots) before the caller
   * writes them in place: memory, cannot fail; rollback() copies the old slots back.
   */
  saveRegion(region: Uint32Array, base: number, len: number): void {
    this.#log.push({ region, base, prev: region.slice(base, base + len) });
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
      if ('region' in u) { u.region.set(u.prev, u.base); continue; }
      if ('inserted' in u) {
        try {
          u.map.deleteBatch(u.inserted, u.count);
        } catch (e) {
          errors.push(`${u.map.name} ${u.count} inserted keys: ${(e as Error).message}`);
        }
        continue;
      }
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
