// The manifests source's parser: a few worker threads (manifest-parser-worker.ts) that read and parse
// files, with a size limit, a per-file time limit and a memory limit. A file that exceeds the time
// or memory limit is refused and its worker replaced. With two workers, one huge file does not hold
// up the small edits queued behind it.
import { Worker } from 'node:worker_threads';

/** The kinds the manifests source reads; other documents stay in the worker. */
export const MANIFEST_KINDS = new Set(['Service', 'EndpointSlice', 'Pod', 'Deployment', 'Node']);

export interface ParseRequest { id: number; file: string; maxBytes: number }

/** Why a file has no (new) content. */
export type FileFailure = 'unreadable' | 'not-a-file' | 'dangling-link' | 'too-large' | 'yaml' | 'timeout' | 'parser-crashed';

export type ParseResult = { ok: true; docs: unknown[]; bytes: number } | { ok: false; reason: FileFailure; message: string };
export type ParseReply = ParseResult & { id: number };

export interface ManifestParserOptions {
  maxBytes: number;
  timeoutMs: number;
  /** Heap limit of each worker (MiB). */
  maxHeapMb: number;
  /** Number of workers (default 2). */
  workers?: number;
}

interface Job { id: number; file: string; resolve: (r: ParseResult) => void }
/** One worker; `ready` once it has loaded (the time limit counts from there, not from its start). */
interface Slot { worker: Worker | null; ready: boolean; job: Job | null; timer: NodeJS.Timeout | null }

export class ManifestParser {
  private readonly opts: ManifestParserOptions;
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private seq = 0;
  private closed = false;

  constructor(opts: ManifestParserOptions) {
    this.opts = opts;
    this.slots = Array.from({ length: Math.max(1, opts.workers ?? 2) }, () => ({ worker: null, ready: false, job: null, timer: null }));
  }

  /** Parses one file; resolves (never rejects) with the documents or the reason there are none. */
  parse(file: string): Promise<ParseResult> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'parser-crashed', message: 'parser closed' });
    return new Promise((resolve) => {
      this.queue.push({ id: ++this.seq, file, resolve });
      this.pump();
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      if (!slot.worker) this.spawn(slot);
      if (!slot.ready) continue; // pump() again once it is
      const job = this.queue.shift()!;
      slot.job = job;
      slot.timer = setTimeout(() => {
        this.kill(slot); // first: finish() hands the slot its next file
        this.finish(slot, job.id, { ok: false, reason: 'timeout', message: `parsing took longer than ${this.opts.timeoutMs} ms` });
      }, this.opts.timeoutMs);
      slot.worker!.postMessage({ id: job.id, file: job.file, maxBytes: this.opts.maxBytes } satisfies ParseRequest);
    }
  }

  private spawn(slot: Slot): void {
    const w = new Worker(new URL('./manifest-parser-worker.ts', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb } });
    w.unref();
    w.on('message', (m: ParseReply | 'ready') => {
      if (m === 'ready') { slot.ready = true; this.pump(); return; }
      const { id, ...result } = m;
      this.finish(slot, id, result as ParseResult);
    });
    const died = (message: string): void => {
      if (slot.worker !== w) return;
      const wasReady = slot.ready;
      slot.worker = null;
      slot.ready = false;
      if (slot.job) this.finish(slot, slot.job.id, { ok: false, reason: 'parser-crashed', message });
      // a worker that cannot even start fails the next file rather than being respawned forever
      else if (!wasReady && !this.closed) this.queue.shift()?.resolve({ ok: false, reason: 'parser-crashed', message });
      if (!this.closed) this.pump();
    };
    w.on('error', (e) => died(`parser worker failed: ${e.message}`));
    w.on('exit', (code) => died(`parser worker exited (code ${code})`));
    slot.worker = w;
    slot.ready = false;
  }

  private finish(slot: Slot, id: number, r: ParseResult): void {
    if (!slot.job || slot.job.id !== id) return;
    if (slot.timer) clearTimeout(slot.timer);
    const { resolve } = slot.job;
    slot.job = null;
    slot.timer = null;
    resolve(r);
    if (!this.closed) this.pump();
  }

  private kill(slot: Slot): void {
    const w = slot.worker;
    slot.worker = null;
    slot.ready = false;
    void w?.terminate();
  }

  close(): void {
    this.closed = true;
    const closed: ParseResult = { ok: false, reason: 'parser-crashed', message: 'parser closed' };
    for (const job of this.queue.splice(0)) job.resolve(closed);
    for (const slot of this.slots) {
      if (slot.job) this.finish(slot, slot.job.id, closed);
      this.kill(slot);
    }
  }
}
