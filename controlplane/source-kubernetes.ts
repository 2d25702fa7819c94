// The Kubernetes source: client-node informers on v1 Services, discovery.k8s.io/v1 EndpointSlices
// and v1 Nodes (their zone label, and whether they are being deleted: node-state.ts; get/list/watch
// only) feeding the store.
//
// - Services and EndpointSlices are selected as kube-proxy's informers select them: without the
//   service.kubernetes.io/service-proxy-name and service.kubernetes.io/headless labels.
// - Lists are paged (limit/continue); an expired continue token (410) restarts the list.
// - Watches ask for bookmarks (allowWatchBookmarks=true).
// - A 410 (ERROR event or HTTP status) makes the informer relist by itself and emit the differences.
// - Any other informer error stops it (client-node behaviour): we restart it with backoff
//   (1 s doubling to 30 s), never after stop().
// - The store is marked synced once both informers have completed a first list.
// - Objects not shaped as the schema says (kube-shape.ts) are dropped and reported.
// - The informers' caches keep only what is read (slim-informer.ts): Services cut down to the
//   fields of their shape (shared with the store), EndpointSlices to a stub (name, namespace,
//   resourceVersion; the store keeps the parsed slice), Nodes without managedFields and images.
import { KubeConfig, CoreV1Api, DiscoveryV1Api, type Informer, type KubernetesObject, type KubernetesListObject, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { StateStore } from './store.ts';
import { NOT_PROXIED_SELECTOR, objectKey, type KubeEndpointSlice, type KubeMeta, type KubeService } from './model.ts';
import { shapeErrors, slimObject } from './kube-shape.ts';
import { nodeDeletionReason, type KubeNodeLifecycle } from './node-state.ts';
import { carry, makeSlimInformer, takePayload, withoutNodeBulk, type Transform } from './slim-informer.ts';

export interface KubernetesSourceOptions {
  store: StateStore;
  logger: Logger;
  /** Path of a kubeconfig file; in-cluster configuration when absent. */
  kubeconfig?: string;
  /** A ready KubeConfig (tests); wins over kubeconfig. */
  kubeConfig?: KubeConfig;
  pageSize?: number;
  restartBackoffInitialMs?: number;
  restartBackoffMaxMs?: number;
  onSourceError?: () => void;
}

type Inf<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

interface Watched {
  name: string;
  informer: Inf<KubernetesObject>;
  listed: boolean;
  delayMs: number;
  timer: NodeJS.Timeout | null;
  restarting: boolean;
}

function is410(e: unknown): boolean {
  const x = e as { code?: number; statusCode?: number } | null;
  return x?.code === 410 || x?.statusCode === 410;
}

/**
 * Pages through a list call, transforming each page's items before the next page loads; restarts
 * from scratch when the continue token expired (410).
 */
async function pagedList(
  fetchPage: (cont: string | undefined) => Promise<KubernetesListObject<KubernetesObject>>,
  transform: Transform, log: Logger, what: string,
): Promise<KubernetesListObject<KubernetesObject>> {
  for (let attempt = 0; ; attempt++) {
    const items: KubernetesObject[] = [];
    let cont: string | undefined;
    let first: KubernetesListObject<KubernetesObject> | undefined;
    try {
      do {
        const page = await fetchPage(cont);
        first ??= { ...page, items: [] };
        for (const o of page.items ?? []) items.push(o && typeof o === 'object' && o.metadata ? transform(o) : o);
        cont = page.metadata?._continue || undefined;
      } while (cont);
      return { ...first!, items, metadata: { ...first!.metadata, _continue: undefined, resourceVersion: first!.metadata?.resourceVersion } };
    } catch (e) {
      if (cont !== undefined && is410(e) && attempt < 5) {
        log.info({ resource: what }, 'list continue token expired (410); restarting the list');
        continue;
      }
      throw e;
    }
  }
}

export class KubernetesSource {
  private readonly opts: KubernetesSourceOptions;
  private readonly log: Logger;
  private readonly kc: KubeConfig;
  private readonly watched: Watched[] = [];
  private stopped = false;

  constructor(opts: KubernetesSourceOptions) {
    this.opts = opts;
    this.log = opts.logger;
    if (opts.kubeConfig) this.kc = opts.kubeConfig;
    else {
      this.kc = new KubeConfig();
      if (opts.kubeconfig) this.kc.loadFromFile(opts.kubeconfig);
      else this.kc.loadFromCluster();
    }
  }

  start(): void {
    const limit = this.opts.pageSize ?? 500;
    const core = this.kc.makeApiClient(CoreV1Api);
    const disco = this.kc.makeApiClient(DiscoveryV1Api);
    const store = this.opts.store;

    const labelSelector = NOT_PROXIED_SELECTOR;
    const watchQuery = `allowWatchBookmarks=true&labelSelector=${encodeURIComponent(labelSelector)}`;
    // What each cache keeps. An object whose shape is wrong is kept whole: the callbacks below
    // report it (and drop it from the store) from the same fields.
    const slim = (kind: string): Transform => (o) => (shapeErrors(kind, '', o).length > 0 ? o : slimObject(kind, o));
    const slimService = slim('Service');
    const slimSlice = slim('EndpointSlice');
    const sliceStub: Transform = (o) => carry(o, slimSlice(o));
    const svcInf = makeSlimInformer(this.kc, `/api/v1/services?${watchQuery}`, () =>
      pagedList((cont) => core.listServiceForAllNamespaces({ limit, _continue: cont, labelSelector }) as Promise<KubernetesListObject<KubernetesObject>>, slimService, this.log, 'services'), slimService);
    const sliceInf = makeSlimInformer(this.kc, `/apis/discovery.k8s.io/v1/endpointslices?${watchQuery}`, () =>
      pagedList((cont) => disco.listEndpointSliceForAllNamespaces({ limit, _continue: cont, labelSelector }) as Promise<KubernetesListObject<KubernetesObject>>, sliceStub, this.log, 'endpointslices'), sliceStub);
    const nodeInf = makeSlimInformer(this.kc, '/api/v1/nodes?allowWatchBookmarks=true', () =>
      pagedList((cont) => core.listNode({ limit, _continue: cont }) as Promise<KubernetesListObject<KubernetesObject>>, withoutNodeBulk, this.log, 'nodes'), withoutNodeBulk);

    // Objects whose JSON shape is not the schema's (kube-shape.ts) are dropped and reported, like
    // objects the model finds malformed; the store reports each distinct error list once.
    const shapeOk = (kind: string, o: KubernetesObject, drop: (key: string) => void): boolean => {
      const key = objectKey(o.metadata);
      const errs = shapeErrors(kind, key, o);
      store.reportErrors(`${kind} ${key} (shape)`, errs);
      if (errs.length > 0) drop(key);
      return errs.length === 0;
    };
    const upsertService = (o: KubernetesObject): void => { if (shapeOk('Service', o, (k) => store.deleteService(k))) store.upsertService(o as KubeService); };
    const upsertSlice = (stub: KubernetesObject): void => {
      const o = takePayload<KubernetesObject>(stub);
      if (o && shapeOk('EndpointSlice', o, (k) => store.deleteSlice(k))) store.upsertSlice(o as KubeEndpointSlice);
    };
    svcInf.on('add', upsertService);
    svcInf.on('update', upsertService);
    svcInf.on('delete', (o) => { store.reportErrors(`Service ${objectKey(o.metadata)} (shape)`, []); store.deleteService(objectKey(o.metadata)); });
    sliceInf.on('add', upsertSlice);
    sliceInf.on('update', upsertSlice);
    sliceInf.on('delete', (o) => { store.reportErrors(`EndpointSlice ${objectKey(o.metadata)} (shape)`, []); store.deleteSlice(objectKey(o.metadata)); });
    const nodeName = (o: KubernetesObject): string => o.metadata?.name ?? '';
    const upsertNode = (o: KubernetesObject): void => {
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
    const rv = (w.informer as unknown as { latestResourceVersion?: () => string }).latestResourceVersion?.() ?? '';
    if (rv && !w.listed) {
      w.listed = true;
      this.log.info({ resource: w.name, resourceVersion: rv, objects: w.informer.list().length }, 'initial list done');
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
  }
}
