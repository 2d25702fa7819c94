// The only module that talks to libbpf and libc through koffi. Everything else in the agent sees
// the typed API exported here: objects, programs, maps, tc hooks, and LibbpfError on failure.
import koffi from 'koffi';

/** A failed libbpf or kernel call: errno plus what libbpf printed while doing it. */
export class LibbpfError extends Error {
  readonly errno: number;
  readonly op: string;
  readonly libbpfLog: string;
  constructor(op: string, errno: number, libbpfLog = '') {
    const detail = libbpfLog.trim() ? `\n${tail(libbpfLog.trim(), 40)}` : '';
    super(`${op}: ${strerror(errno)} (errno ${errno})${detail}`);
    this.name = 'LibbpfError';
    this.op = op;
    this.errno = errno;
    this.libbpfLog = libbpfLog;
  }
}

function tail(text: string, lines: number): string {
  const all = text.split('\n');
  return all.length <= lines ? text : ['…', ...all.slice(-lines)].join('\n');
}

const libbpf = koffi.load('libbpf.so.1');
const libc = koffi.load('libc.so.6');

const bpf_object = koffi.opaque('bpf_object');
const bpf_map = koffi.opaque('bpf_map');
const bpf_program = koffi.opaque('bpf_program');
const ring_buffer = koffi.opaque('ring_buffer');
void bpf_object; void bpf_map; void bpf_program; void ring_buffer;

// libbpf opts structs: `sz` first, trailing padding declared so koffi's size equals C's.
const TcHook = koffi.struct('bpf_tc_hook', {
  sz: 'size_t', ifindex: 'int', attach_point: 'int', parent: 'uint32_t', _pad: 'uint32_t',
});
const TcOpts = koffi.struct('bpf_tc_opts', {
  sz: 'size_t', prog_fd: 'int', flags: 'uint32_t', prog_id: 'uint32_t', handle: 'uint32_t',
  priority: 'uint32_t', _pad: 'uint32_t',
});
const BatchOpts = koffi.struct('bpf_map_batch_opts', {
  sz: 'size_t', elem_flags: 'uint64_t', flags: 'uint64_t',
});
const XdpOpts = koffi.struct('bpf_xdp_attach_opts', { sz: 'size_t', old_prog_fd: 'int', _pad: 'int' });
const TestRunOpts = koffi.struct('bpf_test_run_opts', {
  sz: 'size_t', data_in: 'void *', data_out: 'void *', data_size_in: 'uint32_t', data_size_out: 'uint32_t',
  ctx_in: 'void *', ctx_out: 'void *', ctx_size_in: 'uint32_t', ctx_size_out: 'uint32_t',
  retval: 'uint32_t', repeat: 'int', duration: 'uint32_t', flags: 'uint32_t', cpu: 'uint32_t', batch_size: 'uint32_t',
});

const PrintFn = koffi.proto('int libbpf_print_fn(int level, const char *fmt, void *args)');
const RingSampleFn = koffi.proto('int ring_buffer_sample_fn(void *ctx, void *data, size_t size)');

