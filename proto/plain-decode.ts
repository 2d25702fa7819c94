// A StateUpdate decoded straight into its plain form (every field present, defaults filled in), one
// object per message: what protobufjs' decode followed by toObject returns, without the message
// objects in between. An agent's snapshot of 10,000 services holds ~120,000 messages; decoding
// them twice over doubled what the young generation had to copy (the agent runs with 4 MiB
// semi-spaces, and all of it survives until the snapshot is applied). Anything this decoder does not
// expect (groups, bytes that do not parse) is left to protobufjs, which decodes it or throws its own
// error. test/unit/plain-decode.test.ts holds the two equal, key order included.
import $protobuf from 'protobufjs/minimal.js';
import { sluice } from './gen/state.js'; // also its configure(): uint64 read as numbers
import type { Endpoint, NodeState, Service, ServicePort, StateUpdate } from './types.ts';

type Reader = $protobuf.Reader;

/** Thrown for input left to protobufjs. */
class NotPlain extends Error {}

/** The end of the length-delimited field starting at the reader's position. */
function endOf(r: Reader): number {
  const end = r.uint32() + r.pos;
  if (end > r.len) throw new NotPlain();
  return end;
}

/** An unknown field, or a known one of another wire type: protobufjs skips both. */
function skip(r: Reader, wireType: number, field: number): void {
  if (wireType === 3 || wireType === 4) throw new NotPlain();
  r.skipType(wireType, 0, field);
}

const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/**
 * A string field. ASCII bytes (every address, name and key the control plane sends) become one flat
 * string in one native call: protobufjs' short-string path builds it 8 characters at a time, a rope
 * of several objects per string, and a snapshot holds ~400,000 strings. Anything else is read as
 * stringVerify() reads it (UTF-8 checked).
 */
function str(r: Reader): string {
  const at = r.pos, len = r.uint32(), start = r.pos, end = start + len;
  if (end > r.len) throw new NotPlain();
  const b = r.buf;
  let bits = 0;
  for (let i = start; i < end; i++) bits |= b[i]!;
  if (bits & 0x80) { r.pos = at; return r.stringVerify(); }
  r.pos = end;
  return len ? latin1Slice.call(b, start, end) : '';
}

/** Strings that repeat across a snapshot's messages (node names, protocols, port names, namespaces). */
const interned = new Map<number, string>();
const MAX_INTERNED = 4096;

/**
 * A string field that takes few distinct values: the string decoded earlier from the same bytes, or
 * a new one (str()) remembered. 100,000 endpoints name a handful of nodes; one string each.
 */
function common(r: Reader): string {
  const at = r.pos, len = r.uint32(), start = r.pos, end = start + len;
  if (end > r.len || len > 64) { r.pos = at; return str(r); }
  const b = r.buf;
  let h = len;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  const hit = interned.get(h);
  if (hit !== undefined && hit.length === len) {
    let i = 0;
    while (i < len && hit.charCodeAt(i) === b[start + i]) i++;
    if (i === len) { r.pos = end; return hit; }
  }
  r.pos = at;
  const s = str(r);
  if (interned.size >= MAX_INTERNED) interned.clear();
  interned.set(h, s);
  return s;
}

function done(r: Reader, end: number): void {
  if (r.pos !== end) throw new NotPlain();
}

function endpoint(r: Reader, end: number): Endpoint {
  let ip = '', port = 0, ready = false, serving = false, terminating = false, nodeName = '', targetRef = '';
  let internal = false, external = false, cluster = false, family = 0;
  while (r.pos < end) {
    const tag = r.tag(), wt = tag & 7, f = tag >>> 3;
    switch (f) {
      case 1: if (wt === 2) { ip = str(r); continue; } break;
      case 2: if (wt === 0) { port = r.uint32(); continue; } break;
      case 3: if (wt === 0) { ready = r.bool(); continue; } break;
      case 4: if (wt === 0) { serving = r.bool(); continue; } break;
      case 5: if (wt === 0) { terminating = r.bool(); continue; } break;
      case 6: if (wt === 2) { nodeName = common(r); continue; } break;
      case 7: if (wt === 2) { targetRef = str(r); continue; } break;
      case 8: if (wt === 0) { internal = r.bool(); continue; } break;
      case 9: if (wt === 0) { external = r.bool(); continue; } break;
      case 10: if (wt === 0) { cluster = r.bool(); continue; } break;
      case 11: if (wt === 0) { family = r.int32(); continue; } break;
    }
    skip(r, wt, f);
  }
  done(r, end);
  return { ip, port, ready, serving, terminating, nodeName, targetRef, internal, external, cluster, family } as Endpoint;
}

