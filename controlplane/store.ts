// The in-memory store fed by a source (Kubernetes informers or the manifests directory): raw
// Services, EndpointSlices and Nodes' zones in, node-independent service models out (projected per
// node on demand). Changes are batched: every
// mutation marks service keys dirty and a flush (scheduled on the next macrotask, or forced with
// flush()) rebuilds only those services and emits 'change' with the keys whose message changed.
//
// Memory (issue 14): what is kept is the inputs, compact, and the outputs, encoded. Slices are
// kept packed (packed-slice.ts: one string each, unpacked only when their service is rebuilt). A
// service every node sees alike keeps only the encoded bytes agents are sent (made when it is
// rebuilt, and compared to tell whether it changed); its model is rebuilt on demand (modelOf). A
// service whose view depends on the node (policy Local, topology hints) keeps its model and one
// encoding per distinct view, made on first use (viewClass: nodes the model does not mention share
// one), never one per node.
import { EventEmitter } from 'node:events';
import {
  buildService, dependsOnNode, nodesNamed, objectKey, parseSlice, projectForNode, sameModel, usesHints, viewClass,
  type KubeEndpointSlice, type KubeService, type ModelError, type ParsedSlice, type ServiceModel,
} from './model.ts';
import { ZONE_LABEL } from './topology.ts';
import { encodeUpsert, type Service } from '../proto/contract.ts';
import { packSlice, unpackSlice } from './packed-slice.ts';
import { mark } from '../common/trace.ts';

/** Set by the EndpointSlice controller: when the change that produced this slice version happened. */
export const TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';

export interface ServiceEntry {
  key: string;
  /** Node-dependent services only (the others: modelOf rebuilds it). */
  model: ServiceModel | undefined;
  /** Store-wide revision at which this model last changed. */
  rev: number;
  endpointCount: number;
  /** Some endpoint has topology hints: the per-node message depends on the node's zone. */
  hinted: boolean;
  /** The per-node message differs between nodes (policy Local or hints). */
  nodeDependent: boolean;
  /** The encoded message (encodeUpsert) every node is sent; node-independent models only. */
  encoded: string | undefined;
  /** Node-dependent models: the nodes the model mentions, and the encoded message per viewClass. */
  named: Set<string> | undefined;
  views: Map<string, string> | undefined;
}

export interface StoreEvents {
  change: [keys: Set<string>];
  /** A node's deletion state (node-state.ts) changed, or its Node object came or went. */
  node: [name: string];
  /** Errors of one object changed (new list; empty = the object is valid again or gone). */
  errors: [objectKey: string, errors: ModelError[]];
  synced: [];
}

export class StateStore extends EventEmitter<StoreEvents> {
  private readonly rawServices = new Map<string, KubeService>();
  /** slice key -> the slice packed (packed-slice.ts). */
  private readonly slices = new Map<string, string>();
  /** Slices parsed since the last flush, by key: the flush uses them instead of unpacking. */
  private readonly fresh = new Map<string, ParsedSlice>();
  /**
   * service key -> its slices' keys: the key alone for a service with one slice (most), else an
   * array of exactly its length (a Set per service cost ~150 bytes: 1.5 MiB at 10,000 services).
   */
  private readonly slicesByService = new Map<string, string | readonly string[]>();
  /** slice key -> its endpoints.kubernetes.io/last-change-trigger-time annotation. */
  private readonly triggerTimes = new Map<string, string>();
  private readonly entries = new Map<string, ServiceEntry>();
  private readonly objectErrors = new Map<string, ModelError[]>();
  private readonly dirty = new Set<string>();
  /** Node name -> its topology.kubernetes.io/zone label ('' = none). */
  private readonly zones = new Map<string, string>();
  /** Node name -> why it is being deleted ('' = it is not); present exactly for the Nodes that exist. */
  private readonly nodeDeletions = new Map<string, string>();
  private flushScheduled = false;
  private revCounter = 0;
  private endpointTotal = 0;
  private syncedFlag = false;

