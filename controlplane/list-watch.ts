// A Kubernetes informer over node:http(s): list (paged), then watch from the list's
// resourceVersion. It behaves as @kubernetes/client-node 2.0.1's ListWatch, the informer Sluice
// used before (test/integration/controlplane-list-watch.test.ts runs both against the fake API
// server and compares what they report):
// - start() lists when no resourceVersion is known, else watches from it; it resolves once the
//   watch is requested, or after an error (emitted as 'error').
// - A list replaces the cache: 'delete' for the keys gone, 'add' for new keys, 'update' for a
//   changed resourceVersion (an unchanged one is not reported). Paged (limit/continue); a continue
//   token that expired (410) restarts the list.
// - Watch events: ADDED/MODIFIED -> add/update (update only when the resourceVersion changed),
//   DELETED -> delete, BOOKMARK -> the resourceVersion only, ERROR with code 410 -> the
//   resourceVersion is forgotten (relist when the stream ends).
// - The stream ends (the server's timeout) -> watch again from the last resourceVersion; an HTTP
//   410 -> relist; 30 s without a byte -> abort and watch again at once; any other error ->
//   'error' and the informer stops (its owner restarts it: source-kubernetes.ts).
// - Reconnects back off (1 s doubling to 30 s) while no event arrives in between (client-node's).
//
// Memory (issue 14): the cache is key -> resourceVersion. Objects pass through `transform` and go
// to the callbacks; none is kept here. The first list of an empty cache hands each page's objects
// over as the page arrives (nothing to compare them with), so the whole list is never held; a
// relist collects its pages first and reports the differences at once, as client-node does.
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConnection } from './kube-connection.ts';
import { mark } from '../common/trace.ts';

export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export type Verb = 'add' | 'update' | 'delete';
type Callback = (o: KubeObject) => void;

export interface ListWatchOptions {
  /** Collection path, e.g. /api/v1/services. */
  path: string;
  labelSelector?: string;
  /** Ask for BOOKMARK events (allowWatchBookmarks). */
  bookmarks?: boolean;
  /** Items per list page (limit); 500 when absent. */
  pageSize?: number;
  /** Applied to every listed or watched object before the callbacks see it. */
  transform?: (o: KubeObject) => KubeObject;
  /** Told when an expired continue token restarts a list. */
  onListRestart?: () => void;
}

/** An error carrying the API server's HTTP status (statusCode) or watch ERROR code (code). */
export class KubeApiError extends Error {
  readonly statusCode: number;
  constructor(message: string, statusCode: number) {
    super(message);
    this.statusCode = statusCode;
  }
}

const BASE_RECONNECT_DELAY_MS = 1000;
const MAX_RECONNECT_DELAY_MS = 30_000;
/** client-node's Watch.requestTimeoutMs: no byte for this long aborts the watch (a new one starts at once). */
export const WATCH_IDLE_MS = 30_000;
const MAX_LIST_RESTARTS = 5;

const keyOf = (o: KubeObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
const is410 = (e: unknown): boolean => (e as { statusCode?: number } | null)?.statusCode === 410 || (e as { code?: number } | null)?.code === 410;

/**
 * GET `pathAndQuery`; resolves with the response once its headers arrived. A keep-alive socket the
 * server closed just as it was reused (ECONNRESET before any response) is retried once on a new
 * one, as Node's documentation advises: the request is a GET.
 */
async function get(conn: KubeConnection, pathAndQuery: string, signal: AbortSignal, retried = false): Promise<http.IncomingMessage> {
  const { url, options } = await conn.request(pathAndQuery);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { ...options, method: 'GET', headers: { ...options.headers, accept: 'application/json' }, signal }, resolve);
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (req.reusedSocket && err.code === 'ECONNRESET' && !retried && !signal.aborted) get(conn, pathAndQuery, signal, true).then(resolve, reject);
      else reject(err);
    });
    req.end();
  });
}

/**
 * The response body as text. Decoded chunk by chunk into V8 strings, not joined into one Buffer
 * first: a list page is ~1 MB, and a Buffer of that size is malloc'd outside V8's heap, where
 * glibc's dynamic mmap threshold soon keeps it in the main arena (issue 14: fragmentation that
 * stays in the RSS after the list).
 */
