// Standalone mode's source of desired state: a JSON file of services ({"services": [...]}, each in
// protobufjs' object form of sluice.v1.Service), read whole whenever it changes.
import fs from 'node:fs';
import path from 'node:path';
import { toService, type Service, type ServiceJson } from '../proto/contract.ts';

/** The services of state file @file; throws naming the file's problem (or the service's index). */
export function readStateFile(file: string): Service[] {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { services?: ServiceJson[] };
  if (!Array.isArray(doc.services)) throw new Error('"services" must be an array');
  return doc.services.map((s, i) => {
    try { return toService(s); } catch (e) { throw new Error(`services[${i}]: ${(e as Error).message}`, { cause: e }); }
  });
}

/**
 * The services of state file @file, read as they are iterated: the file is kept as bytes (outside
 * V8's heap) with where each element of "services" starts and ends, and each service is parsed
 * only when reached, so a large file (10,000 services of 10 endpoints: 10 MB of JSON, some 20 MB
 * of parsed objects) is never in memory as objects all at once (Reconciler.applySnapshot programs it
 * a part at a time). The document's shape is checked now (throws as readStateFile does); a service
 * that does not parse or convert throws when it is reached, naming its index ("services[i]: ...").
 * Iterable any number of times; each pass parses again.
 */
export function stateFileServices(file: string): Iterable<Service> & { readonly length: number } {
  const buf = fs.readFileSync(file);
  let at: number[] | undefined;
  try { at = serviceRanges(buf); } catch { at = undefined; }
  if (!at) {
    // Not a document this scan follows (or not JSON): whatever JSON.parse says of it, or read whole.
    const services = readStateFile(file);
    return services;
  }
  const length = at.length / 2;
  return {
    length,
    *[Symbol.iterator]() {
      for (let i = 0; i < length; i++) {
        try {
          yield toService(JSON.parse(buf.toString('utf8', at[2 * i]!, at[2 * i + 1]!)) as ServiceJson);
        } catch (e) {
          throw new Error(`services[${i}]: ${(e as Error).message}`, { cause: e });
        }
      }
    },
  };
}

const WS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;

/**
 * Start and end offsets of every element of the top-level object's "services" array, or undefined
 * when the bytes are not such an object (the caller then lets JSON.parse judge them). Follows
 * nesting and strings only: each element's own syntax is JSON.parse's to check when it is read.
 */
function serviceRanges(b: Buffer): number[] | undefined {
  let i = 0;
  const n = b.length;
  const ws = () => { while (i < n && WS[b[i]!]) i++; };
  /** Past the string starting at i (a quote). */
  const str = (): boolean => {
    for (i++; i < n; i++) {
      if (b[i] === 0x5c) { i++; continue; }
      if (b[i] === 0x22) { i++; return true; }
    }
    return false;
  };
  /** Past the value starting at i. */
  const value = (): boolean => {
    const c = b[i];
    if (c === 0x22) return str();
    if (c === 0x7b || c === 0x5b) {
      let depth = 0;
      while (i < n) {
        const d = b[i]!;
        if (d === 0x22) { if (!str()) return false; continue; }
        if (d === 0x7b || d === 0x5b) depth++;
        else if (d === 0x7d || d === 0x5d) { if (--depth === 0) { i++; return true; } }
        i++;
      }
      return false;
    }
    const start = i;
    while (i < n && !WS[b[i]!] && b[i] !== 0x2c && b[i] !== 0x7d && b[i] !== 0x5d) i++;
    return i > start;
  };
  let ranges: number[] | undefined;
  ws();
  if (b[i] !== 0x7b) return undefined;
  i++;
  ws();
  if (b[i] === 0x7d) i++;
  else {
    for (;;) {
      ws();
      if (b[i] !== 0x22) return undefined;
      const k0 = i;
      if (!str()) return undefined;
      const key = JSON.parse(b.toString('utf8', k0, i)) as string;
      ws();
      if (b[i] !== 0x3a) return undefined;
      i++;
      ws();
      if (key === 'services') {
        // Not an array: readStateFile's error.
        if (b[i] !== 0x5b) return undefined;
        ranges = [];
        i++;
        ws();
        if (b[i] === 0x5d) i++;
        else {
          for (;;) {
            ws();
            const start = i;
            if (!value()) return undefined;
            ranges.push(start, i);
            ws();
            if (b[i] === 0x2c) { i++; continue; }
            if (b[i] === 0x5d) { i++; break; }
            return undefined;
          }
        }
      } else if (!value()) return undefined;
      ws();
      if (b[i] === 0x2c) { i++; continue; }
      if (b[i] === 0x7d) { i++; break; }
      return undefined;
    }
  }
  ws();
  return i === n ? ranges : undefined;
}

/** How long a burst of directory events is gathered before the file is looked at. */
const SETTLE_MS = 5;
/** The poll that backs the directory watch (filesystems without inotify, a watch that failed). */
const POLL_MS = 100;

export interface StateFileWatch { close(): void }

/**
 * Calls @changed whenever @file is replaced or rewritten (its inode, size or mtime differ from when
 * it was last seen). Told by inotify on the file's directory, so a replacement (write a temporary
 * file, rename it over) is seen within milliseconds rather than at the next poll; a 100 ms poll of
 * the file stays on as the fallback. Each change is reported once whichever notices it first.
 */
export function watchStateFile(file: string, changed: () => void, onWatchError?: (e: Error) => void): StateFileWatch {
  const id = (st: fs.Stats | undefined) => (st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '');
  const stat = () => { try { return fs.statSync(file); } catch { return undefined; } };
  let seen = id(stat());
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const check = () => {
    timer = undefined;
    if (closed) return;
    const now = id(stat());
    if (now === seen || now === '') return;
    seen = now;
    changed();
  };
  const base = path.basename(file);
  let dir: fs.FSWatcher | undefined;
  try {
    dir = fs.watch(path.dirname(file), { persistent: true }, (_ev, name) => {
      if (name !== null && name !== base) return;
      timer ??= setTimeout(check, SETTLE_MS);
    });
    dir.on('error', (e) => { dir?.close(); dir = undefined; onWatchError?.(e); });
  } catch (e) {
    onWatchError?.(e as Error);
  }
  const poll = () => check();
  fs.watchFile(file, { interval: POLL_MS }, poll);
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      dir?.close();
      fs.unwatchFile(file, poll);
    },
  };
}