  // ---- mutations --------------------------------------------------------------------------
  upsertService(svc: KubeService): void {
    const key = objectKey(svc.metadata);
    this.rawServices.set(key, svc);
    this.markDirty(key);
  }

  deleteService(key: string): void {
    if (this.rawServices.delete(key)) this.markDirty(key);
  }

  upsertSlice(slice: KubeEndpointSlice): void {
    const parsed = parseSlice(slice);
    const old = this.sliceOf(parsed.key);
    if (old) this.unlinkSlice(old);
    this.slices.set(parsed.key, packSlice(parsed));
    if (parsed.service) this.fresh.set(parsed.key, parsed);
    const trigger = slice.metadata?.annotations?.[TRIGGER_TIME_ANNOTATION];
    if (trigger && !Number.isNaN(Date.parse(trigger))) this.triggerTimes.set(parsed.key, trigger);
    else this.triggerTimes.delete(parsed.key);
    if (parsed.service) {
      const keys = this.sliceKeysOf(parsed.service);
      if (!keys.includes(parsed.key)) this.slicesByService.set(parsed.service, keys.length === 0 ? parsed.key : [...keys, parsed.key]);
      this.markDirty(parsed.service);
    }
    this.setErrors(`EndpointSlice ${parsed.key}`, parsed.errors);
  }

  deleteSlice(key: string): void {
    const old = this.sliceOf(key);
    if (!old) return;
    this.slices.delete(key);
    this.fresh.delete(key);
    this.triggerTimes.delete(key);
    this.unlinkSlice(old);
    this.setErrors(`EndpointSlice ${key}`, []);
  }

  /** Replaces the whole content (manifests source): only what differs is marked dirty. */
  replaceAll(services: KubeService[], slices: KubeEndpointSlice[]): void {
    const svcKeys = new Set<string>();
    for (const s of services) {
      const key = objectKey(s.metadata);
      svcKeys.add(key);
      const prev = this.rawServices.get(key);
      if (!prev || JSON.stringify(prev) !== JSON.stringify(s)) this.upsertService(s);
    }
    for (const key of [...this.rawServices.keys()]) if (!svcKeys.has(key)) this.deleteService(key);
    const sliceKeys = new Set<string>();
    const sliceJson = new Map<string, string>();
    for (const s of slices) {
      const key = objectKey(s.metadata);
      sliceKeys.add(key);
      const json = JSON.stringify(s);
      sliceJson.set(key, json);
      if (this.lastSliceJson.get(key) !== json) this.upsertSlice(s);
    }
    for (const key of [...this.slices.keys()]) if (!sliceKeys.has(key)) this.deleteSlice(key);
    this.lastSliceJson = sliceJson;
  }
  private lastSliceJson = new Map<string, string>();

  /**
   * A Node's labels (only its zone matters; a zone change re-projects the services with hints) and
   * why it is being deleted ('' = it is not; node-state.ts), which goes to that node's agent.
   */
  upsertNode(name: string, labels: Record<string, string> | undefined, deletionReason = ''): void {
    const zone = labels?.[ZONE_LABEL] ?? '';
    const before = this.zones.get(name) ?? '';
    this.zones.set(name, zone);
    if (before !== zone) this.zoneChanged(name);
    if (this.nodeDeletions.get(name) !== deletionReason) {
      this.nodeDeletions.set(name, deletionReason);
      this.emit('node', name);
    }
  }

  deleteNode(name: string): void {
    if (this.nodeDeletions.delete(name)) this.emit('node', name);
    const before = this.zones.get(name);
    if (before === undefined) return;
    this.zones.delete(name);
    if (before !== '') this.zoneChanged(name);
  }