const f = {
  set_print: libbpf.func('void *libbpf_set_print(libbpf_print_fn *fn)'),
  strerror: libbpf.func('int libbpf_strerror(int err, _Out_ char *buf, size_t size)'),
  obj_open: libbpf.func('bpf_object *bpf_object__open(const char *path)'),
  obj_load: libbpf.func('int bpf_object__load(bpf_object *obj)'),
  obj_close: libbpf.func('void bpf_object__close(bpf_object *obj)'),
  obj_find_map: libbpf.func('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)'),
  obj_find_prog: libbpf.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)'),
  obj_next_prog: libbpf.func('bpf_program *bpf_object__next_program(const bpf_object *obj, bpf_program *prog)'),
  prog_name: libbpf.func('const char *bpf_program__name(const bpf_program *prog)'),
  prog_fd: libbpf.func('int bpf_program__fd(bpf_program *prog)'),
  map_fd: libbpf.func('int bpf_map__fd(bpf_map *map)'),
  map_set_pin_path: libbpf.func('int bpf_map__set_pin_path(bpf_map *map, const char *path)'),
  map_set_max_entries: libbpf.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t n)'),
  map_max_entries: libbpf.func('uint32_t bpf_map__max_entries(bpf_map *map)'),
  obj_get: libbpf.func('int bpf_obj_get(const char *path)'),
  update: libbpf.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  lookup: libbpf.func('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)'),
  del: libbpf.func('int bpf_map_delete_elem(int fd, const void *key)'),
  next_key: libbpf.func('int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next)'),
  update_batch: libbpf.func('int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)'),
  delete_batch: libbpf.func('int bpf_map_delete_batch(int fd, const void *keys, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)'),
  lookup_batch: libbpf.func('int bpf_map_lookup_batch(int fd, void *in_batch, _Out_ void *out_batch, _Out_ void *keys, _Out_ void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)'),
  info_by_fd: libbpf.func('int bpf_obj_get_info_by_fd(int fd, _Inout_ void *info, _Inout_ uint32_t *len)'),
  tc_hook_create: libbpf.func('int bpf_tc_hook_create(bpf_tc_hook *hook)'),
  tc_hook_destroy: libbpf.func('int bpf_tc_hook_destroy(bpf_tc_hook *hook)'),
  tc_attach: libbpf.func('int bpf_tc_attach(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
  tc_detach: libbpf.func('int bpf_tc_detach(const bpf_tc_hook *hook, const bpf_tc_opts *opts)'),
  xdp_attach: libbpf.func('int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, const bpf_xdp_attach_opts *opts)'),
  xdp_detach: libbpf.func('int bpf_xdp_detach(int ifindex, uint32_t flags, const bpf_xdp_attach_opts *opts)'),
  num_cpus: libbpf.func('int libbpf_num_possible_cpus(void)'),
  rb_new: libbpf.func('ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn *cb, void *ctx, const void *opts)'),
  rb_poll: libbpf.func('int ring_buffer__poll(ring_buffer *rb, int timeout_ms)'),
  rb_free: libbpf.func('void ring_buffer__free(ring_buffer *rb)'),
  link_create: libbpf.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, const void *opts)'),
  link_update: libbpf.func('int bpf_link_update(int link_fd, int new_prog_fd, const void *opts)'),
  obj_pin: libbpf.func('int bpf_obj_pin(int fd, const char *path)'),
  open: libc.func('int open(const char *path, int flags)'),
  iter_create: libbpf.func('int bpf_iter_create(int link_fd)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  read: libc.func('long read(int fd, _Out_ uint8_t *buf, size_t count)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Out_ void *value, _Inout_ uint32_t *len)'),
  vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *ap)'),
  if_nametoindex: libc.func('unsigned int if_nametoindex(const char *name)'),
  mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
  munmap: libc.func('int munmap(void *addr, size_t len)'),
  memcpy: libc.func('void *memcpy(uintptr_t dest, const void *src, size_t n)'),
  close: libc.func('int close(int fd)'),
  enable_stats: libbpf.func('int bpf_enable_stats(int type)'),
  prog_fd_by_id: libbpf.func('int bpf_prog_get_fd_by_id(uint32_t id)'),
  prog_test_run: libbpf.func('int bpf_prog_test_run_opts(int fd, _Inout_ bpf_test_run_opts *opts)'),
};

// libbpf prints diagnostics (verifier log, pin mismatches) through a callback. Collect them so a
// failing call can carry its own explanation instead of leaving it on stderr.
let printed: string[] = [];
const printBuf = Buffer.alloc(4096);
const printCb = koffi.register((level: number, fmt: string, args: unknown): number => {
  const n = f.vsnprintf(printBuf, printBuf.length, fmt, args) as number;
  const text = printBuf.subarray(0, Math.max(0, Math.min(n, printBuf.length - 1))).toString('utf8');
  if (level <= 1 /* WARN and INFO, not DEBUG */) printed.push(text);
  if (printed.length > 2000) printed = printed.slice(-1000);
  return 0;
}, koffi.pointer(PrintFn));
f.set_print(printCb);

