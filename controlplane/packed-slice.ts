// An EndpointSlice as the store keeps it between changes (issue 14): its parsed form
// (model.ts ParsedSlice) packed into one string, unpacked only when its service is rebuilt.
//
// Why: a parsed endpoint is an object of ten fields (104 bytes without pointer compression, as
// Node is built) plus its IP and targetRef strings (~32 and ~40 bytes): ~176 bytes, 17 MiB at
// 10,000 services x 10 endpoints. Packed, an endpoint is ~50 characters of one flat string per
// slice. Its validation errors are not kept: they were reported when it was parsed.
//
// Format: JSON (any string round-trips exactly) of
//   [key, service, family, [[portName, protocol, port]...], [[ip, port, flags, nodeName, targetRef, zoneHints?, nodeHints?]...]]
// flags: ready 1 | serving 2 | terminating 4; the hint lists only when one of them is not empty.
// Every endpoint of a slice has the slice's family (parseSlice refuses the others).
import { NO_HINTS, type ModelEndpoint, type ParsedSlice } from './model.ts';

type PackedEndpoint = [string, number, number, string, string, string[]?, string[]?];
type Packed = [string, string, ParsedSlice['family'], [string, string, number][], PackedEndpoint[]];

export function packSlice(p: ParsedSlice): string {
  const eps = p.endpoints.map((e): PackedEndpoint => {
    const flags = (e.ready ? 1 : 0) | (e.serving ? 2 : 0) | (e.terminating ? 4 : 0);
    return e.zoneHints.length > 0 || e.nodeHints.length > 0
      ? [e.ip, e.port, flags, e.nodeName, e.targetRef, e.zoneHints, e.nodeHints]
      : [e.ip, e.port, flags, e.nodeName, e.targetRef];
  });
  const packed: Packed = [p.key, p.service, p.family, p.ports.map((x) => [x.name, x.protocol, x.port]), eps];
  return JSON.stringify(packed);
}

export function unpackSlice(s: string): ParsedSlice {
  const [key, service, family, ports, eps] = JSON.parse(s) as Packed;
  return {
    key, service, family,
    ports: ports.map(([name, protocol, port]) => ({ name, protocol, port })),
    endpoints: eps.map(([ip, port, flags, nodeName, targetRef, zoneHints, nodeHints]): ModelEndpoint => ({
      ip, family, port, ready: (flags & 1) !== 0, serving: (flags & 2) !== 0, terminating: (flags & 4) !== 0, nodeName, targetRef,
      zoneHints: zoneHints?.length ? zoneHints : NO_HINTS, nodeHints: nodeHints?.length ? nodeHints : NO_HINTS,
    })),
    errors: [],
  };
}

