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