  /** Replaces every Node (manifests source); `deletions`: name -> why it is being deleted. */
  replaceNodes(nodes: Map<string, Record<string, string> | undefined>, deletions?: ReadonlyMap<string, string>): void {
    for (const name of [...this.zones.keys()]) if (!nodes.has(name)) this.deleteNode(name);
    for (const [name, labels] of nodes) this.upsertNode(name, labels, deletions?.get(name) ?? '');
  }

  zoneOf(node: string): string {
    return this.zones.get(node) ?? '';
  }

  /** Why the node is being deleted ('' = it is not), undefined when no Node object of that name exists. */
  nodeDeletionOf(node: string): string | undefined {
    return this.nodeDeletions.get(node);
  }

  /**
   * The per-node projection of services with topology hints depends on the node's zone: give them a
   * new revision so that every agent is sent them again (zone changes are rare).
   */
  private zoneChanged(node: string): void {
    const changed = new Set<string>();
    for (const e of this.entries.values()) {
      if (!e.hinted) continue;
      e.views = undefined;
      e.rev = ++this.revCounter;
      changed.add(e.key);
    }
    if (changed.size > 0) this.emit('change', changed);
  }

  markSynced(): void {
    if (this.syncedFlag) return;
    this.flush();
    // Encoded in one go now rather than service by service during the list: the encodings are
    // then allocated together, not interleaved with the list's garbage (issue 14: V8 heap pages
    // left partly used after the list, ~110 MiB at 100,000 services).
    for (const e of this.entries.values()) if (!e.model) this.encodedFor(e, '');
    this.syncedFlag = true;
    this.emit('synced');
  }

  get synced(): boolean {
    return this.syncedFlag;
  }

