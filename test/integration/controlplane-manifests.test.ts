// The manifests source: ClusterIP allocation (stable across restarts, never duplicated), selector
// matching, named targetPorts, scale up/down by editing files (picked up by fs.watch or rescans).
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import { StateStore } from '../../controlplane/store.ts';
import { ManifestsSource, type ManifestsSourceOptions } from '../../controlplane/source-manifests.ts';

const log = pino({ level: 'silent' });
let dirs: string[] = [];
let sources: ManifestsSource[] = [];
afterEach(() => {
  for (const s of sources) s.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  sources = [];
  dirs = [];
});

function tmp(): { root: string; dir: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-manifests-'));
  dirs.push(root);
  const dir = path.join(root, 'manifests');
  fs.mkdirSync(dir);
  return { root, dir };
}
async function start(dir: string, extra: Partial<ManifestsSourceOptions> = {}): Promise<{ store: StateStore; src: ManifestsSource }> {
  const store = new StateStore();
  // parseWaitMs: a scan() returns with every file parsed, whatever the machine's load
  const src = new ManifestsSource({ dir, store, logger: log, rescanIntervalMs: 500, debounceMs: 50, parseWaitMs: 30_000, ...extra });
  sources.push(src);
  await src.start();
  store.flush();
  return { store, src };
}
async function waitFor(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const eps = (store: StateStore, key: string, port = 0): string[] =>
  (store.modelOf(key)?.ports[port]?.endpoints ?? []).map((e) => `${e.ip}:${e.port}${e.ready ? '' : e.terminating ? '(terminating)' : '(unready)'}@${e.nodeName}`);

const deployment = (replicas: number, ips = '10.244.1.10,10.244.2.10,10.244.1.11,10.244.2.11'): string => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    sluice.io/pod-ips: "${ips}"
    sluice.io/node: "node-a,node-b"
spec:
  replicas: ${replicas}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
      - name: nginx
        ports: [{name: http, containerPort: 8080}, {name: admin, containerPort: 9000}]
`;

describe('manifests source', () => {
  it('allocates ClusterIPs from the service CIDR: stable across restarts, never duplicated, explicit IPs respected', async () => {
    const { root, dir } = tmp();
    const many = Array.from({ length: 40 }, (_, i) => `---\nkind: Service\nmetadata: {name: s${i}, namespace: ns${i % 3}}\nspec: {ports: [{port: 80}]}\n`).join('');
    fs.writeFileSync(path.join(dir, 'many.yaml'), many + '---\nkind: Service\nmetadata: {name: fixed}\nspec: {clusterIP: 10.96.0.50, ports: [{port: 53, protocol: UDP}]}\n');
    const a = await start(dir, { stateFile: path.join(root, 'state', 'alloc.json') });
    const ips = new Map<string, string>();
    for (const k of a.store.keys()) ips.set(k, a.store.modelOf(k)!.clusterIps[0]!);
    expect(ips.size).toBe(41);
    expect(new Set(ips.values()).size).toBe(41); // no duplicates
    expect(ips.get('default/fixed')).toBe('10.96.0.50');
    for (const ip of ips.values()) {
      const [o1, o2] = ip.split('.').map(Number);
      expect(o1).toBe(10);
      expect(o2! >= 96 && o2! <= 111).toBe(true); // inside 10.96.0.0/12
    }
    const state = JSON.parse(fs.readFileSync(path.join(root, 'state', 'alloc.json'), 'utf8'));
    expect(Object.keys(state.services)).toHaveLength(40);
    a.src.stop();

    // Restart (new process state) with the same state file, plus a new service that explicitly
    // claims an IP another service was allocated: first come, first served, as the API server does.
    const victim = 'ns1/s1';
    const victimIp = ips.get(victim)!;
    fs.writeFileSync(path.join(dir, 'claim.yaml'), `kind: Service\nmetadata: {name: claimer}\nspec: {clusterIP: ${victimIp}, ports: [{port: 80}]}\n`);
    const b = await start(dir, { stateFile: path.join(root, 'state', 'alloc.json') });
    const after = new Map<string, string>();
    for (const k of b.store.keys()) after.set(k, b.store.modelOf(k)!.clusterIps[0]!);
    expect(after.size).toBe(41);
    expect(after.has('default/claimer')).toBe(false);
    for (const [k, ip] of ips) expect(after.get(k)).toBe(ip); // stable, the victim included
    expect(b.store.errors()).toEqual([expect.objectContaining({ object: 'default/claimer', field: 'spec.clusterIP', message: expect.stringContaining(`already allocated to Service ${victim}`) })]);
  });

  it('default state file lives next to (not inside) the manifests dir; duplicate explicit IPs are reported', async () => {
    const { root, dir } = tmp();
    fs.writeFileSync(path.join(dir, 'a.yaml'), 'kind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n---\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: 10.96.0.9, ports: [{port: 80}]}\n---\nkind: Service\nmetadata: {name: y}\nspec: {clusterIP: 10.96.0.9, ports: [{port: 80}]}\n');
    const { store } = await start(dir);
    expect(fs.existsSync(path.join(root, 'manifests.sluice-state.json'))).toBe(true);
    expect([...store.keys()].sort()).toEqual(['default/a', 'default/x']);
    expect(store.errors()).toEqual([expect.objectContaining({ kind: 'Service', object: 'default/y', field: 'spec.clusterIP' })]);
  });

  it('derives endpoints from pods matching the selector, resolving named ports; scale up/down by editing files', async () => {
    const { dir } = tmp();
    fs.writeFileSync(path.join(dir, 'svc.yaml'), `
kind: Service
metadata: {name: web}
spec:
  clusterIP: 10.96.0.80
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}, {name: admin, port: 9000, targetPort: admin}]
---
kind: Service
metadata: {name: other}
spec: {clusterIP: 10.96.0.81, selector: {app: other}, ports: [{port: 80, targetPort: 8080}]}
`);
    fs.writeFileSync(path.join(dir, 'deploy.yaml'), deployment(2));
    fs.writeFileSync(path.join(dir, 'pods.yaml'), `
