// The Kubernetes source: informers (list-watch.ts) on v1 Services, discovery.k8s.io/v1
// EndpointSlices and v1 Nodes (their zone label, and whether they are being deleted: node-state.ts;
// get/list/watch only) feeding the store, over the connection kube-connection.ts reads from the
// kubeconfig or the pod's service account.
//
// - Services and EndpointSlices are selected as kube-proxy's informers select them: without the
//   service.kubernetes.io/service-proxy-name and service.kubernetes.io/headless labels.
// - Lists are paged (limit/continue); an expired continue token (410) restarts the list.
// - Watches ask for bookmarks (allowWatchBookmarks=true).
// - A 410 (ERROR event or HTTP status) makes the informer relist by itself and emit the differences.
// - Any other informer error stops it: we restart it with backoff (1 s doubling to 30 s), never
//   after stop().
// - The store is marked synced once every informer has completed a first list.
// - Objects not shaped as the schema says (kube-shape.ts) are dropped and reported.
// - Nothing is cached twice: the informers keep key -> resourceVersion only; what the callbacks get
//   is cut down to the fields of its shape (kube-shape.ts slimObject) and the store keeps that
//   (Services) or what it parses from it (EndpointSlices).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { StateStore } from './store.ts';
import { NOT_PROXIED_SELECTOR, objectKey, type KubeEndpointSlice, type KubeMeta, type KubeService } from './model.ts';
import { shapeErrors, slimObject } from './kube-shape.ts';
import { nodeDeletionReason, type KubeNodeLifecycle } from './node-state.ts';
import { fromKubeconfigFile, inCluster, viaClientNode, type KubeConnection } from './kube-connection.ts';
import { ListWatch, type KubeObject } from './list-watch.ts';

export interface KubernetesSourceOptions {
  store: StateStore;
  logger: Logger;
  /** Path of a kubeconfig file; in-cluster configuration when absent. */
  kubeconfig?: string;
  /** A ready client-node KubeConfig (tests, embedders); wins over kubeconfig. */
  kubeConfig?: KubeConfig;
  pageSize?: number;
  restartBackoffInitialMs?: number;
  restartBackoffMaxMs?: number;
  onSourceError?: () => void;
}

interface Watched {
  name: string;
  informer: ListWatch;
  listed: boolean;
  delayMs: number;
  timer: NodeJS.Timeout | null;
  restarting: boolean;
}

export class KubernetesSource {
  private readonly opts: KubernetesSourceOptions;
  private readonly log: Logger;
  private readonly conn: KubeConnection;
  private readonly watched: Watched[] = [];
  private stopped = false;

  constructor(opts: KubernetesSourceOptions) {
    this.opts = opts;
    this.log = opts.logger;
    if (opts.kubeConfig) this.conn = viaClientNode(opts.kubeConfig);
    else if (opts.kubeconfig) this.conn = fromKubeconfigFile(opts.kubeconfig);
    else this.conn = inCluster();
  }