function servicePort(r: Reader, end: number): ServicePort {
  const endpoints: Endpoint[] = [];
  let name = '', protocol = '', port = 0, nodePort = 0;
  while (r.pos < end) {
    const tag = r.tag(), wt = tag & 7, f = tag >>> 3;
    switch (f) {
      case 1: if (wt === 2) { name = common(r); continue; } break;
      case 2: if (wt === 2) { protocol = common(r); continue; } break;
      case 3: if (wt === 0) { port = r.uint32(); continue; } break;
      case 4: if (wt === 0) { nodePort = r.uint32(); continue; } break;
      case 5: if (wt === 2) { endpoints.push(endpoint(r, endOf(r))); continue; } break;
    }
    skip(r, wt, f);
  }
  done(r, end);
  return { endpoints, name, protocol, port, nodePort };
}

function service(r: Reader, end: number): Service {
  const clusterIps: string[] = [], ports: ServicePort[] = [], externalIps: string[] = [], loadBalancerIps: string[] = [];
  const loadBalancerSourceRanges: string[] = [], ipFamilies: number[] = [];
  let namespace = '', name = '', type = '', affinityClientIp = false, affinityTimeoutSeconds = 0, internalTrafficLocal = false;
  let externalTrafficLocal = false, healthCheckNodePort = 0, lastChangeTriggerTime = '', ipFamilyPolicy = '';
  while (r.pos < end) {
    const tag = r.tag(), wt = tag & 7, f = tag >>> 3;
    switch (f) {
      case 1: if (wt === 2) { namespace = common(r); continue; } break;
      case 2: if (wt === 2) { name = str(r); continue; } break;
      case 3: if (wt === 2) { type = common(r); continue; } break;
      case 4: if (wt === 2) { clusterIps.push(str(r)); continue; } break;
      case 5: if (wt === 2) { ports.push(servicePort(r, endOf(r))); continue; } break;
      case 6: if (wt === 0) { affinityClientIp = r.bool(); continue; } break;
      case 7: if (wt === 0) { affinityTimeoutSeconds = r.uint32(); continue; } break;
      case 8: if (wt === 0) { internalTrafficLocal = r.bool(); continue; } break;
      case 9: if (wt === 0) { externalTrafficLocal = r.bool(); continue; } break;
      case 10: if (wt === 2) { externalIps.push(str(r)); continue; } break;
      case 11: if (wt === 2) { loadBalancerIps.push(str(r)); continue; } break;
      case 12: if (wt === 2) { loadBalancerSourceRanges.push(str(r)); continue; } break;
      case 13: if (wt === 0) { healthCheckNodePort = r.uint32(); continue; } break;
      case 14: if (wt === 2) { lastChangeTriggerTime = common(r); continue; } break;
      case 15:
        // Repeated enums come packed (proto3) or one per tag; both are read.
        if (wt === 2) { const e = endOf(r); while (r.pos < e) ipFamilies.push(r.int32()); continue; }
        if (wt === 0) { ipFamilies.push(r.int32()); continue; }
        break;
      case 16: if (wt === 2) { ipFamilyPolicy = common(r); continue; } break;
    }
    skip(r, wt, f);
  }
  done(r, end);
  return {
    clusterIps, ports, externalIps, loadBalancerIps, loadBalancerSourceRanges, ipFamilies,
    namespace, name, type, affinityClientIp, affinityTimeoutSeconds, internalTrafficLocal, externalTrafficLocal,
    healthCheckNodePort, lastChangeTriggerTime, ipFamilyPolicy,
  } as Service;
}

/** A NodeState field merges into an earlier one of the same update (protobuf's rule for messages). */
function nodeState(r: Reader, end: number, prev: NodeState | null): NodeState {
  let known = prev?.known ?? false, deleting = prev?.deleting ?? false, reason = prev?.reason ?? '';
  while (r.pos < end) {
    const tag = r.tag(), wt = tag & 7, f = tag >>> 3;
    switch (f) {
      case 1: if (wt === 0) { known = r.bool(); continue; } break;
      case 2: if (wt === 0) { deleting = r.bool(); continue; } break;
      case 3: if (wt === 2) { reason = r.stringVerify(); continue; } break;
    }
    skip(r, wt, f);
  }
  done(r, end);
  return { known, deleting, reason };
}

