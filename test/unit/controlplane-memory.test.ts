// What the control plane keeps instead of whole objects and per-node copies (issue 14) must say
// exactly what the whole objects and per-node projections said:
// - slimObject keeps every field the model reads (the model builds the same service from it) and
//   shapeErrors judges the copy as it judges the whole object;
// - an update assembled from per-service encodings decodes as the message encoded in one go;
// - the store's cached per-view encodings are, for every node, the encoding of that node's own
//   projection, and nodes the model does not mention share one copy;
// - a slice packed by the store unpacks to exactly what parseSlice made of it, and a service every
//   node sees alike keeps only its encoding, its model rebuilt on demand being the one built in one go;
// - the control plane does not load @kubernetes/client-node.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { slimObject, shapeErrors } from '../../controlplane/kube-shape.ts';
import { buildService, parseSlice, projectForNode, type KubeEndpointSlice, type KubeService } from '../../controlplane/model.ts';
import { StateStore } from '../../controlplane/store.ts';
import { packSlice, unpackSlice } from '../../controlplane/packed-slice.ts';
import { encodeStateUpdate, encodeUpsert, pb, toStateUpdate } from '../../proto/contract.ts';

const svc = (name: string, extra: Partial<NonNullable<KubeService['spec']>> = {}): KubeService => ({
  metadata: {
    name, namespace: 'default', resourceVersion: '7', labels: { app: name },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(4000) },
    ...({ uid: 'u-1', managedFields: [{ manager: 'kubectl', fieldsV1: { big: 'y'.repeat(2000) } }] } as object),
  },
  spec: { type: 'NodePort', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30080 }], selector: { app: name }, ...extra },
  status: { loadBalancer: {} },
});

const slice = (service: string, eps: { ip: string; node: string; zones?: string[]; nodes?: string[]; ready?: boolean }[]): KubeEndpointSlice => ({
  metadata: {
    name: `${service}-abc`, namespace: 'default', resourceVersion: '9', labels: { 'kubernetes.io/service-name': service },
    annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-11-29T10:00:00Z', other: 'z'.repeat(1000) },
  },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: eps.map((e, i) => ({
    addresses: [e.ip], nodeName: e.node, conditions: { ready: e.ready ?? true },
    targetRef: { kind: 'Pod', namespace: 'default', name: `${service}-${i}`, ...({ uid: `pod-uid-${i}`, resourceVersion: '3' } as object) },
    ...(e.zones || e.nodes ? { hints: { forZones: (e.zones ?? []).map((name) => ({ name })), forNodes: (e.nodes ?? []).map((name) => ({ name })) } } : {}),
  })),
});

describe('slim objects', () => {
  it('keep what the model reads, drop the rest, and are judged like the whole object', () => {
    const s = svc('web', { externalTrafficPolicy: 'Local', externalIPs: ['192.0.2.1'] });
    const sl = slice('web', [{ ip: '10.244.1.1', node: 'node-a', zones: ['z1'] }, { ip: '10.244.2.1', node: 'node-b', zones: ['z2'] }]);
    const slimS = slimObject('Service', s);
    const slimE = slimObject('EndpointSlice', sl);
    expect(JSON.stringify(slimS).length).toBeLessThan(JSON.stringify(s).length / 5);
    expect(slimS.metadata).toEqual({ name: 'web', namespace: 'default', resourceVersion: '7', labels: { app: 'web' }, annotations: {} });
    expect(slimE.metadata!.annotations).toEqual({ 'endpoints.kubernetes.io/last-change-trigger-time': '2026-11-29T10:00:00Z' });
    expect(JSON.stringify(slimE)).not.toContain('pod-uid');
    const whole = buildService(s, [parseSlice(sl)]);
    const slim = buildService(slimS, [parseSlice(slimE)]);
    expect(slim).toEqual(whole);
    expect(whole.model).not.toBeNull();
    // type-confused input: same errors from the copy
    const bad = { metadata: { name: 'b', labels: { x: 5 } }, spec: { ports: 'nope', clusterIPs: [null] }, status: 3 } as unknown;
    expect(shapeErrors('Service', 'default/b', slimObject('Service', bad))).toEqual(shapeErrors('Service', 'default/b', bad));
    expect(shapeErrors('Service', 'default/b', bad).length).toBeGreaterThan(0);
  });
});

