// The manifests source's parser: one worker thread (manifest-parser-worker.ts) that reads and parses
// files one at a time, with a size limit, a per-file time limit and a memory limit. A file that
// exceeds the time or memory limit is refused; the worker is replaced for the next file.
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
  /** Heap limit of the worker (MiB). */
  maxHeapMb: number;
}

export class ManifestParser {
  private readonly opts: ManifestParserOptions;
  private worker: Worker | null = null;
  private seq = 0;
  private pending: { id: number; resolve: (r: ParseResult) => void; timer: NodeJS.Timeout } | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: ManifestParserOptions) {
    this.opts = opts;
  }

  /** Parses one file (requests are served one at a time, in order). */
  parse(file: string): Promise<ParseResult> {
    const p = this.queue.then(() => this.run(file));
    this.queue = p.catch(() => undefined);
    return p;
  }

  private run(file: string): Promise<ParseResult> {
    return new Promise((resolve) => {
      const w = this.ensureWorker();
      const id = ++this.seq;
      const timer = setTimeout(() => {
        this.finish(id, { ok: false, reason: 'timeout', message: `parsing took longer than ${this.opts.timeoutMs} ms` });
        this.kill();
      }, this.opts.timeoutMs);
      this.pending = { id, resolve, timer };
      w.postMessage({ id, file, maxBytes: this.opts.maxBytes } satisfies ParseRequest);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./manifest-parser-worker.ts', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb } });
    w.unref();
    w.on('message', (m: ParseReply) => {
      const { id, ...result } = m;
      this.finish(id, result as ParseResult);
    });
    const died = (message: string): void => {
      if (this.worker !== w) return;
      this.worker = null;
      if (this.pending) this.finish(this.pending.id, { ok: false, reason: 'parser-crashed', message });
    };
    w.on('error', (e) => died(`parser worker failed: ${e.message}`));
    w.on('exit', (code) => died(`parser worker exited (code ${code})`));
    this.worker = w;
    return w;
  }

  private finish(id: number, r: ParseResult): void {
    if (!this.pending || this.pending.id !== id) return;
    clearTimeout(this.pending.timer);
    const { resolve } = this.pending;
    this.pending = null;
    resolve(r);
  }

  private kill(): void {
    const w = this.worker;
    this.worker = null;
    void w?.terminate();
  }

  close(): void {
    if (this.pending) this.finish(this.pending.id, { ok: false, reason: 'parser-crashed', message: 'parser closed' });
    this.kill();
  }
}