function takeLog(): string {
  const text = printed.join('');
  printed = [];
  return text;
}

function strerror(errno: number): string {
  const buf = Buffer.alloc(128);
  f.strerror(errno, buf, buf.length);
  return buf.toString('utf8', 0, buf.indexOf(0) >= 0 ? buf.indexOf(0) : buf.length);
}

/** Throws LibbpfError for a libbpf int return (negative errno). */
function check(op: string, ret: number): number {
  if (ret < 0) throw new LibbpfError(op, -ret, takeLog());
  return ret;
}

export const BPF_ANY = 0n;
const ENOENT = 2;

/** A loaded BPF object (programs + maps). Close it once programs are attached and maps pinned. */
export class BpfObject {
  #ptr: unknown;
  readonly path: string;

  private constructor(ptr: unknown, path: string) {
    this.#ptr = ptr;
    this.path = path;
  }

  static open(path: string): BpfObject {
    takeLog();
    const ptr = f.obj_open(path);
    if (!ptr) throw new LibbpfError(`open ${path}`, koffi.errno() || 22, takeLog());
    return new BpfObject(ptr, path);
  }

  #map(name: string): unknown {
    const m = f.obj_find_map(this.#handle(), name);
    if (!m) throw new LibbpfError(`map ${name} not found in ${this.path}`, ENOENT);
    return m;
  }

  #handle(): unknown {
    if (!this.#ptr) throw new Error(`BPF object ${this.path} is closed`);
    return this.#ptr;
  }

