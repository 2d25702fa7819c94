// Keeps the datapath equal to the desired services: snapshots replace everything, deltas change
// only the services they name. A service that cannot be turned into frontends is reported and
// keeps whatever it had programmed, without holding back the others; a change that does not fit
// the maps, or whose map writes fail, throws with the maps and this reconciler as they were (see
// Datapath.apply), so the caller can nack it with the error's message.
import { CapacityError, frontendKey, type Datapath, type DatapathChange, type Frontend } from './datapath.ts';
import { isShortCircuitKey } from './frontend.ts';
import { planService, refusedPorts, type NodeContext, type SkippedFrontend } from './services.ts';
import { serviceKey, type Service } from '../proto/contract.ts';

export interface ApplyStats {
  services: number; changed: number; removed: number; errors: string[];
  /** UDP backends removed: their flows are to be forgotten now (gc.ts forgetRemovedUdp). */
  udpBackendsGone: number;
  /** Ports of the desired services the datapath leaves out (SCTP), each with why. */
  refused: Array<{ port: string; reason: string }>;
  /**
   * Per service, the frontends of families the datapath does not program yet (IPv6), in key order;
   * `whole`: the service has no frontend of a programmed family (an IPv6-only service), so nothing
   * of it is programmed.
   */
  skipped: SkippedService[];
  /** `skipped` differs from the previous change's (so it needs reporting again). */
  skippedChanged: boolean;
  /**
   * service key -> lastChangeTriggerTime, of the services of this change that have one (a snapshot:
   * all of its services; kube-proxy's network programming latency is measured from it).
   */
  triggers: Map<string, string>;
}

/**
 * A snapshot is programmed a part at a time: the frontends of services holding about this many
 * backends (or this many frontends) at once, so what a snapshot holds besides its source and the
 * agent's view is bounded, whatever its size.
 */
export const SNAPSHOT_PART_BACKENDS = 2048;
export const SNAPSHOT_PART_FRONTENDS = 512;

/** The empty list the desired services share (never written to). */
const NONE: readonly never[] = Object.freeze([]);

/** A snapshot that the parts cannot apply as the whole would (see applySnapshot). */
class WholeSnapshot extends Error {}

export interface SkippedService {
  service: string;
  whole: boolean;
  frontends: SkippedFrontend[];
}

export class Reconciler {
  readonly #dp: Datapath;
  readonly #ctx: NodeContext | undefined;
  /** service key -> its frontend keys, as last applied; and the reverse. */
  #owned = new Map<string, string[]>();
  #ownerOf = new Map<string, string>();
  /** Every desired service's key, as last applied. */
  #desired = new Set<string>();
  /** The desired services something besides the maps reads (Reconciler.services). */
  #kept = new Map<string, Service>();
  /** service key -> its skipped frontends, for the services that have some. */
  #skipped = new Map<string, SkippedService>();
  /** #skipped as a sorted list, rebuilt only when an entry changed (a delta costs what it changes). */
  #skippedSorted: SkippedService[] = [];
  #skippedDirty = false;
  /** Desired services with ports the datapath leaves out (few): kept per change, so a delta does not walk every service. */
  #refusedBy = new Map<string, ApplyStats['refused']>();

  /** A snapshot part's size (tests make it small). */
  readonly #part: { backends: number; frontends: number };

  constructor(dp: Datapath, ctx?: NodeContext, part?: { backends: number; frontends: number }) {
    this.#dp = dp;
    this.#ctx = ctx;
    this.#part = part ?? { backends: SNAPSHOT_PART_BACKENDS, frontends: SNAPSHOT_PART_FRONTENDS };
  }

  /**
   * The desired services, as last applied, that something besides the maps reads: those with a
   * health-check node port (ServiceHealthServers) or a Local traffic policy (kube-proxy's
   * no-local-endpoint count, metrics-kubeproxy.ts); most services have neither, and the maps and
   * the agent's view hold what programming them needs. Each keeps only this node's endpoints (those
   * with its nodeName), the only ones those readers look at. (Refused ports and change trigger times
   * are taken from each change as it is applied.)
   */
  get services(): ReadonlyMap<string, Service> {
    return this.#kept;
  }