  start(): void {
    const pageSize = this.opts.pageSize ?? 500;
    const store = this.opts.store;
    // What the callbacks get. An object whose shape is wrong is passed whole: the callbacks below
    // report it (and drop it from the store) from the same fields.
    const slim = (kind: string) => (o: KubeObject): KubeObject => (shapeErrors(kind, '', o).length > 0 ? o : slimObject(kind, o));
    const informer = (path: string, kind: string, selected: boolean): ListWatch => new ListWatch(this.conn, {
      path, pageSize, bookmarks: true, transform: slim(kind), labelSelector: selected ? NOT_PROXIED_SELECTOR : undefined,
      onListRestart: () => this.log.info({ resource: path }, 'list continue token expired (410); restarting the list'),
    });
    const svcInf = informer('/api/v1/services', 'Service', true);
    const sliceInf = informer('/apis/discovery.k8s.io/v1/endpointslices', 'EndpointSlice', true);
    const nodeInf = informer('/api/v1/nodes', 'Node', false);

    // Objects whose JSON shape is not the schema's (kube-shape.ts) are dropped and reported, like
    // objects the model finds malformed; the store reports each distinct error list once.
    const shapeOk = (kind: string, o: KubeObject, drop: (key: string) => void): boolean => {
      const key = objectKey(o.metadata);
      const errs = shapeErrors(kind, key, o);
      store.reportErrors(`${kind} ${key} (shape)`, errs);
      if (errs.length > 0) drop(key);
      return errs.length === 0;
    };
    const upsertService = (o: KubeObject): void => { if (shapeOk('Service', o, (k) => store.deleteService(k))) store.upsertService(o as KubeService); };
    const upsertSlice = (o: KubeObject): void => { if (shapeOk('EndpointSlice', o, (k) => store.deleteSlice(k))) store.upsertSlice(o as KubeEndpointSlice); };
    svcInf.on('add', upsertService);
    svcInf.on('update', upsertService);
    svcInf.on('delete', (o) => { store.reportErrors(`Service ${objectKey(o.metadata)} (shape)`, []); store.deleteService(objectKey(o.metadata)); });
    sliceInf.on('add', upsertSlice);
    sliceInf.on('update', upsertSlice);
    sliceInf.on('delete', (o) => { store.reportErrors(`EndpointSlice ${objectKey(o.metadata)} (shape)`, []); store.deleteSlice(objectKey(o.metadata)); });
    const nodeName = (o: KubeObject): string => o.metadata?.name ?? '';
    const upsertNode = (o: KubeObject): void => {
      if (shapeOk('Node', o, () => store.deleteNode(nodeName(o)))) store.upsertNode(nodeName(o), (o.metadata as KubeMeta | undefined)?.labels, nodeDeletionReason(o as KubeNodeLifecycle));
    };
    nodeInf.on('add', upsertNode);
    nodeInf.on('update', upsertNode);
    nodeInf.on('delete', (o) => { store.reportErrors(`Node ${objectKey(o.metadata)} (shape)`, []); store.deleteNode(nodeName(o)); });

    for (const [name, informer] of [['services', svcInf], ['endpointslices', sliceInf], ['nodes', nodeInf]] as const) {
      const w: Watched = { name, informer, listed: false, delayMs: 0, timer: null, restarting: false };
      this.watched.push(w);
      informer.on('error', (err: unknown) => this.onError(w, err));
      informer.on('connect', () => this.log.debug({ resource: name }, 'informer (re)connecting'));
      // A list or watch event means the informer works again: reset its restart backoff.
      informer.on('add', () => { w.delayMs = 0; });
      informer.on('update', () => { w.delayMs = 0; });
      informer.on('delete', () => { w.delayMs = 0; });
      void this.run(w);
    }
  }

  /** Starts (or restarts) one informer; marks the store synced once every informer has listed. */
  private async run(w: Watched): Promise<void> {
    if (this.stopped) return;
    try {
      await w.informer.start();
    } catch (e) {
      this.onError(w, e);
      return;
    }
    if (this.stopped) return;
    // start() resolves after the list succeeded and the watch was requested (or after an error,
    // which went to onError). resourceVersion is set once a list succeeded.
    const rv = w.informer.latestResourceVersion();
    if (rv && !w.listed) {
      w.listed = true;
      this.log.info({ resource: w.name, resourceVersion: rv, objects: w.informer.size }, 'initial list done');
      if (this.watched.every((x) => x.listed)) {
        this.opts.store.markSynced();
        this.log.info({ services: this.opts.store.size }, 'kubernetes source synced');
      }
    }
  }

  private onError(w: Watched, err: unknown): void {
    this.opts.onSourceError?.();
    if (this.stopped || w.timer) return;
    const initial = this.opts.restartBackoffInitialMs ?? 1000;
    const max = this.opts.restartBackoffMaxMs ?? 30_000;
    w.delayMs = w.delayMs === 0 ? initial : Math.min(max, w.delayMs * 2);
    const delay = w.delayMs * (0.8 + Math.random() * 0.4);
    const e = err as { message?: string; statusCode?: number; code?: number } | undefined;
    this.log.warn({ resource: w.name, err: e?.message ?? String(err), status: e?.statusCode ?? e?.code, retryInMs: Math.round(delay) }, 'informer failed; restarting with backoff');
    w.timer = setTimeout(() => {
      w.timer = null;
      if (this.stopped) return;
      void this.run(w);
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watched) {
      if (w.timer) clearTimeout(w.timer);
      w.timer = null;
      await w.informer.stop();
    }
    this.conn.close();
  }
}