describe('encoded updates', () => {
  it('an update assembled from per-service encodings decodes as the whole message', () => {
    const models = ['a', 'b', 'c'].map((n, i) => buildService(svc(n), [parseSlice(slice(n, [{ ip: `10.244.1.${i + 1}`, node: 'node-a' }]))]).model!);
    const views = models.map((m) => projectForNode(m, 'node-a'));
    const header = { version: 1234567890123, nonce: 'n1', snapshot: true, removals: ['default/gone', 'x/y'], serverId: 'cp-1' };
    const assembled = encodeStateUpdate(header, views.map(encodeUpsert));
    const whole = pb.StateUpdate.encode({ ...header, upserts: views }).finish();
    expect(toStateUpdate(pb.StateUpdate.decode(assembled))).toEqual(toStateUpdate(pb.StateUpdate.decode(whole)));
    expect(assembled.length).toBe(whole.length);
  });
});

describe('per-view encodings in the store', () => {
  it('are each node\'s own projection; nodes the model does not mention share one copy', () => {
    const store = new StateStore();
    store.upsertService(svc('local', { externalTrafficPolicy: 'Local' }));
    store.upsertSlice(slice('local', [{ ip: '10.244.1.1', node: 'node-a' }, { ip: '10.244.2.1', node: 'node-b' }, { ip: '10.244.3.1', node: 'node-c', ready: false }]));
    store.upsertService(svc('hinted'));
    store.upsertSlice(slice('hinted', [{ ip: '10.244.1.2', node: 'node-a', zones: ['z1'] }, { ip: '10.244.2.2', node: 'node-b', zones: ['z2'] }]));
    store.upsertService(svc('plain'));
    store.upsertSlice(slice('plain', [{ ip: '10.244.1.3', node: 'node-a' }]));
    for (const [n, z] of [['node-a', 'z1'], ['node-b', 'z2'], ['node-c', 'z1'], ['node-x', 'z1'], ['node-y', 'z1'], ['node-z', 'z2'], ['node-w', '']] as const) {
      store.upsertNode(n, { 'topology.kubernetes.io/zone': z });
    }
    store.flush();
    const nodes = ['node-a', 'node-b', 'node-c', 'node-x', 'node-y', 'node-z', 'node-w'];
    for (const key of ['default/local', 'default/hinted', 'default/plain']) {
      const e = store.get(key)!;
      for (const n of nodes) {
        const got = store.encodedFor(e, n);
        expect(got, `${key} on ${n}`).toBe(encodeUpsert(projectForNode(store.modelOf(e)!, { name: n, zone: store.zoneOf(n) })));
        expect(store.encodedFor(e, n)).toBe(got);
      }
    }
    const local = store.get('default/local')!;
    // node-x, node-y, node-z, node-w host none of its endpoints: one view; a, b, c each their own
    expect(local.views!.size).toBe(4);
    const hinted = store.get('default/hinted')!;
    // mentioned: node-a, node-b; the others by zone: z1, z2, ''
    expect(hinted.views!.size).toBe(5);
    // a node changing zone gets its new zone's view
    store.upsertNode('node-x', { 'topology.kubernetes.io/zone': 'z2' });
    expect(store.encodedFor(store.get('default/hinted')!, 'node-x')).toBe(encodeUpsert(projectForNode(hinted.model!, { name: 'node-x', zone: 'z2' })));
    expect(store.get('default/plain')!.encoded).toBeDefined();
  });
});