kind: Pod
metadata: {name: legacy, labels: {app: web}}
spec: {nodeName: node-c, containers: [{name: c, ports: [{name: http, containerPort: 8081}]}]}
status: {podIP: 10.244.3.5}
---
kind: Pod
metadata: {name: notready, labels: {app: web}}
spec: {nodeName: node-c, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.244.3.6, conditions: [{type: Ready, status: "False"}]}
---
kind: Pod
metadata: {name: leaving, labels: {app: web}, deletionTimestamp: "2025-01-01T00:00:00Z"}
spec: {nodeName: node-c, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.244.3.7}
---
kind: Pod
metadata: {name: unscheduled, labels: {app: web}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
kind: Pod
metadata: {name: stranger, labels: {app: other}, namespace: elsewhere}
spec: {nodeName: node-c}
status: {podIP: 10.244.3.8}
`);
    const { store } = await start(dir);
    expect(eps(store, 'default/web')).toEqual([
      '10.244.1.10:8080@node-a', '10.244.2.10:8080@node-b', '10.244.3.5:8081@node-c', '10.244.3.6:8080(unready)@node-c', '10.244.3.7:8080(terminating)@node-c',
    ]);
    // the legacy pod has no "admin" port: no endpoint for that service port
    expect(eps(store, 'default/web', 1)).toEqual(['10.244.1.10:9000@node-a', '10.244.2.10:9000@node-b']);
    expect(eps(store, 'default/other')).toEqual([]); // the only app=other pod is in another namespace

    const changes: string[][] = [];
    store.on('change', (k) => changes.push([...k]));
    fs.writeFileSync(path.join(dir, 'deploy.yaml'), deployment(4));
    await waitFor('scale up', () => eps(store, 'default/web').length === 7);
    expect(eps(store, 'default/web').filter((e) => e.includes('node-a') || e.includes('node-b'))).toEqual([
      '10.244.1.10:8080@node-a', '10.244.1.11:8080@node-a', '10.244.2.10:8080@node-b', '10.244.2.11:8080@node-b',
    ]);
    fs.writeFileSync(path.join(dir, 'deploy.yaml'), deployment(1));
    await waitFor('scale down', () => eps(store, 'default/web').length === 4);
    expect(eps(store, 'default/web')[0]).toBe('10.244.1.10:8080@node-a');
    expect(changes.flat().every((k) => k === 'default/web')).toBe(true); // other services untouched

    // A broken edit keeps the previous content of that file and reports the parse error.
    fs.writeFileSync(path.join(dir, 'deploy.yaml'), 'kind: Deployment\nmetadata: {name: web\n  bad: [');
    await waitFor('parse error reported', () => store.errors().some((e) => e.kind === 'File'));
    expect(eps(store, 'default/web').length).toBe(4);
    fs.rmSync(path.join(dir, 'deploy.yaml'));
    await waitFor('deployment removed', () => eps(store, 'default/web').length === 3 && store.errors().length === 0);
  }, 60_000);

  it('Node zones and trafficDistribution: derived slices carry zone hints (PreferClose) and node hints (PreferSameNode); each node is sent its own set; a zone edit re-projects', async () => {
    const { dir } = tmp();
    const nodes = (zoneB: string): string => ['node-a:zone-1', `node-b:${zoneB}`].map((nz) => {
      const [n, z] = nz.split(':');
      return `kind: Node\nmetadata: {name: ${n}, labels: {topology.kubernetes.io/zone: ${z}}}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.${n === 'node-a' ? 1 : 2}}]}\n`;
    }).join('---\n');
    fs.writeFileSync(path.join(dir, 'nodes.yaml'), nodes('zone-2'));
    fs.writeFileSync(path.join(dir, 'svc.yaml'), `
