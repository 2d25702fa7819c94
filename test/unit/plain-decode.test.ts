import path from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeAgentUpdate, decodeStateUpdate, pb, toStateUpdate, type LazyStateUpdate, type StateUpdateMsg } from '../../proto/contract.ts';
import { plainStateUpdate } from '../../proto/plain-decode.ts';

/** protobufjs' decode then toObject: what decodeStateUpdate must return. */
const reference = (b: Uint8Array) => toStateUpdate(pb.StateUpdate.decode(b));

/** Keys in order, recursively. */
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

const encode = (m: StateUpdateMsg) => pb.StateUpdate.encode(m).finish();
const cat = (...parts: ArrayLike<number>[]) => Uint8Array.from(parts.flatMap((p) => Array.from(p)));
/** A varint's bytes. */
function varint(v: number): number[] {
  const out: number[] = [];
  for (; v >= 0x80; v >>>= 7) out.push((v & 0x7f) | 0x80);
  out.push(v);
  return out;
}
const tag = (field: number, wireType: number) => varint((field << 3) | wireType);
/** A length-delimited field: tag, length, bytes. */
const ld = (field: number, bytes: ArrayLike<number>) => cat(tag(field, 2), varint(bytes.length), bytes);

const REPO = new URL('../..', import.meta.url).pathname;

/** A lazily decoded update with its upserts read into an array (key order kept). */
const whole = (u: LazyStateUpdate) => ({ ...u, upserts: [...u.upserts] });

