// toService's fast path: a Service in protobufjs' object form (a state file's JSON) whose every
// field already has its declared type, turned into the plain form in one pass. protobufjs' own
// fromObject + toObject (two objects per message, a Service with 10 endpoints ~2.5 µs) stays the path
// for anything else (numbers as strings, enum names, wrong shapes and their errors): `undefined`
// here means "not plain already", never "invalid". The result is what protobufjs returns, key order
// included (repeated fields first, then the others in field order, as its toObject writes them);
// test/unit/plain-service.test.ts holds the two to that on random inputs and checks every field of
// the .proto is handled here.
import type { Endpoint, Service, ServiceJson, ServicePort } from './types.ts';

/** A value no protobufjs conversion changes, so the fast path may take it (else `undefined`: not plain). */
const str = (v: unknown): string | undefined => (v == null ? '' : typeof v === 'string' ? v : undefined);
const bool = (v: unknown): boolean | undefined => (v == null ? false : typeof v === 'boolean' ? v : undefined);
/** uint32: an integer in range (-0 reads as 0, as protobufjs writes it). */
const u32 = (v: unknown): number | undefined => (v == null ? 0 : typeof v === 'number' && v >>> 0 === v ? v >>> 0 : undefined);
/** sluice.v1.IPFamily by number: UNSPECIFIED (0), IPV4 (4), IPV6 (6); -0 reads as 0. */
const family = (v: unknown): number | undefined => (v == null ? 0 : v === 0 || v === 4 || v === 6 ? v | 0 : undefined);

function strings(v: unknown): string[] | undefined {
  if (v == null) return [];
  if (!Array.isArray(v)) return undefined;
  for (const x of v) if (typeof x !== 'string') return undefined;
  return v.slice() as string[];
}

function families(v: unknown): number[] | undefined {
  if (v == null) return [];
  if (!Array.isArray(v)) return undefined;
  for (const x of v) if (x !== 0 && x !== 4 && x !== 6) return undefined;
  return v.map((x: number) => x | 0);
}

function endpoint(e: unknown): Endpoint | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as Record<string, unknown>;
  const ip = str(o.ip), port = u32(o.port), ready = bool(o.ready), serving = bool(o.serving), terminating = bool(o.terminating);
  const nodeName = str(o.nodeName), targetRef = str(o.targetRef), internal = bool(o.internal), external = bool(o.external);
  const cluster = bool(o.cluster), fam = family(o.family);
  if (ip === undefined || port === undefined || ready === undefined || serving === undefined || terminating === undefined ||
      nodeName === undefined || targetRef === undefined || internal === undefined || external === undefined ||
      cluster === undefined || fam === undefined) return undefined;
  return { ip, port, ready, serving, terminating, nodeName, targetRef, internal, external, cluster, family: fam } as Endpoint;
}

function servicePort(p: unknown): ServicePort | undefined {
  if (typeof p !== 'object' || p === null) return undefined;
  const o = p as Record<string, unknown>;
  let endpoints: Endpoint[] = [];
  if (o.endpoints != null) {
    if (!Array.isArray(o.endpoints)) return undefined;
    endpoints = new Array<Endpoint>(o.endpoints.length);
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoint(o.endpoints[i]);
      if (!e) return undefined;
      endpoints[i] = e;
    }
  }
  const name = str(o.name), protocol = str(o.protocol), port = u32(o.port), nodePort = u32(o.nodePort);
  if (name === undefined || protocol === undefined || port === undefined || nodePort === undefined) return undefined;
  return { endpoints, name, protocol, port, nodePort };
}

/** @o in plain form, or `undefined` when some field is not already of its type (protobufjs decides then). */
export function plainService(o: ServiceJson): Service | undefined {
  if (typeof o !== 'object' || o === null || Object.getPrototypeOf(o) !== Object.prototype) return undefined;
  const s = o as Record<string, unknown>;
  const clusterIps = strings(s.clusterIps), externalIps = strings(s.externalIps), loadBalancerIps = strings(s.loadBalancerIps);
  const loadBalancerSourceRanges = strings(s.loadBalancerSourceRanges), ipFamilies = families(s.ipFamilies);
  if (!clusterIps || !externalIps || !loadBalancerIps || !loadBalancerSourceRanges || !ipFamilies) return undefined;
  let ports: ServicePort[] = [];
  if (s.ports != null) {
    if (!Array.isArray(s.ports)) return undefined;
    ports = new Array<ServicePort>(s.ports.length);
    for (let i = 0; i < ports.length; i++) {
      const p = servicePort(s.ports[i]);
      if (!p) return undefined;
      ports[i] = p;
    }
  }
  const namespace = str(s.namespace), name = str(s.name), type = str(s.type), affinityClientIp = bool(s.affinityClientIp);
  const affinityTimeoutSeconds = u32(s.affinityTimeoutSeconds), internalTrafficLocal = bool(s.internalTrafficLocal);
  const externalTrafficLocal = bool(s.externalTrafficLocal), healthCheckNodePort = u32(s.healthCheckNodePort);
  const lastChangeTriggerTime = str(s.lastChangeTriggerTime), ipFamilyPolicy = str(s.ipFamilyPolicy);
  if (namespace === undefined || name === undefined || type === undefined || affinityClientIp === undefined ||
      affinityTimeoutSeconds === undefined || internalTrafficLocal === undefined || externalTrafficLocal === undefined ||
      healthCheckNodePort === undefined || lastChangeTriggerTime === undefined || ipFamilyPolicy === undefined) return undefined;
  return {
    clusterIps, ports, externalIps, loadBalancerIps, loadBalancerSourceRanges, ipFamilies,
    namespace, name, type, affinityClientIp, affinityTimeoutSeconds, internalTrafficLocal, externalTrafficLocal,
    healthCheckNodePort, lastChangeTriggerTime, ipFamilyPolicy,
  } as Service;
}