kind: Service
metadata: {name: web}
spec: {clusterIP: 10.96.0.90, selector: {app: web, tier: front}, trafficDistribution: PreferClose, ports: [{name: http, port: 80, targetPort: http}]}
---
kind: Service
metadata: {name: near}
spec: {clusterIP: 10.96.0.91, selector: {app: web, tier: front}, trafficDistribution: PreferSameNode, ports: [{name: http, port: 80, targetPort: http}]}
---
kind: Service
metadata: {name: plain}
spec: {clusterIP: 10.96.0.92, selector: {app: web, tier: front}, ports: [{name: http, port: 80, targetPort: http}]}
---
kind: Service
metadata: {name: theirs, labels: {service.kubernetes.io/service-proxy-name: other}}
spec: {clusterIP: 10.96.0.93, selector: {app: web, tier: front}, ports: [{name: http, port: 80, targetPort: http}]}
`);
    fs.writeFileSync(path.join(dir, 'deploy.yaml'), deployment(2));
    const { store } = await start(dir);
    const sent = (key: string, node: string): string[] => store.viewFor(store.get(key)!, node).ports[0]!.endpoints.map((e) => `${e.ip}${e.cluster ? '' : '(not cluster)'}`);
    expect(store.get('default/theirs')).toBeUndefined();
    expect(store.modelOf('default/web')!.ports[0]!.endpoints.map((e) => [e.ip, e.zoneHints, e.nodeHints])).toEqual([
      ['10.244.1.10', ['zone-1'], []], ['10.244.2.10', ['zone-2'], []],
    ]);
    expect(store.modelOf('default/near')!.ports[0]!.endpoints.map((e) => [e.ip, e.zoneHints, e.nodeHints])).toEqual([
      ['10.244.1.10', ['zone-1'], ['node-a']], ['10.244.2.10', ['zone-2'], ['node-b']],
    ]);
    expect(sent('default/web', 'node-a')).toEqual(['10.244.1.10']);
    expect(sent('default/web', 'node-b')).toEqual(['10.244.2.10']);
    expect(sent('default/web', 'node-c')).toEqual(['10.244.1.10', '10.244.2.10']); // zone unknown: hints ignored
    expect(sent('default/near', 'node-b')).toEqual(['10.244.2.10']);
    expect(sent('default/plain', 'node-a')).toEqual(['10.244.1.10', '10.244.2.10']);
    // node-b moves to zone-1: hints now (re)written for zone-1, and node-a gets both
    const changed: string[] = [];
    store.on('change', (k) => changed.push(...k));
    fs.writeFileSync(path.join(dir, 'nodes.yaml'), nodes('zone-1'));
    await waitFor('zone edit', () => sent('default/web', 'node-a').length === 2);
    expect(changed).toContain('default/web');
    expect(changed).not.toContain('default/plain');
  }, 60_000);

  it("Node manifests say whether a node is being deleted (deletionTimestamp, the autoscaler's taint), as the Kubernetes source's Nodes do", async () => {
    const { dir } = tmp();
    const node = (name: string, extra: string) => `kind: Node\nmetadata: {name: ${name}${extra.startsWith('deletion') ? `, ${extra}` : ''}}\n${extra.startsWith('spec') ? `${extra}\n` : ''}`;
    const write = (b: string) => fs.writeFileSync(path.join(dir, 'nodes.yaml'), [
      node('node-a', 'spec: {taints: [{key: node.kubernetes.io/unschedulable, effect: NoSchedule}]}'),
      node('node-b', b),
      node('node-c', 'deletionTimestamp: "2026-11-29T12:00:00Z"'),
    ].join('---\n'));
    write('spec: {taints: [{key: ToBeDeletedByClusterAutoscaler, effect: NoSchedule}]}');
    const { store } = await start(dir);
    const states = () => ['node-a', 'node-b', 'node-c', 'node-d'].map((n) => store.nodeDeletionOf(n));
    expect(states()).toEqual(['', 'taint ToBeDeletedByClusterAutoscaler', 'deletionTimestamp 2026-11-29T12:00:00Z', undefined]);
    const changed: string[] = [];
    store.on('node', (n) => changed.push(n));
    write('spec: {taints: []}');
    await waitFor('taint removed', () => store.nodeDeletionOf('node-b') === '');
    expect(changed).toEqual(['node-b']);
    // A Node whose taints are not a list is refused by its shape, like any object.
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'kind: Node\nmetadata: {name: node-e}\nspec: {taints: ToBeDeletedByClusterAutoscaler}\n');
    await waitFor('bad node reported', () => store.errors().some((e) => e.kind === 'Node' && e.object.endsWith('node-e') && e.field === 'spec.taints'));
    expect(store.nodeDeletionOf('node-e')).toBeUndefined();
  }, 60_000);

  it('allocates pod IPs for Deployments without the pod-ips annotation, stable across restarts', async () => {
    const { dir } = tmp();
    fs.writeFileSync(path.join(dir, 'd.yaml'), `