/** @buf as a plain StateUpdate, or `undefined` when it is to be left to protobufjs. */
export function plainStateUpdate(buf: Uint8Array): StateUpdate | undefined {
  try {
    const r = $protobuf.Reader.create(buf);
    const upserts: Service[] = [], removals: string[] = [];
    let version = 0, nonce = '', snapshot = false, serverId = '', node: NodeState | null = null;
    while (r.pos < r.len) {
      const tag = r.tag(), wt = tag & 7, f = tag >>> 3;
      switch (f) {
        case 1: if (wt === 0) { version = r.uint64() as unknown as number; continue; } break;
        case 2: if (wt === 2) { nonce = r.stringVerify(); continue; } break;
        case 3: if (wt === 0) { snapshot = r.bool(); continue; } break;
        case 4: if (wt === 2) { upserts.push(service(r, endOf(r))); continue; } break;
        case 5: if (wt === 2) { removals.push(str(r)); continue; } break;
        case 6: if (wt === 2) { serverId = r.stringVerify(); continue; } break;
        case 7: if (wt === 2) { node = nodeState(r, endOf(r), node); continue; } break;
      }
      skip(r, wt, f);
    }
    return { upserts, removals, version, nonce, snapshot, serverId, node };
  } catch {
    return undefined;
  }
}

/** Services that are decoded as they are iterated; `length` is known before. */
export type ServiceSource = Iterable<Service> & { readonly length: number };

/** A StateUpdate whose snapshot services are decoded as they are iterated (lazyStateUpdate). */
export type LazyStateUpdate = Omit<StateUpdate, 'upserts'> & { upserts: ServiceSource };

/**
 * @buf as a StateUpdate whose upserts, in a snapshot, are decoded only as they are iterated: the
 * message's bytes are kept (outside V8's heap) with where each service starts and ends, so the
 * ~20 MiB of decoded Services of a 10,000 x 10 snapshot never exist at once (Reconciler.applySnapshot
 * programs it a part at a time, as it does a state file: agent/state-file.ts stateFileServices).
 * Each pass over the upserts decodes again. A delta is decoded whole (plainStateUpdate). The
 * message's own fields are read now; a service that does not decode throws when it is reached
 * ("upserts[i]: ..."), which undoes the snapshot (a nack). `undefined` when the message's framing is
 * left to protobufjs (the caller then decodes it whole).
 */
export function lazyStateUpdate(buf: Uint8Array): LazyStateUpdate | undefined {
  let snapshot = false;
  try {
    const r = $protobuf.Reader.create(buf);
    while (r.pos < r.len) {
      const tag = r.tag(), wt = tag & 7;
      if (tag >>> 3 === 3 && wt === 0) snapshot = r.bool();
      else skip(r, wt, tag >>> 3);
    }
  } catch {
    return undefined;
  }
  if (!snapshot) return plainStateUpdate(buf);
  // grpc-js hands over a Buffer of its own for a message; one that is a view into a larger (pooled
  // or reused) block is copied, as it is kept until the snapshot is applied.
  const own = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength ? buf : Uint8Array.prototype.slice.call(buf);
  const at: number[] = [], removals: string[] = [];
  let version = 0, nonce = '', serverId = '', node: NodeState | null = null;
  try {
    const r = $protobuf.Reader.create(own);
    while (r.pos < r.len) {
      const tag = r.tag(), wt = tag & 7, f = tag >>> 3;
      switch (f) {
        case 1: if (wt === 0) { version = r.uint64() as unknown as number; continue; } break;
        case 2: if (wt === 2) { nonce = r.stringVerify(); continue; } break;
        case 4: if (wt === 2) { const end = endOf(r); at.push(r.pos, end); r.pos = end; continue; } break;
        case 5: if (wt === 2) { removals.push(str(r)); continue; } break;
        case 6: if (wt === 2) { serverId = r.stringVerify(); continue; } break;
        case 7: if (wt === 2) { node = nodeState(r, endOf(r), node); continue; } break;
      }
      skip(r, wt, f);
    }
  } catch {
    return undefined;
  }
  const length = at.length / 2;
  const upserts: ServiceSource = {
    length,
    *[Symbol.iterator]() {
      for (let i = 0; i < length; i++) yield upsert(own, at[2 * i]!, at[2 * i + 1]!, i);
    },
  };
  return { upserts, removals, version, nonce, snapshot, serverId, node };
}

/** The Service in @buf's bytes [start, end): in one pass, or by protobufjs when it needs it. */
function upsert(buf: Uint8Array, start: number, end: number, i: number): Service {
  const bytes = buf.subarray(start, end);
  try {
    const r = $protobuf.Reader.create(bytes);
    return service(r, r.len);
  } catch {
    try {
      return sluice.v1.Service.toObject(sluice.v1.Service.decode(bytes), { defaults: true, arrays: true }) as Service;
    } catch (e) {
      throw new Error(`upserts[${i}]: ${(e as Error).message}`, { cause: e });
    }
  }
}