  // ---- reads --------------------------------------------------------------------------------
  get size(): number {
    return this.entries.size;
  }
  get endpointCount(): number {
    return this.endpointTotal;
  }
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }
  get(key: string): ServiceEntry | undefined {
    return this.entries.get(key);
  }
  /** Current validation errors of every object. */
  errors(): ModelError[] {
    return [...this.objectErrors.values()].flat();
  }
  invalidObjectCount(): number {
    return this.objectErrors.size;
  }

  /**
   * A service's node-independent model: the one kept (node-dependent services), else rebuilt from
   * the store's current Service and slices (for a service every node sees alike only its encoding
   * is kept; once flushed, the rebuilt model is the one that encoding was made from).
   */
  modelOf(entry: ServiceEntry | string): ServiceModel | undefined {
    const e = typeof entry === 'string' ? this.entries.get(entry) : entry;
    if (!e) return undefined;
    return e.model ?? this.build(e.key)?.model ?? undefined;
  }

  /** The message for one node (built on each call: what is sent is encodedFor's). */
  viewFor(entry: ServiceEntry, nodeName: string): Service {
    const model = this.modelOf(entry);
    if (!model) throw new Error(`service ${entry.key} has no model`);
    return projectForNode(model, { name: nodeName, zone: this.zoneOf(nodeName) });
  }

  /** The message for one node, encoded as an upsert of a StateUpdate (encodeUpsert); cached per entry. */
  encodedFor(entry: ServiceEntry, nodeName: string): string {
    if (!entry.model) return (entry.encoded ??= encodeUpsert(projectForNode(this.modelOf(entry)!, '')));
    const node = { name: nodeName, zone: this.zoneOf(nodeName) };
    const cls = viewClass(entry.named ??= nodesNamed(entry.model), entry.hinted, node);
    entry.views ??= new Map();
    let v = entry.views.get(cls);
    if (!v) entry.views.set(cls, (v = encodeUpsert(projectForNode(entry.model, node))));
    return v;
  }

  // ---- internals ----------------------------------------------------------------------------
  /** A slice by key: parsed since the last flush, or unpacked. */
  private sliceOf(key: string): ParsedSlice | undefined {
    const f = this.fresh.get(key);
    if (f) return f;
    const packed = this.slices.get(key);
    return packed === undefined ? undefined : unpackSlice(packed);
  }

  /** Builds a service's model from its Service and slices (null: no Service, or not modelled). */
  private build(key: string): { model: ServiceModel | null; errors: ModelError[] } | null {
    const raw = this.rawServices.get(key);
    if (!raw) return null;
    const sliceKeys = this.sliceKeysOf(key);
    const parsed: ParsedSlice[] = [];
    for (const k of sliceKeys) { const p = this.sliceOf(k); if (p) parsed.push(p); }
    const r = buildService(raw, parsed);
    if (r.model) r.model.lastChangeTriggerTime = this.latestTrigger(sliceKeys);
    return r;
  }

  private sliceKeysOf(service: string): readonly string[] {
    const v = this.slicesByService.get(service);
    return v === undefined ? [] : typeof v === 'string' ? [v] : v;
  }

  /** The latest trigger time among a service's slices (kube-proxy measures from each change). */
  private latestTrigger(sliceKeys: Iterable<string>): string {
    let best = '', bestMs = -Infinity;
    for (const k of sliceKeys) {
      const t = this.triggerTimes.get(k);
      if (t && Date.parse(t) > bestMs) { best = t; bestMs = Date.parse(t); }
    }
    return best;
  }

  private unlinkSlice(p: ParsedSlice): void {
    if (!p.service) return;
    const rest = this.sliceKeysOf(p.service).filter((k) => k !== p.key);
    if (rest.length === 0) this.slicesByService.delete(p.service);
    else this.slicesByService.set(p.service, rest.length === 1 ? rest[0]! : rest);
    this.markDirty(p.service);
  }

  /** Errors found by a source (unparsable file, allocation failure...): same reporting path. */
  reportErrors(objKey: string, errs: ModelError[]): void {
    this.setErrors(objKey, errs);
  }

  private setErrors(objKey: string, errs: ModelError[]): void {
    const prev = this.objectErrors.get(objKey);
    if (errs.length === 0) {
      if (prev) { this.objectErrors.delete(objKey); this.emit('errors', objKey, []); }
      return;
    }
    if (prev && JSON.stringify(prev) === JSON.stringify(errs)) return;
    this.objectErrors.set(objKey, errs);
    this.emit('errors', objKey, errs);
  }

  private markDirty(key: string): void {
    this.dirty.add(key);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Rebuilds dirty services now; emits 'change' with the keys whose model changed. */
  flush(): void {
    this.flushScheduled = false;
    if (this.dirty.size === 0) { this.fresh.clear(); return; }
    mark('cpFlush');
    const changed = new Set<string>();
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const key of keys) {
      const prev = this.entries.get(key);
      const r = this.build(key);
      const model = r?.model ?? null;
      this.setErrors(`Service ${key}`, r?.errors ?? []);
      if (!model) {
        if (prev) {
          this.entries.delete(key);
          this.endpointTotal -= prev.endpointCount;
          changed.add(key);
        }
        continue;
      }
      const nodeDependent = dependsOnNode(model);
      // A service every node sees alike: its message is the same for any node; keep only that.
      // Before the initial sync nothing is sent, so nothing is compared: encoded at markSynced.
      const encoded = nodeDependent || !this.syncedFlag ? undefined : encodeUpsert(projectForNode(model, ''));
      const endpointCount = model.ports.reduce((n, p) => n + p.endpoints.length, 0);
      this.endpointTotal += endpointCount - (prev?.endpointCount ?? 0);
      if (prev && (nodeDependent ? prev.model !== undefined && sameModel(prev.model, model) : encoded !== undefined && prev.encoded === encoded)) {
        prev.endpointCount = endpointCount; // an endpoint no node is sent (neither ready nor serving) may have come or gone
        continue;
      }
      this.entries.set(key, {
        key, model: nodeDependent ? model : undefined, rev: ++this.revCounter, endpointCount, hinted: usesHints(model), nodeDependent,
        encoded, named: undefined, views: undefined,
      });
      changed.add(key);
    }
    this.fresh.clear();
    if (changed.size > 0) this.emit('change', changed);
  }
}
