// The plain types of the wire contract, derived from the generated declarations (proto/gen): in a
// module of their own so that the one-pass decoders (plain-decode.ts, plain-service.ts) and
// contract.ts, which uses them, need not import each other.
import type { sluice } from './gen/state.js';

/**
 * A message in plain form with every field present, derived from the generated declarations: what
 * `toObject(m, { defaults: true, arrays: true })` returns (protobufjs internals like $unknowns left out).
 */
export type Plain<T> = { -readonly [K in keyof T as K extends `$${string}` ? never : K]-?: PlainValue<NonNullable<T[K]>> };
type PlainValue<V> = V extends (infer E)[] ? PlainValue<E>[] : V extends object ? Plain<V> : V;

/** sluice.v1.Service: what the control plane's model produces and the agent programs. */
export type Service = Plain<sluice.v1.Service.$Properties>;
export type ServicePort = Plain<sluice.v1.ServicePort.$Properties>;
export type Endpoint = Plain<sluice.v1.Endpoint.$Properties>;
/** sluice.v1.NodeState: whether this node is being deleted (kube-proxy's node eligibility), and why. */
export type NodeState = Plain<sluice.v1.NodeState.$Properties>;
/** A decoded StateUpdate, every field present; `node` is null when the control plane did not send it. */
export type StateUpdate = Omit<Plain<sluice.v1.StateUpdate.$Properties>, 'node'> & { node: NodeState | null };
/** A Service as a state file or a test writes it: protobufjs' object form, any field may be left out. */
export type ServiceJson = sluice.v1.Service.$Properties;
