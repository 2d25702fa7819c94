// The wire contract: generated protobufjs code (controlplane/gen, from proto/sluice/v1/state.proto)
// and a grpc-js service definition that uses its encode/decode (no @grpc/proto-loader).
import type * as grpc from '@grpc/grpc-js';
import { sluice } from './gen/state.js';

export const pb = sluice.v1;
export type AgentMessageMsg = sluice.v1.AgentMessage.$Properties;
export type StateUpdateMsg = sluice.v1.StateUpdate.$Properties;

function serializer<T>(encode: (m: T) => { finish(): Uint8Array }): (m: T) => Buffer {
  return (m: T) => {
    const u8 = encode(m).finish();
    return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  };
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
