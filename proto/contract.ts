// The wire contract, the one definition both sides use: the generated protobufjs code (proto/gen,
// from proto/sluice/v1/state.proto by proto/gen.sh), the plain types derived from it, and a grpc-js
// service definition that uses its encode/decode (no @grpc/proto-loader).
import type * as grpc from '@grpc/grpc-js';
import { sluice } from './gen/state.js';
import { familyOf, type Family } from '../common/ip.ts';
import { lazyStateUpdate, plainStateUpdate, type LazyStateUpdate } from './plain-decode.ts';
import { plainService } from './plain-service.ts';

export const pb = sluice.v1;
export type AgentMessageMsg = sluice.v1.AgentMessage.$Properties;
export type StateUpdateMsg = sluice.v1.StateUpdate.$Properties;

export type { Endpoint, NodeState, Plain, Service, ServiceJson, ServicePort, StateUpdate } from './types.ts';
import type { Endpoint, Service, ServiceJson, StateUpdate } from './types.ts';

const PLAIN: { defaults: true; arrays: true } = { defaults: true, arrays: true };

/**
 * Every field present (defaults filled in) and every value of its declared type; throws on a wrong
 * shape. In one pass when every field already has its type (proto/plain-service.ts), else protobufjs'.
 */
export function toService(o: ServiceJson): Service {
  return plainService(o) ?? pb.Service.toObject(pb.Service.fromObject(o), PLAIN) as Service;
}

export function toStateUpdate(m: sluice.v1.StateUpdate): StateUpdate {
  return pb.StateUpdate.toObject(m, PLAIN) as StateUpdate;
}

/**
 * An encoded StateUpdate in plain form: toStateUpdate(StateUpdate.decode(b)), decoded in one pass
 * (proto/plain-decode.ts) unless the bytes need protobufjs (which then decodes them, or throws).
 */
export function decodeStateUpdate(b: Uint8Array): StateUpdate {
  return plainStateUpdate(b) ?? toStateUpdate(pb.StateUpdate.decode(b));
}

export type { LazyStateUpdate, ServiceSource } from './plain-decode.ts';

/**
 * An encoded StateUpdate as the agent applies it: a snapshot's services decoded as they are iterated
 * (proto/plain-decode.ts lazyStateUpdate), a delta's at once; what lazyStateUpdate leaves to
 * protobufjs is decoded whole as decodeStateUpdate does (or throws).
 */
export function decodeAgentUpdate(b: Uint8Array): LazyStateUpdate {
  return lazyStateUpdate(b) ?? toStateUpdate(pb.StateUpdate.decode(b));
}

/** sluice.v1.IPFamily: UNSPECIFIED (0, the address tells), IPV4 (4), IPV6 (6). */
export const IPFamily = pb.IPFamily;

/**
 * The families @s serves, primary first: ip_families (or, in a hand-written state file without them,
 * its cluster IPs'), each only with a cluster IP of it (kube-proxy serves a family only then).
 */
export function servedFamilies(s: Pick<Service, 'ipFamilies' | 'clusterIps'>): Family[] {
  const withIp = s.clusterIps.map(familyOf).filter((f): f is Family => f !== 0);
  const stated = s.ipFamilies.filter((f): f is Family => (f === 4 || f === 6) && withIp.includes(f));
  return [...new Set(stated.length ? stated : withIp)];
}

/** The family of an endpoint: as stated, or (not stated) its address's. */
export function endpointFamily(e: Pick<Endpoint, 'family' | 'ip'>): 0 | Family {
  return e.family === 4 || e.family === 6 ? e.family : familyOf(e.ip);
}

export const serviceKey = (s: { namespace?: string | null; name?: string | null }): string => `${s.namespace}/${s.name}`;

function serializer<T>(encode: (m: T) => { finish(): Uint8Array }): (m: T) => Buffer {
  return (m: T) => {
    const u8 = encode(m).finish();
    return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  };
}

/**
 * One service as it sits inside an encoded StateUpdate (field `upserts`: tag, length, Service
 * bytes), for a sender that encodes each service once and reuses the bytes in many updates. The
 * bytes are returned as a latin1 string (one character per byte): held in the JS heap at one byte
 * per byte, without a Buffer's per-object backing store.
 */
export function encodeUpsert(s: Service): string {
  const u8 = pb.StateUpdate.encode({ upserts: [s] }).finish();
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('latin1');
}

/**
 * An encoded StateUpdate: `header`'s fields (its upserts ignored) followed by already encoded
 * upserts (encodeUpsert). Protobuf fields may come in any order and repeated ones accumulate, so
 * this decodes exactly as the message with those upserts would.
 */
export function encodeStateUpdate(header: StateUpdateMsg, upserts: readonly string[]): Buffer {
  const head = pb.StateUpdate.encode({ ...header, upserts: [] }).finish();
  let size = head.byteLength;
  for (const u of upserts) size += u.length;
  const out = Buffer.allocUnsafe(size);
  out.set(head, 0);
  let at = head.byteLength;
  for (const u of upserts) at += out.write(u, at, 'latin1');
  return out;
}

export const stateServiceDefinition = {
  Stream: {
    path: '/sluice.v1.StateService/Stream',
    requestStream: true,
    responseStream: true,
    requestSerialize: serializer<AgentMessageMsg>((m) => pb.AgentMessage.encode(m)),
    requestDeserialize: (b: Buffer): sluice.v1.AgentMessage => pb.AgentMessage.decode(b),
    responseSerialize: serializer<StateUpdateMsg>((m) => pb.StateUpdate.encode(m)),
    responseDeserialize: (b: Buffer): sluice.v1.StateUpdate => pb.StateUpdate.decode(b),
  },
} satisfies grpc.ServiceDefinition;