async function body(res: http.IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const c of res) text += c as string;
  return text;
}

/** The API server's Status message of a failed request, or the HTTP reason. */
async function failure(res: http.IncomingMessage): Promise<KubeApiError> {
  const status = res.statusCode ?? 0;
  let message = res.statusMessage || http.STATUS_CODES[status] || 'request failed';
  try {
    const s = JSON.parse(await body(res)) as { message?: unknown };
    if (typeof s.message === 'string' && s.message) message = s.message;
  } catch { /* not a Status */ }
  return new KubeApiError(`${message} (HTTP ${status})`, status);
}

export class ListWatch {
  private readonly conn: KubeConnection;
  private readonly opts: ListWatchOptions;
  /** key (namespace/name) -> resourceVersion of every object listed or watched and not deleted. */
  private readonly cache = new Map<string, string>();
  private readonly callbacks: Record<Verb | 'error' | 'connect', Array<(o: never) => void>> = { add: [], update: [], delete: [], error: [], connect: [] };
  private resourceVersion = '';
  private stopped = false;
  private reconnectDelayMs = 0;
  private hasConnected = false;
  /** The running request (list or watch); aborting it ends it without a report. */
  private current: AbortController | undefined;

  constructor(conn: KubeConnection, opts: ListWatchOptions) {
    this.conn = conn;
    this.opts = opts;
  }

  on(verb: Verb, cb: Callback): void;
  on(verb: 'error', cb: (err: unknown) => void): void;
  on(verb: 'connect', cb: () => void): void;
  on(verb: Verb | 'error' | 'connect', cb: (x: never) => void): void {
    this.callbacks[verb].push(cb);
  }

  private fire(verb: Verb, o: KubeObject): void {
    for (const cb of this.callbacks[verb].slice()) (cb as Callback)(o);
  }

  private fail(err: unknown): void {
    for (const cb of this.callbacks.error.slice()) (cb as (e: unknown) => void)(err);
  }

  /** How many objects the cache holds. */
  get size(): number {
    return this.cache.size;
  }

  latestResourceVersion(): string {
    return this.resourceVersion;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.reconnectDelayMs = 0;
    this.hasConnected = false;
    await this.next(null);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel();
  }

  private cancel(): void {
    this.current?.abort();
    this.current = undefined;
  }

  /** After a watch ended (err null: the server closed it) or failed, or on start: list if needed, then watch. */
  private async next(err: unknown): Promise<void> {
    this.cancel();
    if (err && is410(err)) this.resourceVersion = '';
    else if (err && (err as Error).name === 'TimeoutError') this.reconnectDelayMs = 0; // the idle timeout already waited
    else if (err) { this.fail(err); return; }
    if (this.stopped) return;
    for (const cb of this.callbacks.connect.slice()) (cb as () => void)();
    if (!this.resourceVersion) {
      const ac = new AbortController();
      this.current = ac;
      try {
        this.resourceVersion = await this.list(ac.signal);
      } catch (e) {
        if (ac.signal.aborted) return; // stopped, or superseded by start()
        this.fail(e);
        return;
      }
      if (this.current === ac) this.current = undefined;
    }
    if (this.reconnectDelayMs > 0 && this.hasConnected) await new Promise((r) => setTimeout(r, this.reconnectDelayMs));
    if (this.stopped) return;
    if (this.hasConnected) this.reconnectDelayMs = Math.min(this.reconnectDelayMs > 0 ? this.reconnectDelayMs * 2 : BASE_RECONNECT_DELAY_MS, MAX_RECONNECT_DELAY_MS);
    this.hasConnected = true;
    await this.watch();
  }

