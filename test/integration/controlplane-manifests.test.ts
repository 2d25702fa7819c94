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
  const src = new ManifestsSource({ dir, store, logger: log, rescanIntervalMs: 500, debounceMs: 50, ...extra });
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
  (store.get(key)?.model.ports[port]?.endpoints ?? []).map((e) => `${e.ip}:${e.port}${e.ready ? '' : e.terminating ? '(terminating)' : '(unready)'}@${e.nodeName}`);

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
    for (const k of a.store.keys()) ips.set(k, a.store.get(k)!.model.clusterIps[0]!);
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
    for (const k of b.store.keys()) after.set(k, b.store.get(k)!.model.clusterIps[0]!);
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