kind: Service
metadata: {name: api}
spec: {selector: {app: api}, ports: [{port: 443, targetPort: 8443}]}
---
kind: Deployment
metadata: {name: api}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: api}}
    spec: {nodeName: node-x, containers: [{name: c}]}
`);
    const a = await start(dir);
    const first = eps(a.store, 'default/api');
    expect(first).toHaveLength(3);
    expect(new Set(first).size).toBe(3);
    for (const e of first) expect(e).toMatch(/^10\.244\.\d+\.\d+:8443@node-x$/);
    a.src.stop();
    const b = await start(dir);
    expect(eps(b.store, 'default/api')).toEqual(first);
  });
});

const svcYaml = (name: string, extra: string): string => `kind: Service\nmetadata: {name: ${name}}\nspec: {${extra}}\n`;
const ipOf = (store: StateStore, key: string): string | undefined => store.modelOf(key)?.clusterIps[0];

describe('manifests source allocates as the API server does (finding 1)', () => {
  it('first come, first served: aaa-steal cannot take web\'s clusterIP, live or across a restart; the error names both', async () => {
    const { root, dir } = tmp();
    const stateFile = path.join(root, 'alloc.json');
    fs.writeFileSync(path.join(dir, 'web.yaml'), svcYaml('web', 'type: NodePort, clusterIP: 10.96.0.80, externalIPs: [192.0.2.10], ports: [{port: 80, nodePort: 30080}]'));
    const a = await start(dir, { stateFile });
    expect(ipOf(a.store, 'default/web')).toBe('10.96.0.80');
    // "aaa-steal" sorts first: the old scan let it win and blamed web
    fs.writeFileSync(path.join(dir, 'steal.yaml'), svcYaml('aaa-steal', 'clusterIP: 10.96.0.80, ports: [{port: 80}]'));
    await a.src.scan();
    a.store.flush();
    expect([...a.store.keys()]).toEqual(['default/web']);
    expect(a.store.modelOf('default/web')!.ports[0]!.nodePort).toBe(30080);
    expect(a.store.errors()).toEqual([{
      kind: 'Service', object: 'default/aaa-steal', field: 'spec.clusterIP',
      message: 'cluster IP 10.96.0.80 is already allocated to Service default/web (first come, first served); service refused',
    }]);
    a.src.stop();
    // the holder survives a restart of the control plane (state file), whatever the names' order
    const b = await start(dir, { stateFile });
    expect([...b.store.keys()]).toEqual(['default/web']);
    expect(b.store.errors()).toEqual([expect.objectContaining({ object: 'default/aaa-steal', field: 'spec.clusterIP' })]);
    // the holder goes: the newcomer gets the address
    fs.rmSync(path.join(dir, 'web.yaml'));
    await b.src.scan();
    b.store.flush();
    expect(ipOf(b.store, 'default/aaa-steal')).toBe('10.96.0.80');
    expect(b.store.errors()).toEqual([]);
  });

  it('refuses explicit clusterIPs outside the range or on pod and node addresses, nodePorts outside the range or taken (per protocol)', async () => {
    const { dir } = tmp();
    fs.writeFileSync(path.join(dir, 'infra.yaml'), `