describe('packed slices and services kept as their encoding', () => {
  it('a packed slice unpacks to what parseSlice made of it (conditions, hints, several ports, IPv6, odd strings)', () => {
    const one = parseSlice(slice('web', [
      { ip: '10.244.1.1', node: 'node-a', zones: ['z2', 'z1'], nodes: ['node-a'] }, { ip: '10.244.2.1', node: '', ready: false },
      { ip: '10.244.3.1', node: 'n"\\,[é\u2028', zones: ['z1'] },
    ]));
    const multi: KubeEndpointSlice = {
      metadata: { name: 'v6', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv6',
      ports: [{ name: 'a', port: 80, protocol: 'TCP' }, { name: 'b', port: 53, protocol: 'UDP' }],
      endpoints: [
        { addresses: ['fd00::1'], conditions: { ready: false, serving: true, terminating: true }, targetRef: { kind: 'Pod', namespace: 'other', name: 'p' } },
        { addresses: ['FD00:0::2'], conditions: {}, targetRef: { kind: '', name: '/odd' } },
        { addresses: ['fd00::3'], targetRef: { name: '/odd' } }, { addresses: ['fd00::4'], targetRef: { kind: 'Node', name: 'n' } },
      ],
    };
    const noService: KubeEndpointSlice = { metadata: { name: 'orphan' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }] };
    for (const p of [one, parseSlice(multi), parseSlice(noService), parseSlice({ metadata: { name: 'f' }, addressType: 'FQDN' })]) {
      const packed = packSlice(p);
      expect(unpackSlice(packed)).toStrictEqual({ ...p, errors: [] });
      expect(packed.length).toBeLessThan(JSON.stringify(p).length);
    }
    expect(parseSlice(multi).endpoints.map((e) => [e.ip, e.port, e.ready, e.serving, e.terminating, e.targetRef])).toEqual([
      ['fd00::1', 0, false, true, true, 'Pod/other/p'], ['fd00::2', 0, true, true, false, '/ns//odd'], ['fd00::3', 0, true, true, false, 'Pod/ns//odd'],
      ['fd00::4', 0, true, true, false, 'Node/ns/n'],
    ]);
  });

  it('a service every node sees alike keeps no model; modelOf rebuilds the one buildService makes; a change no node is sent bumps nothing', () => {
    const store = new StateStore();
    const changes: string[][] = [];
    store.on('change', (keys) => changes.push([...keys]));
    const s = svc('plain');
    const eps = [{ ip: '10.244.1.3', node: 'node-a' }, { ip: '10.244.1.4', node: 'node-b', ready: false }];
    store.upsertService(s);
    store.upsertSlice(slice('plain', eps));
    store.upsertService(svc('local', { externalTrafficPolicy: 'Local' }));
    store.upsertSlice(slice('local', eps));
    store.flush();
    expect(store.get('default/plain')!.encoded).toBeUndefined(); // before the initial sync: encoded when synced
    store.markSynced();
    const plain = store.get('default/plain')!;
    expect(plain.model).toBeUndefined();
    const whole = buildService(s, [parseSlice(slice('plain', eps))]).model!;
    whole.lastChangeTriggerTime = '2026-11-29T10:00:00Z';
    expect(store.modelOf('default/plain')).toStrictEqual(whole);
    expect(plain.encoded).toBe(encodeUpsert(projectForNode(whole, 'node-z')));
    expect(store.get('default/local')!.model).toBeDefined(); // node-dependent: kept, views made from it
    expect(store.endpointCount).toBe(4);
    // an endpoint neither ready nor serving is in the model but in no node's message: nothing to send
    const withGone = slice('plain', [...eps, { ip: '10.244.1.5', node: 'node-c' }]);
    withGone.endpoints![2]!.conditions = { ready: false, serving: false };
    store.upsertSlice(withGone);
    changes.length = 0;
    store.flush();
    expect(changes).toEqual([]);
    expect(store.get('default/plain')!.rev).toBe(plain.rev);
    expect(store.endpointCount).toBe(5);
    expect(store.modelOf('default/plain')!.ports[0]!.endpoints.map((e) => e.ip)).toEqual(['10.244.1.3', '10.244.1.4', '10.244.1.5']);
    // a ready one is sent
    store.upsertSlice(slice('plain', [...eps, { ip: '10.244.1.5', node: 'node-c' }]));
    store.flush();
    expect(changes).toEqual([['default/plain']]);
    expect(store.get('default/plain')!.rev).toBeGreaterThan(plain.rev);
    // deleting the slice leaves the service without endpoints
    store.deleteSlice('default/plain-abc');
    store.flush();
    expect(store.modelOf('default/plain')!.ports[0]!.endpoints).toEqual([]);
    expect(store.endpointCount).toBe(2);
  });
});

describe('what the control plane loads', () => {
  // @kubernetes/client-node's KubeConfig alone imports its whole generated API (~65 MiB of RSS,
  // docs/benchmarks.md "Control plane memory"): the control plane reaches the API server without it
  // (list-watch.ts, kube-connection.ts) and imports it only for a kubeconfig that needs its plugins.
  it('imports no @kubernetes/client-node module (and does load the gRPC server, so the check sees the graph)', () => {
    const main = new URL('../../controlplane/main.ts', import.meta.url).href;
    const script = `
      import { registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r; } });
      await import(${JSON.stringify(main)});
      process.stdout.write(JSON.stringify(seen));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    const urls = JSON.parse(out) as string[];
    expect(urls.some((u) => u.includes('/@grpc/grpc-js/'))).toBe(true);
    expect(urls.some((u) => u.includes('/controlplane/list-watch.ts'))).toBe(true);
    expect(urls.filter((u) => u.includes('/@kubernetes/client-node/'))).toEqual([]);
  });
});