  /** Before load: where the map is pinned (reused if a compatible pin exists, created otherwise). */
  /** Whether the object declares map @name. */
  hasMap(name: string): boolean {
    return !!f.obj_find_map(this.#handle(), name);
  }

  setPinPath(map: string, pinPath: string): void {
    check(`set pin path of ${map}`, f.map_set_pin_path(this.#map(map), pinPath));
  }

  /** Before load: resize a map. */
  setMaxEntries(map: string, n: number): void {
    check(`set max_entries of ${map}`, f.map_set_max_entries(this.#map(map), n));
  }

  maxEntries(map: string): number {
    return f.map_max_entries(this.#map(map)) as number;
  }

  load(): void {
    takeLog();
    check(`load ${this.path}`, f.obj_load(this.#handle()));
  }

  /** A program's fd; valid while the object is open. */
  programFd(name: string): number {
    const p = f.obj_find_prog(this.#handle(), name);
    if (!p) throw new LibbpfError(`program ${name} not found in ${this.path}`, ENOENT);
    return check(`fd of program ${name}`, f.prog_fd(p));
  }

  /** The names of the object's programs (their C function names), in section order. */
  programNames(): string[] {
    const names: string[] = [];
    for (let p = f.obj_next_prog(this.#handle(), null); p; p = f.obj_next_prog(this.#handle(), p)) names.push(f.prog_name(p) as string);
    return names;
  }

  mapFd(name: string): number {
    return check(`fd of map ${name}`, f.map_fd(this.#map(name)));
  }

  close(): void {
    if (this.#ptr) f.obj_close(this.#ptr);
    this.#ptr = null;
  }
}

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

/** Open a pinned object (map) and get its fd. */
export function objGet(path: string): number {
  return check(`open pinned ${path}`, f.obj_get(path));
}

/**
 * Turn on the kernel's per-program run time and run count (what `bpftool prog show` reports as
 * run_time_ns / run_cnt) while the returned fd stays open: BPF_ENABLE_STATS, the same switch as
 * kernel.bpf_stats_enabled, but held by this process and dropped when it closes the fd or exits, so
 * nothing global is left changed after a crash. Close it with closeFd().
 */
export function enableRunTimeStats(): number {
  return check('bpf_enable_stats', f.enable_stats(0 /* BPF_STATS_RUN_TIME */) as number);
}

/** An fd for the loaded program with id @id (bpftool's ids); close it with closeFd(). */
export function progFdById(id: number): number {
  return check('bpf_prog_get_fd_by_id', f.prog_fd_by_id(id) as number);
}

/**
 * BPF_PROG_TEST_RUN: run program @fd @repeat times on a copy of @data (a whole frame for tc and
 * XDP programs). Returns its return code and the kernel's average run time per repetition in ns.
 * Maps are the live ones: whatever the program writes stays.
 */
export function progTestRun(fd: number, data: Buffer, repeat = 1): { retval: number; durationNs: number; out: Buffer } {
  const out = Buffer.alloc(data.length + 256);
  const opts = {
    sz: koffi.sizeof(TestRunOpts), data_in: data, data_out: out, data_size_in: data.length, data_size_out: out.length,
    ctx_in: null, ctx_out: null, ctx_size_in: 0, ctx_size_out: 0, retval: 0, repeat, duration: 0, flags: 0, cpu: 0, batch_size: 0,
  };
  check('bpf_prog_test_run_opts', f.prog_test_run(fd, opts) as number);
  return { retval: opts.retval, durationNs: opts.duration, out: out.subarray(0, opts.data_size_out) };
}

export function closeFd(fd: number): void {
  f.close(fd);
}

export function mapInfo(fd: number): MapInfo {
  // struct bpf_map_info: the fields read here sit in its first 40 bytes.
  const buf = Buffer.alloc(96);
  const len = [buf.length];
  check(`map info of fd ${fd}`, f.info_by_fd(fd, buf, len));
  const nameEnd = buf.indexOf(0, 24);
  return {
    type: buf.readUInt32LE(0), id: buf.readUInt32LE(4), keySize: buf.readUInt32LE(8),
    valueSize: buf.readUInt32LE(12), maxEntries: buf.readUInt32LE(16), flags: buf.readUInt32LE(20),
    name: buf.toString('utf8', 24, nameEnd < 0 || nameEnd > 40 ? 40 : nameEnd),
  };
}

export function mapUpdate(fd: number, key: Buffer, value: Buffer, flags = BPF_ANY): void {
  check('map update', f.update(fd, key, value, flags));
}

/** Returns false when the key is absent. */
export function mapLookup(fd: number, key: Buffer, value: Buffer): boolean {
  const ret = f.lookup(fd, key, value) as number;
  if (ret === -ENOENT) return false;
  check('map lookup', ret);
  return true;
}

/** Returns false when the key was already absent. */
export function mapDelete(fd: number, key: Buffer): boolean {
  const ret = f.del(fd, key) as number;
  if (ret === -ENOENT) return false;
  check('map delete', ret);
  return true;
}

/** Every key of a map (snapshot, in the kernel's iteration order). */
export function mapKeys(fd: number, keySize: number): Buffer[] {
  const keys: Buffer[] = [];
  let prev: Buffer | null = null;
  for (;;) {
    const next = Buffer.alloc(keySize);
    const ret = f.next_key(fd, prev, next) as number;
    if (ret === -ENOENT) return keys;
    check('map get_next_key', ret);
    keys.push(next);
    prev = next;
  }
}

const batchOpts = { sz: koffi.sizeof(BatchOpts), elem_flags: 0n, flags: 0n };

/** Update `count` entries packed back to back in `keys` and `values`. */
export function mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: number): void {
  const n = [count];
  check('map update batch', f.update_batch(fd, keys, values, n, batchOpts));
  if (n[0] !== count) throw new LibbpfError(`map update batch: wrote ${n[0]} of ${count}`, 5);
}

/** Delete `count` keys packed back to back; keys already gone are skipped. */
export function mapDeleteBatch(fd: number, keys: Buffer, count: number): void {
  const keySize = keys.length / count;
  for (let done = 0; done < count;) {
    const n = [count - done];
    const ret = f.delete_batch(fd, keys.subarray(done * keySize), n, batchOpts) as number;
    // The kernel stops at the first absent key (ENOENT) having deleted n[0] before it: skip that one.
    if (ret === -ENOENT) { done += (n[0] ?? 0) + 1; continue; }
    check('map delete batch', ret);
    return;
  }
}

/**
 * Values of an array map's keys `first` .. `first + count - 1`, packed into `values`, with
 * lookup_batch (a batch over an array map starts after the key passed in: `first - 1`, or none for 0).
 */
export function mapLookupRange(fd: number, first: number, count: number, valueSize: number, values: Buffer): void {
  const keys = Buffer.allocUnsafe(4 * count), after = Buffer.alloc(4), out = Buffer.alloc(4);
  for (let done = 0; done < count;) {
    const n = [count - done];
    after.writeUInt32LE((first + done - 1) >>> 0);
    const ret = f.lookup_batch(fd, first + done > 0 ? after : null, out, keys.subarray(4 * done), values.subarray(valueSize * done), n, batchOpts) as number;
    if (ret < 0 && ret !== -ENOENT) check('map lookup batch', ret);
    const got = n[0] ?? 0;
    done += got;
    if (done < count && (ret === -ENOENT || !got)) throw new LibbpfError(`map lookup batch: read ${done} of keys ${first}..${first + count - 1}`, ENOENT);
  }
}

/**
 * Read the whole map with lookup_batch, `chunk` entries per syscall. Falls back to key iteration
 * for map types without batch support. Values of per-CPU maps come as the kernel lays them out.
 */
export function mapDump(fd: number, keySize: number, valueSize: number, chunk = 256):
  Array<{ key: Buffer; value: Buffer }> {
  const out: Array<{ key: Buffer; value: Buffer }> = [];
  const keys = Buffer.alloc(keySize * chunk);
  const values = Buffer.alloc(valueSize * chunk);
  const token = Buffer.alloc(Math.max(keySize, 8));
  let inBatch: Buffer | null = null;
  for (;;) {
    const n = [chunk];
    const ret = f.lookup_batch(fd, inBatch, token, keys, values, n, batchOpts) as number;
    if (ret < 0 && ret !== -ENOENT) {
      if (ret === -22 || ret === -95 /* EINVAL/EOPNOTSUPP: no batch for this map type */) {
        return mapKeys(fd, keySize).flatMap((k) => {
          const v = Buffer.alloc(valueSize);
          return mapLookup(fd, k, v) ? [{ key: k, value: v }] : [];
        });
      }
      check('map lookup batch', ret);
    }
    const got = n[0] ?? 0;
    for (let i = 0; i < got; i++) {
      out.push({
        key: Buffer.from(keys.subarray(i * keySize, (i + 1) * keySize)),
        value: Buffer.from(values.subarray(i * valueSize, (i + 1) * valueSize)),
      });
    }
    if (ret === -ENOENT) return out;
    inBatch = Buffer.from(token);
  }
}

/**
 * Visit every entry with lookup_batch, `chunk` entries per syscall, through one pair of reused
 * buffers: `visit` gets views valid only during the call, so a scan of a large map allocates nothing
 * per entry. Falls back to key iteration for map types without batch support. Returns the count.
 */
export function mapScan(fd: number, keySize: number, valueSize: number, visit: ((key: Buffer, value: Buffer) => void) | undefined,
  chunk = 4096): number {
  const steps = mapScanSteps(fd, keySize, valueSize, visit, chunk);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * mapScan() one syscall at a time: the generator pauses after each batch of `chunk` entries, so a
 * caller can give its event loop back between them (agent/gc.ts). The map may change meanwhile:
 * the batch token is a bucket position, so the scan goes on from there (an entry added behind it is
 * not visited, as with any scan of a changing map). Returns the count.
 */
export function* mapScanSteps(fd: number, keySize: number, valueSize: number, visit: ((key: Buffer, value: Buffer) => void) | undefined,
  chunk = 4096): Generator<void, number> {
  const keys = Buffer.alloc(keySize * chunk), values = Buffer.alloc(valueSize * chunk);
  const token = Buffer.alloc(Math.max(keySize, 8)), inBatch = Buffer.alloc(token.length);
  let first = true, total = 0;
  for (;;) {
    const n = [chunk];
    const ret = f.lookup_batch(fd, first ? null : inBatch, token, keys, values, n, batchOpts) as number;
    if (ret < 0 && ret !== -ENOENT) {
      if (ret === -22 || ret === -95 /* EINVAL/EOPNOTSUPP: no batch for this map type */) {
        const v = Buffer.alloc(valueSize);
        let count = 0;
        for (const k of mapKeys(fd, keySize)) if (mapLookup(fd, k, v)) { count++; visit?.(k, v); }
        return count;
      }
      check('map lookup batch', ret);
    }
    const got = n[0] ?? 0;
    if (visit) for (let i = 0; i < got; i++) visit(keys.subarray(i * keySize, (i + 1) * keySize), values.subarray(i * valueSize, (i + 1) * valueSize));
    total += got;
    if (ret === -ENOENT) return total;
    token.copy(inBatch);
    first = false;
    yield;
  }
}

/** Number of entries of a hash map, counted with lookup_batch (a few syscalls, not one per key). */
export function mapCount(fd: number, keySize: number, valueSize: number, chunk = 4096): number {
  return mapScan(fd, keySize, valueSize, undefined, chunk);
}

/** A shared mapping of part of a BPF_F_MMAPABLE array's values, written by copying into it. */
export interface MappedWindow {
  /** Copy `values` to `offset` bytes into the window. */
  write(offset: number, values: Uint32Array): void;
  unmap(): void;
}

const PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
export const PAGE_SIZE = 4096;

/**
 * Map `pages` pages of a BPF_F_MMAPABLE array's values from page `firstPage` on. No ArrayBuffer is
 * made over the mapping, so no JavaScript object can reach it once it is unmapped (a view kept past
 * unmap() would fault on its next access); writes are copies into it.
 */
export function mmapWindow(fd: number, firstPage: number, pages: number): MappedWindow {
  const len = pages * PAGE_SIZE;
  const ptr = f.mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, BigInt(firstPage * PAGE_SIZE));
  // mmap reports failure as MAP_FAILED ((void *)-1).
  if (ptr === null || ptr === 0n || ptr === 0xffffffffffffffffn) {
    throw new LibbpfError(`mmap map fd ${fd} pages ${firstPage}..${firstPage + pages}`, koffi.errno());
  }
  const addr = BigInt(koffi.address(ptr));
  let mapped = true;
  return {
    write(offset, values) {
      if (!mapped) throw new Error('window is unmapped');
      if (offset < 0 || offset + values.byteLength > len) throw new RangeError(`write of ${values.byteLength} bytes at ${offset} is outside the ${len}-byte window`);
      f.memcpy(addr + BigInt(offset), values, values.byteLength);
    },
    unmap() {
      if (mapped) f.munmap(ptr, len);
      mapped = false;
    },
  };
}

/** Possible CPUs: per-CPU map values hold one slot (8-byte aligned) for each. */
export function numPossibleCpus(): number {
  return check('possible cpus', f.num_cpus());
}

export function ifIndex(name: string): number {
  const idx = f.if_nametoindex(name) as number;
  if (!idx) throw new LibbpfError(`interface ${name}`, ENOENT);
  return idx;
}

export type TcAttachPoint = 'ingress' | 'egress';
const BPF_TC_INGRESS = 1, BPF_TC_EGRESS = 2;
const BPF_TC_F_REPLACE = 1;
const EEXIST = 17;

function tcHook(ifindex: number, point: number) {
  return { sz: koffi.sizeof(TcHook), ifindex, attach_point: point, parent: 0, _pad: 0 };
}

/** Attach (or atomically replace) a direct-action classifier on the interface's clsact qdisc. */
export function tcAttach(ifindex: number, point: TcAttachPoint, progFd: number, handle = 1, priority = 1): number {
  const ap = point === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  const ret = f.tc_hook_create(tcHook(ifindex, ap)) as number;
  if (ret < 0 && ret !== -EEXIST) check(`create clsact on ifindex ${ifindex}`, ret);
  const opts = { sz: koffi.sizeof(TcOpts), prog_fd: progFd, flags: BPF_TC_F_REPLACE, prog_id: 0, handle, priority, _pad: 0 };
  check(`attach tc ${point} on ifindex ${ifindex}`, f.tc_attach(tcHook(ifindex, ap), opts));
  return opts.prog_id;
}

export function tcDetach(ifindex: number, point: TcAttachPoint, handle = 1, priority = 1): void {
  const ap = point === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  const opts = { sz: koffi.sizeof(TcOpts), prog_fd: 0, flags: 0, prog_id: 0, handle, priority, _pad: 0 };
  const ret = f.tc_detach(tcHook(ifindex, ap), opts) as number;
  if (ret === -ENOENT || ret === -19 /* ENODEV: interface gone */) return;
  check(`detach tc ${point} on ifindex ${ifindex}`, ret);
}

export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;

export function xdpAttach(ifindex: number, progFd: number, flags: number): void {
  check(`attach xdp on ifindex ${ifindex}`, f.xdp_attach(ifindex, progFd, flags, { sz: koffi.sizeof(XdpOpts), old_prog_fd: 0, _pad: 0 }));
}

export function xdpDetach(ifindex: number, flags: number): void {
  const ret = f.xdp_detach(ifindex, flags, { sz: koffi.sizeof(XdpOpts), old_prog_fd: 0, _pad: 0 }) as number;
  if (ret === -19) return;
  check(`detach xdp on ifindex ${ifindex}`, ret);
}

const EINTR = 4;

/**
 * A consumer of a BPF ring buffer map (libbpf's ring_buffer). poll() waits up to `timeoutMs` and
 * hands each record, copied, to `onRecord` before it returns. A ring buffer has one consumer
 * position, shared by every reader of the map: two readers each see part of the records.
 */
export class RingBuffer {
  #ptr: unknown;
  #cb: ReturnType<typeof koffi.register> | null;

  constructor(mapFd: number, onRecord: (record: Buffer) => void) {
    this.#cb = koffi.register((_ctx: unknown, data: unknown, size: number | bigint): number => {
      onRecord(Buffer.from(koffi.view(data, Number(size)).slice(0)));
      return 0;
    }, koffi.pointer(RingSampleFn));
    takeLog();
    this.#ptr = f.rb_new(mapFd, this.#cb, null, null);
    if (!this.#ptr) {
      this.close();
      throw new LibbpfError(`ring buffer on map fd ${mapFd}`, koffi.errno() || 22, takeLog());
    }
  }

  /** Records handed to onRecord; 0 when the wait ended without any (or a signal cut it short). */
  poll(timeoutMs: number): number {
    if (!this.#ptr) throw new Error('ring buffer is closed');
    const ret = f.rb_poll(this.#ptr, timeoutMs) as number;
    return ret === -EINTR ? 0 : check('ring buffer poll', ret);
  }

  close(): void {
    if (this.#ptr) f.rb_free(this.#ptr);
    this.#ptr = null;
    if (this.#cb) koffi.unregister(this.#cb);
    this.#cb = null;
  }
}

/** cgroup sock_addr attach points (enum bpf_attach_type) used by the socket-level datapath. */
export const CGROUP_ATTACH = {
  connect4: 10, sendmsg4: 14, recvmsg4: 19, getpeername4: 29,
  connect6: 11, sendmsg6: 15, recvmsg6: 20, getpeername6: 30,
} as const;
export type CgroupAttachPoint = keyof typeof CGROUP_ATTACH;
const O_RDONLY_DIRECTORY = 0o200000;

/** Open a file read-only (a directory such as a cgroup, or a namespace); close the fd with closeFd(). */
export function openReadOnly(path: string, directory = false): number {
  const fd = f.open(path, directory ? O_RDONLY_DIRECTORY : 0) as number;
  if (fd < 0) throw new LibbpfError(`open ${path}`, koffi.errno());
  return fd;
}

/** Attach `progFd` to the cgroup open as `cgroupFd` through a new BPF link; returns the link's fd. */
export function cgroupLinkCreate(progFd: number, cgroupFd: number, point: CgroupAttachPoint): number {
  return check(`attach ${point} to cgroup`, f.link_create(progFd, cgroupFd, CGROUP_ATTACH[point], null));
}

/** Swap the program behind a link atomically (no moment without one). */
export function linkUpdate(linkFd: number, progFd: number): void {
  check('update link', f.link_update(linkFd, progFd, null));
}

/** Pin a program, map or link at `path` on bpffs. */
export function objPin(fd: number, path: string): void {
  check(`pin ${path}`, f.obj_pin(fd, path));
}

/** What a link is attached to: struct bpf_link_info's type, prog_id and, for cgroup links, the cgroup id. */
export function linkInfo(fd: number): { type: number; progId: number; cgroupId: bigint } {
  const buf = Buffer.alloc(64);
  check(`link info of fd ${fd}`, f.info_by_fd(fd, buf, [buf.length]));
  return { type: buf.readUInt32LE(0), progId: buf.readUInt32LE(8), cgroupId: buf.readBigUInt64LE(16) };
}

const BPF_TRACE_ITER = 28;

/** A BPF iterator link for `progFd` (an iter/… program without parameters); returns the link's fd. */
export function iterLinkCreate(progFd: number): number {
  return check('create iterator link', f.link_create(progFd, 0, BPF_TRACE_ITER, null));
}

const CLONE_NEWNET = 0x40000000;

/**
 * Run the iterator behind `linkFd` in the network namespace open as `netnsFd` (socket iterators
 * walk the namespace of the thread that creates them) and return what it wrote. Only this thread
 * enters the namespace, and only while the iterator is created: it returns to `homeFd` before
 * anything else runs.
 */
export function runIterIn(linkFd: number, netnsFd: number, homeFd: number): Buffer {
  check('setns', f.setns(netnsFd, CLONE_NEWNET) === 0 ? 0 : -koffi.errno());
  let iterFd: number;
  try {
    iterFd = f.iter_create(linkFd) as number;
  } finally {
    if (f.setns(homeFd, CLONE_NEWNET) !== 0) throw new Error(`cannot return to the agent's network namespace: errno ${koffi.errno()}`);
  }
  check('create iterator', iterFd);
  try {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(4096);
    for (;;) {
      const n = Number(f.read(iterFd, buf, buf.length));
      if (n < 0) throw new LibbpfError('read iterator', koffi.errno());
      if (n === 0) return Buffer.concat(chunks);
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
  } finally {
    f.close(iterFd);
  }
}

const AF_INET = 2, SOCK_DGRAM = 2, SOL_SOCKET = 1, SO_NETNS_COOKIE = 71;

/** The cookie of this thread's network namespace, as bpf_get_netns_cookie() gives it (Linux >= 5.14). */
export function netnsCookie(): bigint {
  const fd = f.socket(AF_INET, SOCK_DGRAM, 0) as number;
  if (fd < 0) throw new LibbpfError('socket', koffi.errno());
  try {
    const buf = Buffer.alloc(8);
    if ((f.getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, buf, [8]) as number) < 0) throw new LibbpfError('getsockopt SO_NETNS_COOKIE', koffi.errno());
    return buf.readBigUInt64LE(0);
  } finally {
    f.close(fd);
  }
}

/** Struct sizes as koffi lays them out, checked against C in the tests. */
export const structSizes = {
  bpf_tc_hook: koffi.sizeof(TcHook),
  bpf_tc_opts: koffi.sizeof(TcOpts),
  bpf_map_batch_opts: koffi.sizeof(BatchOpts),
  bpf_xdp_attach_opts: koffi.sizeof(XdpOpts),
};
