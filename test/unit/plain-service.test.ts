import path from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { pb, toService, type ServiceJson } from '../../proto/contract.ts';
import { plainService } from '../../proto/plain-service.ts';

const REPO = new URL('../..', import.meta.url).pathname;

/** protobufjs' own conversion: what toService must return, key order included. */
const reference = (o: ServiceJson) => pb.Service.toObject(pb.Service.fromObject(o), { defaults: true, arrays: true });

/** Keys in order, recursively: the fast path builds objects with protobufjs' key order. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v && typeof v === 'object') return Object.entries(v).map(([k, x]) => [k, shape(x)]);
  return v;
}

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('plainService (toService fast path)', () => {
  it('handles every field of Service, ServicePort and Endpoint in the .proto', () => {
    // A field added to the .proto and not here would be left at its default by the fast path.
    const full: ServiceJson = {};
    const root = protobuf.loadSync(path.join(REPO, 'proto/sluice/v1/state.proto'));
    const fill = (type: string, o: Record<string, unknown>) => {
      for (const f of root.lookupType(type).fieldsArray) {
        const v = f.type === 'string' ? 'x' : f.type === 'bool' ? true : f.type === 'uint32' ? 7 : f.type === 'IPFamily' ? 6 : undefined;
        if (f.name === 'ports') o.ports = [fill('sluice.v1.ServicePort', {})];
        else if (f.name === 'endpoints') o.endpoints = [fill('sluice.v1.Endpoint', {})];
        else if (v === undefined) throw new Error(`field ${f.name} of type ${f.type}: teach this test and proto/plain-service.ts about it`);
        else o[f.name] = f.repeated ? [v] : v;
      }
      return o;
    };
    fill('sluice.v1.Service', full as Record<string, unknown>);
    const fast = plainService(full);
    expect(fast, 'every field of its declared type takes the fast path').toBeDefined();
    expect(shape(fast)).toEqual(shape(reference(full)));
    // Every field set to a non-default value came through (none left at its default).
    expect(JSON.stringify(fast)).not.toMatch(/:""|:false|:0[,}]|:\[\]/);
  });

  it('equals protobufjs on random services, and leaves anything not plain already to it', () => {
    const rand = rng(0x5e41);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const maybe = <T,>(v: T): T | undefined => (rand() < 0.3 ? undefined : v);
    // Mostly well typed values; now and then one protobufjs converts (or rejects).
    const odd = [null, '7', 7.5, -1, -0, 'IPV4', 1, 0, '', 'x', true, false, [], {}, 2 ** 32, NaN];
    const s = () => (rand() < 0.05 ? pick(odd) : pick(['', 'a', 'web', '10.0.0.1', 'fd00::1']));
    const b = () => (rand() < 0.05 ? pick(odd) : rand() < 0.5);
    const n = () => (rand() < 0.05 ? pick(odd) : Math.floor(rand() * 70000));
    const fam = () => (rand() < 0.05 ? pick(odd) : pick([0, 4, 6]));
    const arr = <T,>(f: () => T, max: number) => (rand() < 0.03 ? pick(odd) : Array.from({ length: Math.floor(rand() * max) }, f));
    const ep = () => (rand() < 0.02 ? pick(odd) : {
      ip: maybe(s()), port: maybe(n()), ready: maybe(b()), serving: maybe(b()), terminating: maybe(b()), nodeName: maybe(s()),
      targetRef: maybe(s()), internal: maybe(b()), external: maybe(b()), cluster: maybe(b()), family: maybe(fam()), extra: maybe('ignored'),
    });
    const port = () => (rand() < 0.02 ? pick(odd) : { name: maybe(s()), protocol: maybe(s()), port: maybe(n()), nodePort: maybe(n()), endpoints: maybe(arr(ep, 6)) });
    let fast = 0, slow = 0;
    for (let i = 0; i < 3000; i++) {
      const o = {
        namespace: maybe(s()), name: maybe(s()), type: maybe(s()), clusterIps: maybe(arr(s, 3)), ports: maybe(arr(port, 3)),
        affinityClientIp: maybe(b()), affinityTimeoutSeconds: maybe(n()), internalTrafficLocal: maybe(b()), externalTrafficLocal: maybe(b()),
        externalIps: maybe(arr(s, 2)), loadBalancerIps: maybe(arr(s, 2)), loadBalancerSourceRanges: maybe(arr(s, 2)),
        healthCheckNodePort: maybe(n()), lastChangeTriggerTime: maybe(s()), ipFamilies: maybe(arr(fam, 2)), ipFamilyPolicy: maybe(s()),
      } as unknown as ServiceJson;
      let want: unknown, err: unknown;
      try { want = reference(o); } catch (e) { err = e; }
      const got = plainService(o);
      if (got) fast++; else slow++;
      if (err) {
        expect(got, `service ${i}: protobufjs rejects it (${(err as Error).message}), so the fast path must not take it`).toBeUndefined();
        expect(() => toService(o)).toThrow((err as Error).message);
        continue;
      }
      if (got) expect(shape(got), `service ${i}`).toEqual(shape(want));
      expect(shape(toService(o)), `service ${i}`).toEqual(shape(want));
    }
    // Both paths were exercised.
    expect(fast).toBeGreaterThan(300);
    expect(slow).toBeGreaterThan(300);
  });

  it('leaves message instances and non-objects to protobufjs', () => {
    expect(plainService(pb.Service.fromObject({ name: 'a' }))).toBeUndefined();
    expect(plainService(null as unknown as ServiceJson)).toBeUndefined();
    expect(() => toService(null as unknown as ServiceJson)).toThrow(/object expected/);
  });
});
