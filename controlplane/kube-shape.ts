// JSON shape of the objects the sources hand to the model: the types the API server's schema
// guarantees (a list is a list, a name is a string...), checked at the source boundary so that
// type-confused input (hand-written YAML, a hostile or broken API server) is refused with an error
// instead of reaching code that assumes the schema. Only the fields Sluice reads are described;
// null and absent are both "unset", as in Kubernetes. Values are the model's to judge.
import type { ModelError } from './model.ts';

/** 'any': not checked here; 'strmap': {string: string}; [s]: list of s; {...}: object. */
type Shape = 'string' | 'bool' | 'any' | 'strmap' | Shape[] | { [field: string]: Shape };

const META: Shape = { name: 'string', namespace: 'string', resourceVersion: 'string', labels: 'strmap', annotations: 'strmap', deletionTimestamp: 'any' };
const CONTAINERS: Shape = [{ name: 'string', ports: [{ name: 'string', containerPort: 'any', protocol: 'string' }] }];
const POD_SPEC: Shape = { nodeName: 'string', containers: CONTAINERS };

const SHAPES: Record<string, Shape> = {
  Service: {
    metadata: META,
    spec: {
      type: 'string', clusterIP: 'string', clusterIPs: ['string'], ipFamilies: ['string'], ipFamilyPolicy: 'string', selector: 'strmap', externalIPs: ['any'],
      ports: [{ name: 'string', protocol: 'string', port: 'any', targetPort: 'any', nodePort: 'any' }],
      sessionAffinity: 'string', sessionAffinityConfig: { clientIP: { timeoutSeconds: 'any' } },
      internalTrafficPolicy: 'string', externalTrafficPolicy: 'string', externalName: 'string', healthCheckNodePort: 'any',
      loadBalancerSourceRanges: ['any'], trafficDistribution: 'string',
    },
    status: { loadBalancer: { ingress: [{ ip: 'string', hostname: 'string', ipMode: 'string' }] } },
  },
  EndpointSlice: {
    metadata: META,
    addressType: 'string',
    ports: [{ name: 'string', protocol: 'string', port: 'any' }],
    endpoints: [{
      addresses: ['string'], nodeName: 'string', zone: 'string',
      hints: { forZones: [{ name: 'string' }], forNodes: [{ name: 'string' }] },
      conditions: { ready: 'bool', serving: 'bool', terminating: 'bool' },
      targetRef: { kind: 'string', namespace: 'string', name: 'string' },
    }],
  },
  Pod: {
    metadata: META,
    spec: POD_SPEC,
    status: { podIP: 'string', podIPs: [{ ip: 'string' }], hostIP: 'string', phase: 'string', conditions: [{ type: 'string', status: 'string' }] },
  },
  Deployment: { metadata: META, spec: { replicas: 'any', template: { metadata: META, spec: POD_SPEC } } },
  Node: {
    // deletionTimestamp: a string on the wire, a Date once client-node has deserialized a list
    metadata: { ...(META as Record<string, Shape>), deletionTimestamp: 'any' },
    spec: { taints: [{ key: 'string', value: 'string', effect: 'string' }] },
    status: { addresses: [{ type: 'string', address: 'string' }] },
  },
};

const MAX_ERRORS = 5;

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`;
}

function walk(v: unknown, s: Shape, field: string, out: string[][]): void {
  if (out.length >= MAX_ERRORS || v === undefined || s === 'any') return;
  const bad = (want: string): void => { out.push([field, `expected ${want}, got ${describe(v)}`]); };
  if (s === 'string') { if (typeof v !== 'string' && v !== null) bad('a string'); return; }
  if (s === 'bool') { if (typeof v !== 'boolean' && v !== null) bad('a boolean'); return; }
  if (v === null) return;
  if (Array.isArray(s)) {
    if (!Array.isArray(v)) { bad('a list'); return; }
    v.forEach((x, i) => { if (x === null || x === undefined) out.push([`${field}[${i}]`, 'null list entry']); else walk(x, s[0]!, `${field}[${i}]`, out); });
    return;
  }
  if (typeof v !== 'object' || Array.isArray(v)) { bad('an object'); return; }
  const o = v as Record<string, unknown>;
  if (s === 'strmap') {
    for (const [k, x] of Object.entries(o)) if (typeof x !== 'string') { out.push([`${field}[${JSON.stringify(k).slice(0, 60)}]`, `expected a string, got ${describe(x)}`]); if (out.length >= MAX_ERRORS) return; }
    return;
  }
  for (const [k, sub] of Object.entries(s)) walk(o[k], sub, field ? `${field}.${k}` : k, out);
}

/**
 * Annotations Sluice reads (all other annotations are dropped by `slimObject`: they can be large,
 * e.g. kubectl's last-applied-configuration). Labels are kept whole: they are small and selectors read them.
 */
export const READ_ANNOTATIONS: readonly string[] = ['endpoints.kubernetes.io/last-change-trigger-time'];

function pick(v: unknown, s: Shape, field: string): unknown {
  if (v === undefined || v === null || s === 'any' || s === 'string' || s === 'bool') return v;
  if (Array.isArray(s)) return Array.isArray(v) ? v.map((x) => pick(x, s[0]!, field)) : v;
  if (typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  if (s === 'strmap') {
    if (field !== 'annotations') return { ...o };
    const kept: Record<string, unknown> = {};
    for (const k of READ_ANNOTATIONS) if (Object.hasOwn(o, k)) kept[k] = o[k];
    return kept;
  }
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(s)) if (o[k] !== undefined) out[k] = pick(o[k], sub, k);
  return out;
}

/**
 * A copy of `doc` holding only the fields its kind's shape describes (the fields Sluice reads), for
 * caches that keep objects between events: values are copied as they are, so `shapeErrors` and the
 * model judge the copy exactly as they would the whole object (annotations: READ_ANNOTATIONS only).
 * Kinds without a shape are returned unchanged.
 */
export function slimObject<T>(kind: string, doc: T): T {
  const s = SHAPES[kind];
  return s ? (pick(doc, s, '') as T) : doc;
}

/** Shape errors of one object of a kind Sluice reads ([] = fine, or a kind Sluice does not read). */
export function shapeErrors(kind: string, object: string, doc: unknown): ModelError[] {
  const s = SHAPES[kind];
  if (!s) return [];
  const out: string[][] = [];
  walk(doc, s, '', out);
  return out.map(([field, message]) => ({ kind, object, field: field!, message: `${message}; object ignored` }));
}
