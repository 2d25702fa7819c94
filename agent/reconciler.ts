// Keeps the datapath equal to the desired services: snapshots replace everything, deltas change
// only the services they name. A service that cannot be turned into frontends is reported and
// keeps whatever it had programmed, without holding back the others; a change that does not fit
// the maps, or whose map writes fail, throws with the maps and this reconciler as they were (see
// Datapath.apply), so the caller can nack it with the error's message.
import { frontendKey, type Datapath, type Frontend } from './datapath.ts';
import { frontendsOf, refusedPorts, type NodeContext } from './services.ts';
import { serviceKey, type Service } from '../proto/contract.ts';

export interface ApplyStats {
  services: number; changed: number; removed: number; errors: string[];
  /** UDP backends removed: their flows are to be forgotten now (gc.ts forgetRemovedUdp). */
  udpBackendsGone: number;
  /** Ports of the desired services the datapath leaves out (SCTP), each with why. */
  refused: Array<{ port: string; reason: string }>;
}

export class Reconciler {
  readonly #dp: Datapath;
  readonly #ctx: NodeContext | undefined;
  /** service key -> its frontend keys, as last applied; and the reverse. */
  #owned = new Map<string, string[]>();
  #ownerOf = new Map<string, string>();
  #desired = new Map<string, Service>();

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
    const { set, owned, errors, broken } = this.#frontends(next.values(), () => undefined);
    const keep = new Set(set.map((f) => frontendKey(f)));
    for (const svc of broken) for (const fk of this.#owned.get(svc) ?? []) keep.add(fk);
    const remove = [...this.#dp.frontends.keys()].filter((k) => !keep.has(k));
    const r = this.#dp.apply(set, remove);
    for (const svc of broken) owned.set(svc, this.#owned.get(svc) ?? []);
    this.#desired = new Map([...next].map(([k, s]) => [k, this.#slim(s)]));
    this.#setOwned(owned, true);
    return { services: next.size, ...r, errors, refused: this.#refused() };
  }

  applyDelta(upserts: Service[], removals: string[]): ApplyStats {
    // Frontends held by services outside this change; the changed ones give theirs up. (A view,
    // not a copy: a delta costs what it changes, not what the node holds.)
    const changing = new Set([...removals, ...upserts.map(serviceKey)]);
    const others = (fk: string) => {
      const owner = this.#ownerOf.get(fk);
      return owner && !changing.has(owner) ? owner : undefined;
    };
    const { set, owned, errors, broken } = this.#frontends(upserts, others);
    const keep = new Set(set.map((f) => frontendKey(f)));
    const remove: string[] = [];
    for (const key of [...removals, ...owned.keys()]) {
      for (const fk of this.#owned.get(key) ?? []) if (!keep.has(fk)) remove.push(fk);
    }
    const r = this.#dp.apply(set, remove);
    for (const key of removals) { this.#desired.delete(key); this.#setOwned(new Map([[key, []]])); }
    for (const s of upserts) if (!broken.has(serviceKey(s))) this.#desired.set(serviceKey(s), this.#slim(s));
    this.#setOwned(owned);
    return { services: this.#desired.size, ...r, errors, refused: this.#refused() };
  }

  #refused(): ApplyStats['refused'] {
    return [...this.#desired.values()].flatMap(refusedPorts);
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
    for (const s of services) {
      const key = serviceKey(s);
      try {
        const fes = frontendsOf(s, this.#ctx);
        for (const f of fes) {
          const other = claimed.get(frontendKey(f)) ?? takenBy(frontendKey(f));
          if (other && other !== key) throw new Error(`service ${key}: ${frontendKey(f)} is already used by service ${other}`);
        }
        for (const f of fes) claimed.set(frontendKey(f), key);
        set.push(...fes);
        owned.set(key, fes.map((f) => frontendKey(f)));
      } catch (e) {
        errors.push((e as Error).message);
        broken.add(key);
      }
    }
    return { set, owned, errors, broken };
  }
}