describe('decodeStateUpdate (one-pass plain decode)', () => {
  it('decodes every field of the .proto (a field it does not know would be skipped as unknown)', () => {
    const root = protobuf.loadSync(path.join(REPO, 'proto/sluice/v1/state.proto'));
    const fill = (type: string): Record<string, unknown> => {
      const o: Record<string, unknown> = {};
      for (const f of root.lookupType(type).fieldsArray) {
        f.resolve();
        const v = f.resolvedType instanceof protobuf.Type ? fill(f.resolvedType.fullName.slice(1))
          : f.type === 'string' ? 'x' : f.type === 'bool' ? true : f.type === 'uint32' || f.type === 'uint64' ? 7 : f.type === 'IPFamily' ? 6 : undefined;
        if (v === undefined) throw new Error(`field ${type}.${f.name} of type ${f.type}: teach this test and proto/plain-decode.ts about it`);
        o[f.name] = f.repeated ? [v, v] : v;
      }
      return o;
    };
    const bytes = encode(fill('sluice.v1.StateUpdate') as StateUpdateMsg);
    const got = plainStateUpdate(bytes);
    expect(got).toBeDefined();
    expect(shape(got)).toEqual(shape(reference(bytes)));
    // Every field came through with its non-default value.
    expect(JSON.stringify(got)).not.toMatch(/:""|:false|:0[,}]|:\[\]|:null/);
  });

  it('equals protobufjs decode + toObject on random updates, key order included', () => {
    const rand = rng(0xdec0);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const s = () => pick(['', 'a', 'web', '10.0.0.1', 'fd00::1', 'Pod/default/wéb-1']);
    const b = () => rand() < 0.5;
    const n = () => pick([0, 1, 80, 65535, 2 ** 32 - 1]);
    const list = <T,>(f: () => T, max: number) => Array.from({ length: Math.floor(rand() * (max + 1)) }, f);
    const ep = () => ({
      ip: s(), port: n(), ready: b(), serving: b(), terminating: b(), nodeName: s(), targetRef: s(),
      internal: b(), external: b(), cluster: b(), family: pick([0, 4, 6, 5]),
    });
    const port = () => ({ name: s(), protocol: pick(['TCP', 'UDP', '']), port: n(), nodePort: n(), endpoints: list(ep, 5) });
    const svc = () => ({
      namespace: s(), name: s(), type: s(), clusterIps: list(s, 2), ports: list(port, 3), affinityClientIp: b(),
      affinityTimeoutSeconds: n(), internalTrafficLocal: b(), externalTrafficLocal: b(), externalIps: list(s, 2),
      loadBalancerIps: list(s, 2), loadBalancerSourceRanges: list(s, 2), healthCheckNodePort: n(),
      lastChangeTriggerTime: s(), ipFamilies: list(() => pick([0, 4, 6]), 2), ipFamilyPolicy: s(),
    });
    for (let i = 0; i < 500; i++) {
      const m: StateUpdateMsg = {
        version: pick([0, 1, 2 ** 31, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]), nonce: s(), snapshot: b(), upserts: list(svc, 4),
        removals: list(s, 3), serverId: s(), ...(rand() < 0.7 ? { node: { known: b(), deleting: b(), reason: s() } } : {}),
      };
      const bytes = encode(m);
      const got = plainStateUpdate(bytes);
      expect(got, `update ${i} takes the one-pass path`).toBeDefined();
      expect(shape(got), `update ${i}`).toEqual(shape(reference(bytes)));
      // The agent's decode: the same once its (lazy, for a snapshot) upserts are read.
      expect(shape(whole(decodeAgentUpdate(bytes))), `update ${i}, agent's decode`).toEqual(shape(reference(bytes)));
    }
  });

  it('reads strings of every kind the same: ASCII of any length, UTF-8, repeated ones from its cache, many distinct ones', () => {
    const rand = rng(0x5717);
    const ascii = (len: number) => Array.from({ length: len }, () => String.fromCharCode(32 + Math.floor(rand() * 95))).join('');
    // Same length, different bytes (the cache verifies what its hash finds); long ones (past the
    // cache's 64 bytes); non-ASCII ones; empty; and more distinct node names than the cache holds.
    const strings = ['', 'n1', 'n2', 'node-a', 'node-b', 'wéb', '日本', ascii(64), ascii(65), ascii(300), ...Array.from({ length: 5000 }, (_, i) => `node-${i}`)];
    const pick = () => strings[Math.floor(rand() * strings.length)]!;
    for (let i = 0; i < 40; i++) {
      const ep = () => ({ ip: pick(), port: 1, nodeName: pick(), targetRef: pick() });
      const m: StateUpdateMsg = {
        version: i, nonce: pick(), removals: [pick(), pick()], serverId: pick(),
        upserts: Array.from({ length: 20 }, () => ({
          namespace: pick(), name: pick(), type: pick(), clusterIps: [pick()], lastChangeTriggerTime: pick(), ipFamilyPolicy: pick(),
          ports: [{ name: pick(), protocol: pick(), port: 80, endpoints: Array.from({ length: 30 }, ep) }],
        })),
      };
      const bytes = encode(m);
      const got = plainStateUpdate(bytes);
      expect(got, `update ${i} takes the one-pass path`).toBeDefined();
      expect(shape(got), `update ${i}`).toEqual(shape(reference(bytes)));
    }
    // Bytes that are not UTF-8 in a string field: left to protobufjs, which refuses them as before.
    const bad = cat(ld(4, cat(ld(1, [0x61]), ld(2, [0xff, 0xfe]))));
    expect(plainStateUpdate(bad)).toBeUndefined();
    expect(() => reference(bad)).toThrow();
    expect(() => decodeStateUpdate(bad)).toThrow();
  });

  it('reads unpacked repeated enums, skips unknown fields and fields of another wire type, merges a repeated node', () => {
    // Service: name "a", ip_families 4 and 6 one per tag (field 15, varint), an unknown varint field 40.
    const service = cat(ld(2, [0x61]), tag(15, 0), [4], tag(15, 0), [6], tag(40, 0), [1]);
    const bytes = cat(
      ld(4, service),
      tag(2, 0), [5], // nonce (a string) sent as a varint: skipped as unknown
      ld(7, cat(tag(1, 0), [1])), ld(7, cat(tag(2, 0), [1])), // node: known, then deleting, merged
      tag(1, 0), [9], // version
      tag(99, 0), [7], // unknown varint field 99
      ld(100, [1, 2, 3]), // unknown length-delimited field 100
    );
    const got = plainStateUpdate(bytes);
    expect(got).toBeDefined();
    expect(shape(got)).toEqual(shape(reference(bytes)));
    expect(got!.upserts[0]!.ipFamilies).toEqual([4, 6]);
    expect(got!.node).toEqual({ known: true, deleting: true, reason: '' });
    expect(got!.nonce).toBe('');
    expect(got!.version).toBe(9);
  });

  it('leaves bytes it cannot read to protobufjs, which decodes them or throws its own error', () => {
    const whole = encode({ version: 3, upserts: [{ name: 'a', ports: [{ port: 80, endpoints: [{ ip: '10.0.0.1' }] }] }] });
    const truncated = whole.subarray(0, whole.length - 3);
    expect(plainStateUpdate(truncated)).toBeUndefined();
    expect(() => reference(truncated)).toThrow();
    expect(() => decodeStateUpdate(truncated)).toThrow();
    // A group (wire type 3 .. 4) of an unknown field: protobufjs skips it, so does decodeStateUpdate.
    const group = cat(tag(50, 3), tag(1, 0), [7], tag(50, 4), whole);
    expect(plainStateUpdate(group)).toBeUndefined();
    expect(shape(decodeStateUpdate(group))).toEqual(shape(reference(group)));
    expect(decodeStateUpdate(group).upserts[0]!.ports[0]!.endpoints[0]!.ip).toBe('10.0.0.1');
  });
});

