// Fuzzing the sources with a seeded generator (reproducible: the seed is in the test name):
// - the Kubernetes source, through the fake API server and its informers (list-watch.ts), fed
//   thousands of malformed, oversized and type-confused Services and EndpointSlices;
// - the manifests source fed malformed YAML files.
// Invariants: nothing throws (an uncaught exception fails the run), a valid Service alongside keeps
// its exact state, every rejected object is reported, and each object version at most once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { FakeApiServer, type KObj } from '../fixtures/fake-apiserver.ts';
import { StateStore } from '../../controlplane/store.ts';
import { KubernetesSource } from '../../controlplane/source-kubernetes.ts';
import { ManifestsSource } from '../../controlplane/source-manifests.ts';

const SVC = '/api/v1/services';
const EPS = '/apis/discovery.k8s.io/v1/endpointslices';
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const SEED = 0x5eed17;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): { next(): number; int(n: number): number; pick<T>(a: readonly T[]): T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (arr) => arr[Math.floor(next() * arr.length)]! };
}
type Rng = ReturnType<typeof prng>;

/** Values of every JSON type, including hostile ones. */
function junk(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 1 ? 12 : 15)) {
    case 0: return null;
    case 1: return r.pick([0, -1, 1, 65535, 65536, 1e308, -0, 0.5, 2 ** 53 + 1]);
    case 2: return r.pick(['', 'None', 'TCP', 'UDP', 'SCTP', '10.96.0.1', '::1', '999.1.1.1', 'http', 'ClusterIP', 'NodePort', 'ExternalName', '\u0000', 'é'.repeat(50)]);
    case 3: return r.next() < 0.5;
    case 4: return 'x'.repeat(r.pick([253, 254, 4096, 200_000])); // oversized strings
    case 5: return String(r.int(70000));
    case 6: return `10.${r.int(300)}.${r.int(256)}.${r.int(256)}`;
    case 7: return [];
    case 8: return {};
    case 9: return { __proto__x: 1, constructor: 'x', toString: 3 };
    case 10: return r.pick(['a', '-a', 'a'.repeat(64), 'UPPER', '1234', 'a.b']);
    case 11: return Array.from({ length: r.pick([1, 3, 2000]) }, () => r.pick([null, 1, 'x', '10.0.0.1']));
    case 12: return [junk(r, depth + 1), junk(r, depth + 1)];
    case 13: return { a: junk(r, depth + 1), port: junk(r, depth + 1), name: junk(r, depth + 1) };
    default: return Object.fromEntries(Array.from({ length: r.pick([2, 5000]) }, (_, i) => [`k${i}`, r.pick(['v', 1, null])]));
  }
}

/** Paths into an object: [parent path..., field]. */
function paths(o: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (o && typeof o === 'object') {
    for (const [k, v] of Object.entries(o)) {
      if (prefix.length === 0 && k === 'metadata') continue; // mutated separately (names must stay unique)
      out.push([...prefix, k]);
      paths(v, [...prefix, k], out);
    }
  }
  return out;
}

function mutate<T>(r: Rng, base: T): T {
  const o = structuredClone(base) as Record<string, unknown>;
  const all = paths(o);
  for (let n = 1 + r.int(3); n > 0; n--) {
    const p = r.pick(all);
    let x: unknown = o;
    for (const k of p.slice(0, -1)) x = (x as Record<string, unknown> | null)?.[k];
    if (x && typeof x === 'object') {
      if (r.next() < 0.15) delete (x as Record<string, unknown>)[p.at(-1)!];
      else (x as Record<string, unknown>)[p.at(-1)!] = junk(r);
    }
  }
  if (r.next() < 0.1) (o.metadata as Record<string, unknown>).labels = junk(r);
  if (r.next() < 0.05) (o.metadata as Record<string, unknown>).annotations = junk(r);
  return o as T;
}

