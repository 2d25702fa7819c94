// An EndpointSlice as the store keeps it between changes (issue 14): its parsed form
// (model.ts ParsedSlice) packed into one string, unpacked only when its service is rebuilt.
//
// Why: a parsed endpoint is an object of ten fields (104 bytes without pointer compression, as
// Node is built) plus its IP and targetRef strings (~32 and ~40 bytes): ~176 bytes, 17 MiB at
// 10,000 services x 10 endpoints. Packed, an endpoint is ~50 characters of one flat string per
// slice. Its validation errors are not kept: they were reported when it was parsed.
//
// Format: JSON (any string round-trips exactly) of
//   [key, service, family, [[portName, protocol, port]...], [[ip, flags, nodeName, ref, zoneHints?, nodeHints?]...]]
// flags: ready 1 | serving 2 | terminating 4; the hint lists only when one of them is not empty.
// ref: the targetRef ('' for none) without its usual "Pod/<the slice's namespace>/" prefix, or
// "/" + the whole targetRef when it has another. What parseSlice derives is not stored: every
// endpoint has the slice's family (it refuses the others) and its port is the slice's only port's
// (0 when the slice has several).
import { NO_HINTS, type ModelEndpoint, type ParsedSlice } from './model.ts';

type PackedEndpoint = [string, number, string, string, string[]?, string[]?];
type Packed = [string, string, ParsedSlice['family'], [string, string, number][], PackedEndpoint[]];

/** "Pod/<namespace of the slice>/": the targetRef prefix of (nearly) every endpoint. */
const podPrefix = (sliceKey: string): string => `Pod/${sliceKey.slice(0, sliceKey.indexOf('/'))}/`;

export function packSlice(p: ParsedSlice): string {
  const prefix = podPrefix(p.key);
  const eps = p.endpoints.map((e): PackedEndpoint => {
    const flags = (e.ready ? 1 : 0) | (e.serving ? 2 : 0) | (e.terminating ? 4 : 0);
    const t = e.targetRef;
    const ref = t === '' ? '' : t.startsWith(prefix) && t.length > prefix.length && t[prefix.length] !== '/' ? t.slice(prefix.length) : `/${t}`;
    return e.zoneHints.length > 0 || e.nodeHints.length > 0
      ? [e.ip, flags, e.nodeName, ref, e.zoneHints, e.nodeHints]
      : [e.ip, flags, e.nodeName, ref];
  });
  const packed: Packed = [p.key, p.service, p.family, p.ports.map((x) => [x.name, x.protocol, x.port]), eps];
  return JSON.stringify(packed);
}

export function unpackSlice(s: string): ParsedSlice {
  const [key, service, family, ports, eps] = JSON.parse(s) as Packed;
  const prefix = podPrefix(key);
  const port = ports.length === 1 ? ports[0]![2] : 0;
  return {
    key, service, family,
    ports: ports.map(([name, protocol, port]) => ({ name, protocol, port })),
    endpoints: eps.map(([ip, flags, nodeName, ref, zoneHints, nodeHints]): ModelEndpoint => ({
      ip, family, port, ready: (flags & 1) !== 0, serving: (flags & 2) !== 0, terminating: (flags & 4) !== 0, nodeName,
      targetRef: ref === '' ? '' : ref[0] === '/' ? ref.slice(1) : prefix + ref,
      zoneHints: zoneHints?.length ? zoneHints : NO_HINTS, nodeHints: nodeHints?.length ? nodeHints : NO_HINTS,
    })),
    errors: [],
  };
}

