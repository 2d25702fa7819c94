// Keeps the datapath equal to the desired services: snapshots replace everything, deltas change
// only the services they name. A service that cannot be turned into frontends is reported and
// keeps whatever it had programmed, without holding back the others; a change that does not fit
// the maps, or whose map writes fail, throws with the maps and this reconciler as they were (see
// Datapath.apply), so the caller can nack it with the error's message.
import { frontendKey, type Datapath, type Frontend } from './datapath.ts';
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
}

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
  #desired = new Map<string, Service>();
  /** service key -> its skipped frontends, for the services that have some. */
  #skipped = new Map<string, SkippedService>();
  /** #skipped as a sorted list, rebuilt only when an entry changed (a delta costs what it changes). */
  #skippedSorted: SkippedService[] = [];
  #skippedDirty = false;
  /** Desired services with ports the datapath leaves out (few): kept per change, so a delta does not walk every service. */
  #refusedBy = new Map<string, ApplyStats['refused']>();

  constructor(dp: Datapath, ctx?: NodeContext) {
    this.#dp = dp;
    this.#ctx = ctx;
  }

  /**
   * The desired services as last applied, for what reads them besides the maps (health-check node
   * ports, kube-proxy's no-local-endpoint count, refused ports). Each keeps only this node's
   * endpoints (those with its nodeName), the only ones those readers look at: the maps already hold
   * every backend, and a second copy of all of them is most of the agent's heap on a large cluster.
   */
  get services(): ReadonlyMap<string, Service> {
    return this.#desired;
  }

  #slim(s: Service): Service {
    const node = this.#ctx?.node ?? '';
    if (s.ports.every((p) => p.endpoints.every((e) => e.nodeName === node))) return s;
    return { ...s, ports: s.ports.map((p) => ({ ...p, endpoints: p.endpoints.filter((e) => e.nodeName === node) })) };
  }

  /** Replace everything: frontends of services not in `services` go (also ones adopted from pins). */
  applySnapshot(services: Service[]): ApplyStats {
    const next = new Map(services.map((s) => [serviceKey(s), s]));
    const { set, owned, errors, broken, skipped } = this.#frontends(next.values(), () => undefined);
    const keep = new Set(set.map((f) => frontendKey(f)));
    for (const svc of broken) for (const fk of this.#owned.get(svc) ?? []) keep.add(fk);
    const remove = [...this.#dp.frontends.keys()].filter((k) => !keep.has(k));
    const r = this.#dp.apply(set, remove);
    for (const svc of broken) owned.set(svc, this.#owned.get(svc) ?? []);
    this.#desired = new Map([...next].map(([k, s]) => [k, this.#slim(s)]));
    this.#refusedBy = new Map();
    for (const s of next.values()) this.#noteRefused(s);
    this.#setOwned(owned, true);
    // Broken services keep their report, the others get their new one; reported again only if it differs.
    const before = this.#skipped;
    const now = new Map<string, SkippedService>();
    for (const svc of broken) { const b = before.get(svc); if (b && next.has(svc)) now.set(svc, b); }
    for (const [svc, sk] of skipped) if (sk.frontends.length) now.set(svc, sk);
    if (now.size !== before.size || [...now].some(([k, v]) => !sameSkipped(before.get(k), v))) this.#skippedDirty = true;
    this.#skipped = now;
    return { services: next.size, ...r, errors, refused: this.#refused(), ...this.#skippedReport() };
  }

  applyDelta(upserts: Service[], removals: string[]): ApplyStats {
    // Frontends held by services outside this change; the changed ones give theirs up. (A view,
    // not a copy: a delta costs what it changes, not what the node holds.)
    const changing = new Set([...removals, ...upserts.map(serviceKey)]);
    const others = (fk: string) => {
      const owner = this.#ownerOf.get(fk);
      return owner && !changing.has(owner) ? owner : undefined;
    };
    const { set, owned, errors, broken, skipped } = this.#frontends(upserts, others);
    const keep = new Set(set.map((f) => frontendKey(f)));
    const remove: string[] = [];
    for (const key of [...removals, ...owned.keys()]) {
      for (const fk of this.#owned.get(key) ?? []) if (!keep.has(fk)) remove.push(fk);
    }
    const r = this.#dp.apply(set, remove);
    for (const key of removals) {
      this.#desired.delete(key);
      this.#refusedBy.delete(key);
      this.#setOwned(new Map([[key, []]]));
      if (this.#skipped.delete(key)) this.#skippedDirty = true;
    }
    for (const s of upserts) if (!broken.has(serviceKey(s))) { this.#desired.set(serviceKey(s), this.#slim(s)); this.#noteRefused(s); }
    this.#setOwned(owned);
    this.#setSkipped(skipped);
    return { services: this.#desired.size, ...r, errors, refused: this.#refused(), ...this.#skippedReport() };
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

  /** Frontends of `services`; `takenBy` names the owner of a frontend held by a service not being changed. */
  #frontends(services: Iterable<Service>, takenBy: (frontend: string) => string | undefined) {
    const set: Frontend[] = [];
    const owned = new Map<string, string[]>();
    const errors: string[] = [];
    const broken = new Set<string>();
    const claimed = new Map<string, string>();
    const skipped = new Map<string, SkippedService>();
    for (const s of services) {
      const key = serviceKey(s);
      try {
        const plan = planService(s, this.#ctx);
        const fes = plan.frontends;
        for (const f of fes) {
          const other = claimed.get(frontendKey(f)) ?? takenBy(frontendKey(f));
          if (other && other !== key) throw new Error(`service ${key}: ${frontendKey(f)} is already used by service ${other}`);
        }
        for (const f of fes) claimed.set(frontendKey(f), key);
        set.push(...fes);
        owned.set(key, fes.map((f) => frontendKey(f)));
        skipped.set(key, { service: key, whole: fes.length === 0 && plan.skipped.length > 0, frontends: plan.skipped });
      } catch (e) {
        errors.push((e as Error).message);
        broken.add(key);
      }
    }
    return { set, owned, errors, broken, skipped };
  }
}

function sameSkipped(a: SkippedService | undefined, b: SkippedService | undefined): boolean {
  if (!a || !b) return a === b;
  return a.whole === b.whole && a.frontends.length === b.frontends.length &&
    a.frontends.every((f, i) => f.frontend === b.frontends[i]!.frontend && f.type === b.frontends[i]!.type && f.name === b.frontends[i]!.name);
}