kind: Node
metadata: {name: node-a}
status: {addresses: [{type: InternalIP, address: 10.96.5.5}]}
---
kind: Pod
metadata: {name: odd, labels: {app: odd}}
spec: {nodeName: node-a}
status: {podIP: 10.96.7.7, hostIP: 10.96.5.6}
`);
    const services: Record<string, string> = {
      'out-of-range': 'clusterIP: 10.0.0.10, ports: [{port: 80}]',
      'network-addr': 'clusterIP: 10.96.0.0, ports: [{port: 80}]',
      'pod-ip': 'clusterIP: 10.96.7.7, ports: [{port: 80}]',
      'node-ip': 'clusterIP: 10.96.5.5, ports: [{port: 80}]',
      'host-ip': 'clusterIP: 10.96.5.6, ports: [{port: 80}]',
      'np-low': 'type: NodePort, ports: [{port: 80, nodePort: 8080}]',
      'np-a': 'type: NodePort, ports: [{port: 80, nodePort: 31000}]',
      'np-b-tcp': 'type: NodePort, ports: [{port: 80, nodePort: 31000}]',
      'np-c-udp': 'type: NodePort, ports: [{port: 53, protocol: UDP, nodePort: 31000}]',
    };
    fs.writeFileSync(path.join(dir, 'svc.yaml'), Object.entries(services).map(([n, spec]) => svcYaml(n, spec)).join('---\n'));
    const { store } = await start(dir, { nodePortRange: '30000-32767' });
    expect([...store.keys()].sort()).toEqual(['default/np-a', 'default/np-c-udp']);
    const errs = Object.fromEntries(store.errors().map((e) => [e.object.replace('default/', ''), `${e.field}: ${e.message}`]));
    expect(errs).toEqual({
      'out-of-range': 'spec.clusterIP: cluster IP 10.0.0.10 is not in the service range 10.96.0.0/12; service refused',
      'network-addr': 'spec.clusterIP: cluster IP 10.96.0.0 is not in the service range 10.96.0.0/12; service refused',
      'pod-ip': 'spec.clusterIP: cluster IP 10.96.7.7 is the address of Pod default/odd; service refused',
      'node-ip': 'spec.clusterIP: cluster IP 10.96.5.5 is the address of Node node-a; service refused',
      'host-ip': 'spec.clusterIP: cluster IP 10.96.5.6 is the address of Node node-a; service refused',
      'np-low': 'spec.ports[0].nodePort: nodePort 8080 is not in the NodePort range 30000-32767; service refused',
      'np-b-tcp': 'spec.ports[0].nodePort: nodePort 31000/TCP is already allocated to Service default/np-a (first come, first served); service refused',
    });
    // allocated addresses avoid pod and node addresses too, and stay in the range
    for (const k of store.keys()) expect(['10.96.5.5', '10.96.5.6', '10.96.7.7']).not.toContain(ipOf(store, k));
  });
});

describe('manifests source: files (findings 2 and 3)', () => {
  const web = svcYaml('web', 'clusterIP: 10.96.0.80, ports: [{port: 80}]');

  it('refuses a file above the size limit naming the file and both sizes; other files are served', async () => {
    const { dir } = tmp();
    fs.writeFileSync(path.join(dir, 'web.yaml'), web);
    fs.writeFileSync(path.join(dir, 'big.yaml'), `kind: ConfigMap\nmetadata: {name: big}\ndata:\n  x: "${'a'.repeat(2 * 1024 * 1024)}"\n`);
    const seen: string[] = [];
    const { store, src } = await start(dir, { onSourceError: (r) => seen.push(r) });
    expect([...store.keys()]).toEqual(['default/web']);
    const big = path.join(dir, 'big.yaml');
    expect(src.fileErrors).toEqual([{ file: big, reason: 'too-large', message: `${fs.statSync(big).size} bytes, above the limit of 1048576 bytes (maxFileBytes)` }]);
    expect(store.errors()).toEqual([expect.objectContaining({ kind: 'File', object: big, field: 'too-large' })]);
    expect(src.parses).toBe(1); // never read, let alone parsed
    await src.scan(); await src.scan();
    expect(seen).toEqual(['too-large']); // counted once, not every rescan
  });

  it('a steady stream of writes (one per 20 ms) is picked up while it lasts, not after it stops (bench/soak.ts)', async () => {
    const { dir } = tmp();
    fs.writeFileSync(path.join(dir, 's.yaml'), svcYaml('s', 'ports: [{port: 80}]'));
    // No rescan to fall back on: only the watch and its debounce (300 ms, far above the writes' gaps
    // even on a loaded machine) can see the writes.
    const { store } = await start(dir, { rescanIntervalMs: 600_000, debounceMs: 300 });
    const seen = new Set<number>();
    store.on('change', () => { const p = store.modelOf('default/s')?.ports[0]?.port; if (p) seen.add(p); });
    // 4 s of writes 20 ms apart, each a new port: a trailing debounce alone never fires during them.
    const end = Date.now() + 4000;
    for (let port = 1000; Date.now() < end; port++) {
      fs.writeFileSync(path.join(dir, '.s.tmp'), svcYaml('s', `ports: [{port: ${port}}]`));
      fs.renameSync(path.join(dir, '.s.tmp'), path.join(dir, 's.yaml'));
      await new Promise((r) => setTimeout(r, 20));
    }
    const during = seen.size;
    // A scan at most 5 debounce periods (1.5 s) after a burst starts: two or three in 4 s.
    expect(during).toBeGreaterThanOrEqual(1);
    await waitFor('the last write', () => store.modelOf('default/s')!.ports[0]!.port > 1000 && seen.size > during);
  });

  it('re-parses only the file that changed', async () => {
    const { dir } = tmp();
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(dir, `s${i}.yaml`), svcYaml(`s${i}`, 'ports: [{port: 80}]'));
    const { store, src } = await start(dir);
    expect(store.size).toBe(30);
    expect(src.parses).toBe(30);
    await src.scan();
    expect(src.parses).toBe(30);
    fs.writeFileSync(path.join(dir, 's7.yaml'), svcYaml('s7', 'ports: [{port: 8080}]'));
    await src.scan();
    store.flush();
    expect(src.parses).toBe(31);
    expect(store.modelOf('default/s7')!.ports[0]!.port).toBe(8080);
  });

  it('keeps the event loop responsive while a 5 MB file and a 100k-key document are handled; other Services keep updating meanwhile', async () => {
    const { dir } = tmp();
    fs.writeFileSync(path.join(dir, 'web.yaml'), web);
    const { store, src } = await start(dir, { maxFileBytes: 4 * 1024 * 1024, debounceMs: 20, parseWaitMs: 200 });
    const keys = Array.from({ length: 100_000 }, (_, i) => `  key${i}: value-${i}\n`).join('');
    fs.writeFileSync(path.join(dir, 'huge.yaml'), `kind: ConfigMap\nmetadata: {name: huge}\ndata:\n  x: "${'a'.repeat(5 * 1024 * 1024)}"\n`);
    fs.writeFileSync(path.join(dir, 'configmap.yaml'), `kind: ConfigMap\nmetadata: {name: wide}\ndata:\n${keys}`);
    let worst = 0;
    let last = performance.now();
    const tick = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last - 10); last = now; }, 10);
    let parsingWhenUpdated: string[] = [];
    let parseStart = 0;
    let parseEnd = 0;
    try {
      await waitFor('the 100k-key document in the parser', () => src.parsing.length > 0, 10_000);
      parseStart = performance.now();
      fs.writeFileSync(path.join(dir, 'web.yaml'), web.replace('port: 80', 'port: 81'));
      await waitFor('web updated', () => store.modelOf('default/web')?.ports[0]?.port === 81, 30_000);
      parsingWhenUpdated = src.parsing.map((f) => path.basename(f));
      await waitFor('the 100k-key document parsed', () => !src.busy, 60_000);
      parseEnd = performance.now();
    } finally {
      clearInterval(tick);
    }
    expect(parsingWhenUpdated).toEqual(['configmap.yaml']); // web's edit did not wait for it
    expect(src.fileErrors.map((e) => `${path.basename(e.file)} ${e.reason}`)).toEqual(['huge.yaml too-large']);
    // Parsed on the event loop, the document would block it for the whole parse (seconds; minutes
    // with the yaml package's quadratic duplicate-key check). Bound: under 1 s and under a quarter
    // of the parse (relative, as the machine's load varies).
    expect(worst).toBeLessThan(1000);
    expect(worst).toBeLessThan((parseEnd - parseStart) / 4);
  }, 90_000);

  it('a file that takes too long to parse is refused and its worker replaced; the other files are parsed', async () => {
    const { dir } = tmp();
    fs.writeFileSync(path.join(dir, 'web.yaml'), web);
    const keys = Array.from({ length: 100_000 }, (_, i) => `  key${i}: value-${i}\n`).join('');
    fs.writeFileSync(path.join(dir, 'slow.yaml'), `kind: ConfigMap\nmetadata: {name: slow}\ndata:\n${keys}`);
    const counted: string[] = [];
    const { store, src } = await start(dir, { maxFileBytes: 4 * 1024 * 1024, parseTimeoutMs: 300, onSourceError: (r) => counted.push(r) });
    expect(src.fileErrors).toEqual([{ file: path.join(dir, 'slow.yaml'), reason: 'timeout', message: 'parsing took longer than 300 ms' }]);
    expect([...store.keys()]).toEqual(['default/web']);
    fs.writeFileSync(path.join(dir, 'web.yaml'), web.replace('port: 80', 'port: 81'));
    await src.scan();
    store.flush();
    expect(store.modelOf('default/web')!.ports[0]!.port).toBe(81);
    expect(counted).toEqual(['timeout']); // not parsed again while unchanged
  });

  it('a state file that cannot be written and a directory that cannot be read are reported once; the content is kept', async () => {
    const { root, dir } = tmp();
    fs.writeFileSync(path.join(dir, 'web.yaml'), svcYaml('web', 'ports: [{port: 80}]'));
    const counted: string[] = [];
    const stateDir = path.join(root, 'state');
    const { store, src } = await start(dir, { stateFile: path.join(stateDir, 'state.json'), onSourceError: (r) => counted.push(r) });
    const ip = ipOf(store, 'default/web');
    expect(ip).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
    // the state file's directory becomes a file; a new Service needs a save
    fs.rmSync(stateDir, { recursive: true });
    fs.writeFileSync(stateDir, '');
    fs.writeFileSync(path.join(dir, 'api.yaml'), svcYaml('api', 'ports: [{port: 80}]'));
    await src.scan(); await src.scan();
    store.flush();
    expect(ipOf(store, 'default/api')).toBeDefined();
    expect(counted).toEqual(['state-file']);
    fs.rmSync(dir, { recursive: true });
    await src.scan(); await src.scan();
    store.flush();
    expect(ipOf(store, 'default/web')).toBe(ip);
    expect(counted).toEqual(['state-file', 'directory-unreadable']);
  });

  it('an unreadable or invalid file keeps its objects, reported once per distinct problem; they go only with the file', async () => {
    const { root, dir } = tmp();
    const file = path.join(dir, 'web.yaml');
    fs.writeFileSync(file, web);
    const logged: { file?: string; reason?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => { const o = JSON.parse(line); if (o.msg === 'manifests: cannot use file') logged.push(o); } });
    const counted: string[] = [];
    const { store, src } = await start(dir, { logger, onSourceError: (r) => counted.push(r) });
    const still = async (what: string): Promise<void> => {
      await src.scan(); await src.scan(); // rescans do not repeat the report
      store.flush();
      expect(ipOf(store, 'default/web'), what).toBe('10.96.0.80');
    };
    // a symlink loop in its place (the finding): unreadable
    fs.rmSync(file);
    fs.symlinkSync(path.join(dir, 'loop.yaml'), file);
    fs.symlinkSync(file, path.join(dir, 'loop.yaml'));
    await still('symlink loop');
    expect(src.fileErrors.find((e) => e.file === file)).toEqual(expect.objectContaining({ reason: 'unreadable', message: expect.stringContaining('ELOOP') }));
    fs.rmSync(path.join(dir, 'loop.yaml'));
    // invalid YAML
    fs.rmSync(file);
    fs.writeFileSync(file, 'kind: Service\nmetadata: {name: web\n  bad: [');
    await still('invalid yaml');
    // a duplicated key (kubectl refuses it too)
    fs.writeFileSync(file, 'kind: Service\nmetadata: {name: web}\nmetadata: {name: other}\n');
    await still('duplicate key');
    // unreadable by permission is not testable as root; a directory in its place is
    fs.rmSync(file);
    fs.mkdirSync(file);
    await still('directory');
    expect(counted).toEqual(['unreadable', 'unreadable', 'yaml', 'yaml', 'not-a-file']);
    expect(logged.map((l) => `${path.basename(l.file!)} ${l.reason}`)).toEqual(['loop.yaml unreadable', 'web.yaml unreadable', 'web.yaml yaml', 'web.yaml yaml', 'web.yaml not-a-file']);
    // fixed: valid again, error cleared
    fs.rmdirSync(file);
    fs.writeFileSync(file, web.replace('port: 80', 'port: 81'));
    await src.scan();
    store.flush();
    expect(store.modelOf('default/web')!.ports[0]!.port).toBe(81);
    expect(store.errors()).toEqual([]);
    // really gone: the Service goes
    fs.rmSync(file);
    await src.scan();
    store.flush();
    expect(store.size).toBe(0);
    // a dangling link and a directory named *.yaml are reported (once), not skipped silently
    fs.symlinkSync(path.join(root, 'nowhere.yaml'), path.join(dir, 'dangling.yaml'));
    fs.mkdirSync(path.join(dir, 'dir.yaml'));
    await src.scan(); await src.scan();
    expect(src.fileErrors.map((e) => `${path.basename(e.file)} ${e.reason}`)).toEqual(['dangling.yaml dangling-link', 'dir.yaml not-a-file']);
    expect(counted.slice(5)).toEqual(['dangling-link', 'not-a-file']);
  });
});