  private query(extra: Record<string, string | undefined>): string {
    const q = new URLSearchParams();
    if (this.opts.labelSelector) q.set('labelSelector', this.opts.labelSelector);
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) q.set(k, v);
    return `${this.opts.path}?${q}`;
  }

  private transform(o: KubeObject): KubeObject {
    return this.opts.transform && o && typeof o === 'object' && o.metadata ? this.opts.transform(o) : o;
  }

  /** Lists every page; reports what changed (see the header); returns the list's resourceVersion. */
  private async list(signal: AbortSignal): Promise<string> {
    const limit = String(this.opts.pageSize ?? 500);
    const streaming = this.cache.size === 0;
    for (let attempt = 0; ; attempt++) {
      const seen = new Set<string>();
      const held: KubeObject[] = [];
      let cont: string | undefined;
      let rv = '';
      try {
        do {
          const res = await get(this.conn, this.query({ limit, continue: cont }), signal);
          if (res.statusCode !== 200) throw await failure(res);
          const page = JSON.parse(await body(res)) as { metadata?: { resourceVersion?: string; continue?: string }; items?: KubeObject[] | null };
          if (cont === undefined) rv = page.metadata?.resourceVersion ?? '';
          for (const item of page.items ?? []) {
            const o = this.transform(item);
            seen.add(keyOf(o));
            if (streaming) this.addOrUpdate(o);
            else held.push(o);
          }
          cont = page.metadata?.continue || undefined;
        } while (cont);
      } catch (e) {
        if (cont !== undefined && is410(e) && attempt < MAX_LIST_RESTARTS) {
          this.opts.onListRestart?.();
          continue;
        }
        throw e;
      }
      for (const [key] of this.cache) {
        if (seen.has(key)) continue;
        this.cache.delete(key);
        const slash = key.indexOf('/');
        this.fire('delete', { metadata: { namespace: key.slice(0, slash) || undefined, name: key.slice(slash + 1) } });
      }
      for (const o of held) this.addOrUpdate(o);
      return rv;
    }
  }

  private addOrUpdate(o: KubeObject): void {
    const key = keyOf(o);
    const rv = o.metadata?.resourceVersion;
    const had = this.cache.get(key);
    if (had === undefined) {
      this.cache.set(key, rv ?? '');
      this.fire('add', o);
    } else if (!rv || had !== rv) {
      this.cache.set(key, rv ?? '');
      this.fire('update', o);
    }
  }

  /** Requests the watch; returns once it is established (or failed: then `next` already ran). */
  private async watch(): Promise<void> {
    const ac = new AbortController();
    this.current = ac;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const idle = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => { timedOut = true; ac.abort(); }, WATCH_IDLE_MS);
      timer.unref();
    };
    let finished = false;
    const done = (err: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      // Aborted by stop(), start() or a newer request: not this watch's business any more.
      if (ac.signal.aborted && !timedOut) return;
      ac.abort();
      const why = err && timedOut ? Object.assign(new Error('watch idle timeout'), { name: 'TimeoutError' }) : err;
      void this.next(why);
    };
    idle();
    let res: http.IncomingMessage;
    try {
      res = await get(this.conn, this.query({ watch: 'true', resourceVersion: this.resourceVersion, allowWatchBookmarks: this.opts.bookmarks ? 'true' : undefined }), ac.signal);
      if (res.statusCode !== 200) throw await failure(res);
    } catch (e) {
      done(e);
      return;
    }
    idle();
    let partial = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      mark('cpWatchData');
      idle();
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (line.trim()) this.event(line);
        if (finished) return;
      }
    });
    res.on('error', (e) => done(e));
    res.on('end', () => done(timedOut ? new Error('aborted') : null));
    res.on('close', () => done(timedOut ? new Error('aborted') : null));
  }

  private event(line: string): void {
    let ev: { type?: string; object?: KubeObject & { code?: number } };
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      return; // client-node ignores lines it cannot parse
    }
    const obj = ev.object;
    if (!obj || typeof obj !== 'object') return;
    switch (ev.type) {
      case 'ERROR':
        if (obj.code === 410) this.resourceVersion = '';
        return; // the stream ends next; then: relist (410) or watch again
      case 'ADDED':
      case 'MODIFIED':
        this.addOrUpdate(this.transform(obj));
        break;
      case 'DELETED': {
        const o = this.transform(obj);
        if (this.cache.delete(keyOf(o))) this.fire('delete', o);
        break;
      }
      case 'BOOKMARK':
        break;
      default:
        return;
    }
    this.reconnectDelayMs = 0;
    this.resourceVersion = obj.metadata?.resourceVersion ?? '';
  }
}