  /** The keys of every desired service, as last applied. */
  get desired(): ReadonlySet<string> {
    return this.#desired;
  }

  /** What Reconciler.services keeps of `s`: nothing, for a service none of its readers looks at. */
  #slim(s: Service): Service | undefined {
    if (!s.healthCheckNodePort && !s.internalTrafficLocal && !s.externalTrafficLocal) return undefined;
    const node = this.#ctx?.node ?? '';
    // Empty lists shared (most services have no externalIPs, LB IPs, ranges, or endpoints on this
    // node: at 100,000 services, an array each is ~20 MiB).
    const e = <T>(l: T[]): T[] => (l.length ? l : NONE as unknown as T[]);
    return {
      ...s, externalIps: e(s.externalIps), loadBalancerIps: e(s.loadBalancerIps), loadBalancerSourceRanges: e(s.loadBalancerSourceRanges),
      ipFamilies: e(s.ipFamilies),
      ports: s.ports.map((p) => (p.endpoints.every((x) => x.nodeName === node) ? p : { ...p, endpoints: e(p.endpoints.filter((x) => x.nodeName === node)) })),
    };
  }

  /**
   * Replace everything: frontends of services not in `services` go (also ones adopted from pins).
   * All or nothing, as one Datapath change, programmed in parts (Datapath.begin()): each service is
   * planned and its frontends written as the source yields it, a part at a time, so a large snapshot
   * never has every service's frontends in memory at once, and `services` may be a source that makes
   * each service as it is read (agent/state-file.ts' stateFileServices). The removals come last. Two
   * cases are applied whole instead, with the removals first, as before parts existed: a part that
   * does not fit the maps before the removals are made (a snapshot replacing many services on nearly
   * full maps; whole, it may fit, or is refused with the capacity error) and a service named twice
   * (the last one counts); `services` is then iterated a second time.
   */
  applySnapshot(services: Iterable<Service>): ApplyStats {
    try {
      return this.#applySnapshotInParts(services);
    } catch (e) {
      if (e instanceof WholeSnapshot || e instanceof CapacityError) return this.#applySnapshotWhole([...services]);
      throw e;
    }
  }

  #applySnapshotInParts(services: Iterable<Service>): ApplyStats {
    const ch: DatapathChange = this.#dp.begin();
    const next = new Set<string>(), kept = new Map<string, Service>(), triggers = new Map<string, string>();
    const refusedBy = new Map<string, ApplyStats['refused']>();
    const plan = this.#planner(() => undefined);
    let part: Frontend[] = [], backends = 0;
    const flush = () => { if (part.length) ch.set(part); part = []; backends = 0; };
    let r;
    try {
      for (const s of services) {
        const key = serviceKey(s);
        if (next.has(key)) throw new WholeSnapshot();
        next.add(key);
        const slim = this.#slim(s);
        if (slim) kept.set(key, slim);
        if (s.lastChangeTriggerTime) triggers.set(key, s.lastChangeTriggerTime);
        const refused = refusedPorts(s);
        if (refused.length) refusedBy.set(key, refused);
        for (const f of plan.add(s, key)) {
          part.push(f);
          backends += f.backends.length + (f.shortCircuit?.length ?? 0);
        }
        if (backends >= this.#part.backends || part.length >= this.#part.frontends) flush();
      }
      flush();
      const { owned, broken } = plan;
      const keep = new Set<string>();
      for (const fks of owned.values()) for (const fk of fks) keep.add(fk);
      for (const svc of broken) for (const fk of this.#owned.get(svc) ?? []) keep.add(fk);
      // Short-circuit companions go with their frontends (the datapath decides those).
      const remove: string[] = [];
      for (const k of this.#dp.frontends.keys()) if (!keep.has(k) && !isShortCircuitKey(k)) remove.push(k);
      r = ch.commit(remove);
    } catch (e) {
      ch.abort();
      throw e;
    }
    return this.#snapshotApplied(r, next, kept, triggers, refusedBy, plan);
  }

  /** The snapshot in one Datapath.apply(): every frontend planned first, the removals made first. */
  #applySnapshotWhole(services: Service[]): ApplyStats {
    const next = new Map(services.map((s) => [serviceKey(s), s]));
    const plan = this.#planner(() => undefined);
    const set: Frontend[] = [];
    for (const [key, s] of next) set.push(...plan.add(s, key));
    const keep = new Set(set.map((f) => frontendKey(f)));
    for (const svc of plan.broken) for (const fk of this.#owned.get(svc) ?? []) keep.add(fk);
    const remove = [...this.#dp.frontends.keys()].filter((k) => !keep.has(k));
    const r = this.#dp.apply(set, remove);
    const refusedBy = new Map<string, ApplyStats['refused']>(), kept = new Map<string, Service>(), triggers = new Map<string, string>();
    for (const [key, s] of next) {
      const x = refusedPorts(s);
      if (x.length) refusedBy.set(key, x);
      const slim = this.#slim(s);
      if (slim) kept.set(key, slim);
      if (s.lastChangeTriggerTime) triggers.set(key, s.lastChangeTriggerTime);
    }
    return this.#snapshotApplied(r, new Set(next.keys()), kept, triggers, refusedBy, plan);
  }

  /** After a snapshot's change was made: the reconciler's own state follows. */
  #snapshotApplied(r: ReturnType<Datapath['apply']>, next: Set<string>, kept: Map<string, Service>, triggers: Map<string, string>,
    refusedBy: Map<string, ApplyStats['refused']>, { owned, errors, broken, skipped }: Planner): ApplyStats {
    for (const svc of broken) owned.set(svc, this.#owned.get(svc) ?? []);
    this.#desired = next;
    this.#kept = kept;
    this.#refusedBy = refusedBy;
    this.#setOwned(owned, true);
    // Broken services keep their report, the others get their new one; reported again only if it differs.
    const before = this.#skipped;
    const now = new Map<string, SkippedService>();
    for (const svc of broken) { const b = before.get(svc); if (b && next.has(svc)) now.set(svc, b); }
    for (const [svc, sk] of skipped) if (sk.frontends.length) now.set(svc, sk);
    if (now.size !== before.size || [...now].some(([k, v]) => !sameSkipped(before.get(k), v))) this.#skippedDirty = true;
    this.#skipped = now;
    return { services: next.size, ...r, errors, refused: this.#refused(), ...this.#skippedReport(), triggers };
  }

  applyDelta(upserts: Service[], removals: string[]): ApplyStats {
    // Frontends held by services outside this change; the changed ones give theirs up. (A view,
    // not a copy: a delta costs what it changes, not what the node holds.)
    const changing = new Set([...removals, ...upserts.map(serviceKey)]);
    const others = (fk: string) => {
      const owner = this.#ownerOf.get(fk);
      return owner && !changing.has(owner) ? owner : undefined;
    };
    const plan = this.#planner(others);
    const set: Frontend[] = [];
    for (const s of upserts) set.push(...plan.add(s, serviceKey(s)));
    const { owned, errors, broken, skipped } = plan;
    const keep = new Set(set.map((f) => frontendKey(f)));
    const remove: string[] = [];
    for (const key of [...removals, ...owned.keys()]) {
      for (const fk of this.#owned.get(key) ?? []) if (!keep.has(fk)) remove.push(fk);
    }
    const r = this.#dp.apply(set, remove);
    for (const key of removals) {
      this.#desired.delete(key);
      this.#kept.delete(key);
      this.#refusedBy.delete(key);
      this.#setOwned(new Map([[key, []]]));
      if (this.#skipped.delete(key)) this.#skippedDirty = true;
    }
    const triggers = new Map<string, string>();
    for (const s of upserts) {
      const key = serviceKey(s);
      if (s.lastChangeTriggerTime) triggers.set(key, s.lastChangeTriggerTime);
      if (broken.has(key)) continue;
      this.#desired.add(key);
      const slim = this.#slim(s);
      if (slim) this.#kept.set(key, slim); else this.#kept.delete(key);
      this.#noteRefused(s);
    }
    this.#setOwned(owned);
    this.#setSkipped(skipped);
    return { services: this.#desired.size, ...r, errors, refused: this.#refused(), ...this.#skippedReport(), triggers };
  }

  /** Replaces the skipped frontends of the services planned in this change. */
  #setSkipped(planned: Map<string, SkippedService>): void {
    for (const [svc, sk] of planned) {
      const prev = this.#skipped.get(svc);
      if (sk.frontends.length) {
        if (!sameSkipped(prev, sk)) this.#skippedDirty = true;
        this.#skipped.set(svc, sk);
      } else if (this.#skipped.delete(svc)) this.#skippedDirty = true;
    }
  }

  #skippedReport(): { skipped: SkippedService[]; skippedChanged: boolean } {
    const changed = this.#skippedDirty;
    if (changed) this.#skippedSorted = [...this.#skipped.values()].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
    this.#skippedDirty = false;
    return { skipped: this.#skippedSorted, skippedChanged: changed };
  }

  #refused(): ApplyStats['refused'] {
    return [...this.#refusedBy.values()].flat();
  }

  #noteRefused(s: Service): void {
    const r = refusedPorts(s);
    if (r.length) this.#refusedBy.set(serviceKey(s), r); else this.#refusedBy.delete(serviceKey(s));
  }

  #setOwned(owned: Map<string, string[]>, replaceAll = false): void {
    if (replaceAll) { this.#owned = new Map(); this.#ownerOf = new Map(); }
    for (const [svc, fks] of owned) {
      for (const fk of this.#owned.get(svc) ?? []) this.#ownerOf.delete(fk);
      if (fks.length) this.#owned.set(svc, fks); else this.#owned.delete(svc);
      for (const fk of fks) this.#ownerOf.set(fk, svc);
    }
  }

  /**
   * Plans services one at a time (add() returns a service's frontends, none when it is broken),
   * collecting who owns which frontend, the errors and the skipped frontends; `takenBy` names the
   * owner of a frontend held by a service not being changed.
   */
  #planner(takenBy: (frontend: string) => string | undefined): Planner {
    const ctx = this.#ctx;
    const claimed = new Map<string, string>();
    const p: Planner = {
      owned: new Map(), errors: [], broken: new Set(), skipped: new Map(),
      add(s, key) {
        try {
          const plan = planService(s, ctx);
          const fes = plan.frontends;
          const keys = fes.map((f) => frontendKey(f));
          for (const fk of keys) {
            const other = claimed.get(fk) ?? takenBy(fk);
            if (other && other !== key) throw new Error(`service ${key}: ${fk} is already used by service ${other}`);
          }
          for (const fk of keys) claimed.set(fk, key);
          p.owned.set(key, keys);
          p.skipped.set(key, { service: key, whole: fes.length === 0 && plan.skipped.length > 0, frontends: plan.skipped });
          return fes;
        } catch (e) {
          p.errors.push((e as Error).message);
          p.broken.add(key);
          return [];
        }
      },
    };
    return p;
  }
}

interface Planner {
  add(s: Service, key: string): Frontend[];
  /** service key -> its frontend keys. */
  owned: Map<string, string[]>;
  errors: string[];
  broken: Set<string>;
  skipped: Map<string, SkippedService>;
}

function sameSkipped(a: SkippedService | undefined, b: SkippedService | undefined): boolean {
  if (!a || !b) return a === b;
  return a.whole === b.whole && a.frontends.length === b.frontends.length &&
    a.frontends.every((f, i) => f.frontend === b.frontends[i]!.frontend && f.type === b.frontends[i]!.type && f.name === b.frontends[i]!.name);
}
