// client-node informers whose caches keep only what Sluice reads (issue 14: the caches held every
// Service, EndpointSlice and Node whole). client-node 2.0.1's ListWatch has no transform hook, but
// it takes its Watch and its list function from the caller: both are wrapped here so that every
// listed item and every ADDED/MODIFIED/DELETED watch object passes through `transform` before
// ListWatch caches it or calls back. Everything else is client-node's own ListWatch, unchanged:
// list then watch from the list's resourceVersion, reconnects with backoff, a 410 (ERROR event or
// HTTP status) clears the resourceVersion and relists, emitting deletes for objects gone and
// add/update for the rest (updates only when the resourceVersion changed). BOOKMARK and ERROR
// objects are passed through untouched (ListWatch reads their resourceVersion / code).
//
// `carry` turns an object into a stub that keeps only the metadata ListWatch needs (name,
// namespace, resourceVersion) plus a payload the first callback takes (`takePayload`): the cache
// then holds stubs only, and the payload lives wherever the callback puts it (the store).
import { ListWatch, Watch, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';

export type Transform = (o: KubernetesObject) => KubernetesObject;

/** client-node's Watch, with every object event passed through `transform` first. */
class TransformingWatch extends Watch {
  private readonly transform: Transform;
  constructor(kc: KubeConfig, transform: Transform) {
    super(kc);
    this.transform = transform;
  }

  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    return super.watch(path, queryParams, (phase: string, obj: KubernetesObject | undefined) => {
      const isObject = phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED';
      callback(phase, isObject && obj && typeof obj === 'object' && obj.metadata ? this.transform(obj) : obj);
    }, done);
  }
}

/**
 * client-node's informer (makeInformer's ListWatch, not started) over `path`, caching
 * `transform(object)` instead of the object. `list` must return transformed items itself
 * (transforming page by page, so that whole pages are not kept while the next ones load).
 */
export function makeSlimInformer(kc: KubeConfig, path: string, list: () => Promise<KubernetesListObject<KubernetesObject>>, transform: Transform): Informer<KubernetesObject> & ObjectCache<KubernetesObject> {
  return new ListWatch(path, new TransformingWatch(kc, transform), list, false);
}

/** A cached stand-in for an object: its identity and version, and (until taken) the data it carried. */
export interface Carrier<T> extends KubernetesObject {
  metadata: { name?: string; namespace?: string; resourceVersion?: string };
  payload: T | undefined;
}

export function carry<T>(o: KubernetesObject, payload: T): Carrier<T> {
  const m = o.metadata ?? {};
  return { metadata: { name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion }, payload };
}

/** The payload of a stub (once: the stub the cache keeps no longer references it). */
export function takePayload<T>(o: KubernetesObject): T | undefined {
  const c = o as Carrier<T>;
  const p = c.payload;
  c.payload = undefined;
  return p;
}

/**
 * Nodes: drop the bulk nobody reads (managedFields; status.images, the node's image list, often
 * several KB), keep the rest as it is.
 */
export function withoutNodeBulk(o: KubernetesObject): KubernetesObject {
  const n = o as KubernetesObject & { status?: Record<string, unknown> };
  const { managedFields: _m, ...metadata } = (n.metadata ?? {}) as Record<string, unknown>;
  const out: KubernetesObject & { status?: Record<string, unknown> } = { ...n, metadata };
  if (n.status && typeof n.status === 'object') {
    const { images: _i, ...status } = n.status;
    out.status = status;
  }
  return out;
}