function baseService(name: string): KObj {
  return {
    metadata: { name, namespace: 'fuzz', labels: { app: name } },
    spec: {
      type: 'LoadBalancer', clusterIP: '10.96.1.1', clusterIPs: ['10.96.1.1'], selector: { app: name },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }],
      sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      internalTrafficPolicy: 'Cluster', externalTrafficPolicy: 'Local', externalIPs: ['192.0.2.1'],
    },
    status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }] } },
  };
}
function baseSlice(name: string, service: string): KObj {
  return {
    metadata: { name, namespace: 'fuzz', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: ['10.244.1.1'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-a', targetRef: { kind: 'Pod', namespace: 'fuzz', name: 'p' } }],
  };
}

async function waitFor(what: string, cond: () => boolean, ms = 45_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe(`fuzzing the Kubernetes source through real informers (seed ${SEED})`, () => {
  const api = new FakeApiServer();
  let store: StateStore;
  let source: KubernetesSource;
  let sourceErrors = 0;
  /** object key ("Service fuzz/x") -> error reports (non-empty lists) received */
  const reports = new Map<string, number>();

  beforeAll(async () => {
    await api.start();
    api.upsert(SVC, { metadata: { name: 'canary', namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } });
    api.upsert(EPS, { ...baseSlice('canary-1', 'canary'), metadata: { name: 'canary-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'canary' } } });
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser({ name: 'fake', server: api.url, skipTLSVerify: true }, { name: 'test', token: 'test-token' });
    store = new StateStore();
    store.on('errors', (key, errs) => { if (errs.length > 0) reports.set(key.replace(/ \(shape\)$/, ''), (reports.get(key.replace(/ \(shape\)$/, '')) ?? 0) + 1); });
    source = new KubernetesSource({ store, logger: log, kubeConfig: kc, restartBackoffInitialMs: 100, restartBackoffMaxMs: 1000, onSourceError: () => { sourceErrors++; } });
    source.start();
    await waitFor('synced', () => store.synced && store.modelOf('default/canary')?.ports[0]?.endpoints.length === 1);
  });
  afterAll(async () => {
    await source?.stop();
    await api.close();
  });

  it('survives 2,000 malformed Services and EndpointSlices, two versions each: canary intact, every rejection reported, at most once per version', async () => {
    const canary = store.get('default/canary')!;
    const canaryModel = store.modelOf(canary);
    const r = prng(SEED);
    const N = 1000;
    const versions = new Map<string, number>();
    const put = (collection: string, kind: string, o: KObj): void => {
      api.upsert(collection, o);
      const key = `${kind} ${o.metadata.namespace || 'default'}/${o.metadata.name}`;
      versions.set(key, (versions.get(key) ?? 0) + 1);
    };
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < N; i++) {
        const name = `f${i}`;
        // mostly the Service's own slice; sometimes one claiming the canary
        const target = r.next() < 0.05 ? 'canary' : name;
        const svc = mutate(r, baseService(name));
        const eps = mutate(r, baseSlice(`${name}-s`, target));
        if (target === 'canary') (eps.metadata as { namespace?: string }).namespace = 'fuzz'; // another namespace: never the canary's
        put(SVC, 'Service', svc);
        put(EPS, 'EndpointSlice', eps);
      }
      // metadata the informer's cache keys on: odd but string-typed names and namespaces, junk elsewhere
      for (let i = 0; i < 50; i++) {
        const meta = { name: `m${i}-${r.pick(['', 'x'.repeat(300), 'é', 'a/b', '..'])}`, namespace: r.pick(['fuzz', 'x'.repeat(300), 'kube-system']), labels: junk(r), annotations: junk(r), deletionTimestamp: junk(r), ownerReferences: junk(r) };
        put(SVC, 'Service', { ...baseService('m'), metadata: meta as KObj['metadata'] });
      }
      api.upsert(SVC, { metadata: { name: `done-${round}`, namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: `10.96.0.${20 + round}`, ports: [{ port: 80 }] } });
      await waitFor(`round ${round} processed`, () => store.get(`default/done-${round}`) !== undefined, 50_000);
    }
    // nothing crashed, the informers never failed
    expect(sourceErrors).toBe(0);
    // the canary never changed (same revision: not even an update was sent)
    expect(store.get('default/canary')!.rev).toBe(canary.rev);
    expect(store.modelOf('default/canary')!).toStrictEqual(canaryModel);
    expect(store.get('default/canary')!.encoded).toBe(canary.encoded);
    // rejections were reported, each object version at most once
    let rejected = 0;
    for (const [key, n] of reports) {
      expect(n, key).toBeLessThanOrEqual(versions.get(key) ?? 0);
    }
    // every fuzzed Service that is not modelled has a report (unless it asked to be ignored)
    const svcs = api.resource(SVC).objects;
    for (let i = 0; i < N; i++) {
      const key = `fuzz/f${i}`;
      if (store.get(key)) continue;
      const spec = svcs.get(key)?.spec as { type?: unknown; clusterIP?: unknown; clusterIPs?: unknown[] } | undefined;
      const ignored = spec?.type === 'ExternalName' || spec?.clusterIP === 'None' || (Array.isArray(spec?.clusterIPs) && spec.clusterIPs[0] === 'None');
      if (ignored) continue;
      rejected++;
      expect(reports.get(`Service ${key}`), `Service ${key} dropped without a report`).toBeGreaterThan(0);
    }
    expect(rejected).toBeGreaterThan(N / 2); // the generator does produce mostly broken objects
    expect(store.size).toBeGreaterThan(3); // ... and some valid ones (mutations that stay valid)
  }, 60_000);
});

describe(`fuzzing the manifests source with malformed YAML (seed ${SEED})`, () => {
  it('serves the valid Service through 300 broken files and reports each bad file once', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-fuzz-'));
    const dir = path.join(root, 'manifests');
    fs.mkdirSync(dir);
    try {
      const canaryYaml = 'kind: Service\nmetadata: {name: canary}\nspec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}\n';
      fs.writeFileSync(path.join(dir, '0-canary.yaml'), canaryYaml);
      const store = new StateStore();
      const counted: string[] = [];
      const src = new ManifestsSource({ dir, store, logger: log, rescanIntervalMs: 60_000, debounceMs: 60_000, parseWaitMs: 30_000, maxFileBytes: 256 * 1024, onSourceError: (reason) => counted.push(reason) });
      await src.start();
      store.flush();
      const canary = store.get('default/canary')!;
      const canaryModel = store.modelOf(canary);
      const r = prng(SEED);
      const base = `apiVersion: v1
kind: Service
metadata:
  name: NAME
  labels: {app: NAME}
spec:
  type: NodePort
  selector: {app: NAME}
  ports:
  - {name: http, port: 80, targetPort: 8080, nodePort: 30080}
---
kind: Pod
metadata: {name: NAME-pod, labels: {app: NAME}}
spec: {nodeName: node-a, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.244.9.9}
`;
      const breakers = ['[', ']', '{', '}', ':', '- ', '\t', '&a ', '*a', '*nope', '!!binary ', '!!int ', '"', "'", '\n', '---\n', '...\n', '%YAML 9\n', '? ', '|', '>', '#', ',', '@', '`', '\u0000', '\uFEFF', 'clusterIP: 10.96.0.10\n'];
      const files = 300;
      for (let i = 0; i < files; i++) {
        let text = base.replaceAll('NAME', `f${i}`);
        const kind = r.int(6);
        if (kind === 0) {
          // an alias bomb (billion laughs)
          text = `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nkind: Service\nmetadata: {name: bomb${i}}\nspec: {ports: *d}\n`;
        } else if (kind === 1) {
          text = text + `metadata: {name: dup${i}}\n`; // duplicate key in the last document
        } else if (kind === 2) {
          text = 'x'.repeat(300 * 1024); // over the size limit
        } else {
          for (let n = 1 + r.int(4); n > 0; n--) {
            const at = r.int(text.length);
            text = text.slice(0, at) + r.pick(breakers) + text.slice(at + (r.next() < 0.3 ? 1 + r.int(5) : 0));
          }
        }
        fs.writeFileSync(path.join(dir, `f${i}.yaml`), text);
      }
      await src.scan();
      await src.scan(); // a rescan must not report again
      store.flush();
      expect(store.modelOf('default/canary')!).toStrictEqual(canaryModel);
      expect(store.get('default/canary')!.encoded).toBe(canary.encoded);
      expect(store.get('default/canary')!.rev).toBe(canary.rev);
      const bad = src.fileErrors;
      expect(bad.length).toBeGreaterThan(files / 3);
      expect(counted).toHaveLength(bad.length); // once per bad file
      expect(new Set(bad.map((e) => e.reason))).toEqual(new Set(['yaml', 'too-large']));
      // a file that parses but holds junk objects is reported per object, never crashes the scan
      expect(store.errors().filter((e) => e.kind !== 'File').length).toBeGreaterThan(0);
      src.stop();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
