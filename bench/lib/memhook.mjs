// Preloaded into an agent by bench/memory.ts (NODE_OPTIONS=--import): on SIGUSR2 the process writes
// where its memory is to <MEMHOOK_DIR>/mem-<pid>.json: process.memoryUsage() before and after a full
// GC (when started with --expose-gc), VmRSS/VmHWM, and the resident size of its mappings by kind
// (/proc/self/smaps: the node binary, anonymous memory, the malloc heap, mmapped BPF maps). With
// MEMHOOK_HEAPSNAPSHOT=1 it also writes a heap snapshot (after the GC) next to it, heap-<pid>.heapsnapshot.
import fs from 'node:fs';
import v8 from 'node:v8';

const mib = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, +(v / 2 ** 20).toFixed(1)]));

process.on('SIGUSR2', () => {
  const before = process.memoryUsage();
  if (typeof globalThis.gc === 'function') { globalThis.gc(); globalThis.gc(); }
  const after = process.memoryUsage();
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  const kinds = {};
  let cur = 'anon';
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      const name = line.split(/\s+/).slice(5).join(' ');
      cur = !name ? 'anon' : name.endsWith('/node') ? 'node binary' : /\.so(\.|$)/.test(name) ? 'shared libraries' : name;
    }
    const r = /^Rss:\s+(\d+)/.exec(line);
    if (r) kinds[cur] = (kinds[cur] ?? 0) + Number(r[1]) * 1024;
  }
  const out = {
    pid: process.pid, rssMiB: +(kb('VmRSS') / 1024).toFixed(1), peakRssMiB: +(kb('VmHWM') / 1024).toFixed(1),
    beforeGc: mib(before), afterGc: typeof globalThis.gc === 'function' ? mib(after) : undefined,
    residentByMapping: mib(Object.fromEntries(Object.entries(kinds).filter(([, v]) => v >= 512 * 1024).sort((a, b) => b[1] - a[1]))),
  };
  if (process.env.MEMHOOK_HEAPSNAPSHOT === '1') v8.writeHeapSnapshot(`${process.env.MEMHOOK_DIR ?? '/tmp'}/heap-${process.pid}.heapsnapshot`);
  fs.writeFileSync(`${process.env.MEMHOOK_DIR ?? '/tmp'}/mem-${process.pid}.json`, JSON.stringify(out));
});