describe('decodeAgentUpdate (a snapshot decoded a service at a time)', () => {
  const svc = (name: string, ip: string) => ({ namespace: 'default', name, clusterIps: ['10.96.0.1'], ports: [{ port: 80, protocol: 'TCP', endpoints: [{ ip, port: 8080, ready: true }] }] });
  const services = Array.from({ length: 50 }, (_, i) => svc(`s${i}`, `10.1.0.${i}`));

  it('decodes a snapshot\'s services only as they are iterated, again on every pass, from bytes of its own', () => {
    const bytes = encode({ version: 7, nonce: 'n', snapshot: true, upserts: services, serverId: 'cp-1', node: { known: true } });
    // A view into a larger block (as a pooled Buffer would be): overwritten after the decode.
    const block = new Uint8Array(bytes.length + 16);
    block.set(bytes, 8);
    const u = decodeAgentUpdate(block.subarray(8, 8 + bytes.length));
    expect(Array.isArray(u.upserts)).toBe(false);
    expect(u.upserts.length).toBe(50);
    expect({ version: u.version, nonce: u.nonce, snapshot: u.snapshot, serverId: u.serverId, node: u.node })
      .toEqual({ version: 7, nonce: 'n', snapshot: true, serverId: 'cp-1', node: { known: true, deleting: false, reason: '' } });
    block.fill(0);
    const first = [...u.upserts], second = [...u.upserts];
    expect(shape(first)).toEqual(shape(reference(bytes).upserts));
    expect(second).toEqual(first);
    expect(second[0]).not.toBe(first[0]); // decoded again, not kept
    // Iterating stops where the consumer stops: the services after are never decoded.
    let n = 0;
    for (const s of u.upserts) { if (++n === 3) { expect(s.name).toBe('s2'); break; } }
  });

  it('decodes a delta whole, as decodeStateUpdate does', () => {
    const bytes = encode({ version: 8, upserts: services.slice(0, 2), removals: ['default/x'] });
    const u = decodeAgentUpdate(bytes);
    expect(Array.isArray(u.upserts)).toBe(true);
    expect(shape(u)).toEqual(shape(decodeStateUpdate(bytes)));
  });

  it('throws for a service that does not decode when it is reached, naming it; one protobufjs needs is decoded by it', () => {
    const good = pb.Service.encode(services[0]!).finish();
    // Service 1: a name that is not UTF-8 (protobufjs refuses the whole message for it).
    const bad = cat(ld(1, [0x61]), ld(2, [0xff, 0xfe]));
    // Service 2: a group of an unknown field (wire types 3 .. 4) that protobufjs skips.
    const grouped = cat(tag(50, 3), tag(1, 0), [7], tag(50, 4), good);
    const snap = (...svcs: Uint8Array[]) => cat(tag(3, 0), [1], tag(1, 0), [5], ...svcs.map((b) => ld(4, b)));
    const withBad = snap(good, bad, good);
    expect(() => reference(withBad)).toThrow();
    const u = decodeAgentUpdate(withBad);
    expect(u.version).toBe(5);
    const it = u.upserts[Symbol.iterator]();
    expect(it.next().value!.name).toBe('s0');
    expect(() => it.next()).toThrow(/^upserts\[1\]: /);
    const withGroup = snap(good, grouped);
    expect(shape(whole(decodeAgentUpdate(withGroup)))).toEqual(shape(reference(withGroup)));
    // The message's own framing broken: decoded whole by protobufjs, which throws as before.
    expect(() => decodeAgentUpdate(withBad.subarray(0, withBad.length - 2))).toThrow();
  });
});
