// The image's entrypoints run with exactly the commands, arguments and environment of the rendered
// manifests (kubectl kustomize deploy/kind, after deploy/configure.sh), in the simulated cluster:
//
//   - the image's layout is built by the Dockerfile's own script (deploy/image/assemble.sh: tsc
//     output, BPF object, proto) and started through the image's wrapper scripts
//     (deploy/image/bin/*), so a flag, a path or an import that only breaks in the image breaks here;
//   - node "a" plays the control-plane node: the control plane runs in its network namespace (as
//     with hostNetwork), next to a fake API server, and the agent dials it at the address from the
//     rendered ConfigMap over mTLS with the certificates from the rendered Secrets;
//   - the manifests' probes are asked, the pod-side traffic goes through the kubernetes Service,
//     the CLI reads the pinned maps, and the API requests the control plane made are checked
//     against the rendered ClusterRole.
//
// What differs from a cluster, and only that: files that the kubelet mounts (the TLS Secrets) are
// written to a temporary directory, `--kubeconfig` points the control plane at the fake API
// server (in-cluster credentials exist only in a pod), and `--pod-interfaces` takes the simulated
// CNI's interface names (lxc*) instead of kindnet's (veth*).
//
// With SLUICE_IMAGE set (`make image`), the same entrypoints run from that built image instead
// (test/fixtures/image-run.ts): the container shares the node's network namespace, gets the
// manifest's securityContext and mounts (the host's bpffs, a run directory shared by the agent
// and the CLI as the agent pod's emptyDir is, the written-out Secrets).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { NODE_BIN, REPO, SimCluster, type PodClient } from '../../sim/cluster.ts';
import { waitFor } from '../../sim/netns.ts';
import { IMAGE, imageCommand, LABEL, type SecurityContext } from '../fixtures/image-run.ts';
import { writeKubeconfig } from '../fixtures/fake-apiserver.ts';

type Obj = Record<string, any>;
const SIM_CNI_INTERFACES = 'lxc*';

let c: SimCluster;
let tmp = '';
let image = '';
let docs: Obj[] = [];
let client: PodClient;
const procs = new Map<string, { proc: ChildProcess; out: string[]; exit: { code: number | null; signal: string | null } | null }>();
const apiRequests: string[] = [];
let agentLaunch: { cmd: string; args: string[]; env: Record<string, string>; container: Obj };

function which(cmd: string): string {
  for (const d of (process.env.PATH ?? '').split(':')) {
    const p = path.join(d, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  throw new Error(`${cmd} not found on PATH`);
}

function find(kind: string, name: string): Obj {
  const d = docs.find((x) => x.kind === kind && String(x.metadata?.name).startsWith(name));
  if (!d) throw new Error(`no ${kind} ${name}`);
  return d;
}

const PATH_WITH_NODE = `${path.dirname(NODE_BIN)}:${process.env.PATH}`;

/**
 * What the kubelet would run for container `c` of pod spec `spec` on node `nodeName`: the
 * wrapper script for its command, its args with $(VAR) expanded from its env, that env (from the
 * rendered ConfigMap and the downward API), and the mounted Secrets written out.
 */
function kubeletView(spec: Obj, container: Obj, nodeName: string, mountDir: string, hostPaths: Record<string, string> = {}): { cmd: string; args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = nodeName;
    else if (e.valueFrom?.configMapKeyRef) {
      const cm = find('ConfigMap', e.valueFrom.configMapKeyRef.name);
      const v = cm.data?.[e.valueFrom.configMapKeyRef.key];
      if (v === undefined) throw new Error(`${container.name}: ConfigMap ${cm.metadata.name} has no key ${e.valueFrom.configMapKeyRef.key}`);
      env[e.name] = v;
    } else throw new Error(`${container.name}: env ${e.name}: unsupported source ${JSON.stringify(e.valueFrom)}`);
  }
  const expand = (s: string) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => env[n] ?? m);
  // Secret volumes, as the kubelet projects them.
  const remap: Array<[string, string]> = [];
  for (const m of container.volumeMounts ?? []) {
    const vol = spec.volumes.find((v: Obj) => v.name === m.name);
    // A hostPath the simulated node has its own stand-in for (its cgroup for the host's cgroup root).
    const host = vol?.hostPath?.path as string | undefined;
    if (host !== undefined && hostPaths[host]) { remap.push([m.mountPath, hostPaths[host]]); continue; }
    if (!vol?.secret) continue;
    const secret = find('Secret', vol.secret.secretName);
    const dir = path.join(mountDir, container.name, m.name);
    fs.mkdirSync(dir, { recursive: true });
    for (const [k, v] of Object.entries(secret.data as Record<string, string>)) fs.writeFileSync(path.join(dir, k), Buffer.from(v.replace(/\n/g, ''), 'base64'));
    remap.push([m.mountPath, dir]);
  }
  const args = (container.args ?? []).map((a: string) => {
    let v = expand(a);
    for (const [from, to] of remap) v = v.replaceAll(`${from}/`, `${to}/`).replace(new RegExp(`=${from}$`), `=${to}`);
    return v;
  });
  const [cmd, ...cmdArgs] = container.command as string[];
  const wrapper = path.join(REPO, 'deploy/image/bin', cmd!);
  if (!fs.existsSync(wrapper)) throw new Error(`${container.name}: command ${cmd} is not one of the image's entrypoints`);
  return { cmd: wrapper, args: [...cmdArgs.map(expand), ...args], env };
}

/**
 * `binary` (an image entrypoint: a wrapper path or its name) from the assembled layout, or from
 * the image, as container `sc` runs it: the agent's and the CLI's share the bpffs and run directory.
 */
function launch(binary: string, args: string[], env: Record<string, string>, sc?: SecurityContext, network: 'host' | 'none' = 'host'): [string, string[], NodeJS.ProcessEnv] {
  const name = path.basename(binary);
  if (!IMAGE) return [path.join(REPO, 'deploy/image/bin', name), args, { ...env, PATH: PATH_WITH_NODE, SLUICE_HOME: image }];
  const mounts: Array<[string, string]> = [[tmp, tmp]];
  if (name !== 'sluice-controlplane') mounts.push(['/sys/fs/bpf', '/sys/fs/bpf:rslave'], [path.join(tmp, 'run'), '/run/sluice']);
  if (name === 'sluice-agent') mounts.push([c.node('a').cgroup, c.node('a').cgroup]);
  const [cmd, cmdArgs] = imageCommand(IMAGE, { binary: name, args, env, securityContext: sc, mounts, network });
  return [cmd, cmdArgs, {}];
}

function start(name: string, ns: string, binary: string, args: string[], env: Record<string, string>, sc?: SecurityContext): ChildProcess {
  const [cmd, cmdArgs, cmdEnv] = launch(binary, args, env, sc);
  const proc = c.spawn(ns, cmd, cmdArgs, cmdEnv);
  const rec = { proc, out: [] as string[], exit: null as { code: number | null; signal: string | null } | null };
  for (const s of [proc.stdout!, proc.stderr!]) readline.createInterface({ input: s }).on('line', (l) => { rec.out.push(l); if (process.env.TEST_LOG_LEVEL) console.log(`[${name}] ${l}`); });
  proc.on('exit', (code, signal) => { rec.exit = { code, signal }; });
  procs.set(name, rec);
  return proc;
}

function exited(name: string): string | undefined {
  const r = procs.get(name)!;
  if (!r.exit) return undefined;
  const out = r.out.length > 12 ? [...r.out.slice(0, 6), '...', ...r.out.slice(-4)] : r.out;
  return `${name} exited (${JSON.stringify(r.exit)}) with the manifest's flags:\n${out.join('\n')}`;
}

function alive(name: string): void {
  const e = exited(name);
  if (e) throw new Error(e);
}

/** HTTP GET from inside a namespace (the kubelet probes a hostNetwork pod at its node's address). */
function httpGet(ns: string, url: string): number {
  const r = spawnSync('nsenter', [`--net=/run/netns/${ns}`, '--', NODE_BIN, '-e',
    `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(2000) }).then((r) => console.log(r.status), () => console.log(0))`], { encoding: 'utf8' });
  return Number(r.stdout.trim() || 0);
}

async function probeOk(what: string, ns: string, host: string, container: Obj): Promise<void> {
  for (const probe of [container.readinessProbe, container.livenessProbe]) {
    const { path: p, port } = probe.httpGet;
    const until = Date.now() + 45000;
    for (;;) {
      alive(what); // a rejected flag fails at once, with the binary's own message
      if (httpGet(ns, `http://${host}:${port}${p}`) === 200) break;
      if (Date.now() > until) throw new Error(`${what}: ${p} on ${host}:${port} not 200 after 45 s:\n${procs.get(what)!.out.slice(-10).join('\n')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-entry-'));
  c = await SimCluster.create({ nodes: ['a'] });
  const node = c.node('a');
  const apiserver = await c.addPod('a', 'apiserver');
  await c.addPod('a', 'client');
  await c.serve('apiserver', { tcp: [6443] });

  // The manifests, prepared as docs/kind.md says, for a control-plane node at node a's address.
  fs.cpSync(path.join(REPO, 'deploy'), path.join(tmp, 'deploy'), { recursive: true, filter: (s) => !/\/(certs|cluster\.env)$/.test(s) });
  execFileSync('bash', [path.join(tmp, 'deploy/configure.sh'), path.join(tmp, 'deploy/kind'), '--ip', node.ip], { stdio: 'pipe' });
  const out = execFileSync(which('kubectl'), ['kustomize', path.join(tmp, 'deploy/kind')], { encoding: 'utf8' });
  docs = parseAllDocuments(out).map((d) => d.toJS() as Obj).filter(Boolean);

  // The image's /opt/sluice, by the Dockerfile's own script.
  image = path.join(tmp, 'image');
  execFileSync('bash', [path.join(REPO, 'deploy/image/assemble.sh'), REPO, image], { stdio: 'pipe', env: { ...process.env, PATH: PATH_WITH_NODE } });
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(image, 'node_modules'));
  fs.mkdirSync(path.join(tmp, 'run'));
  // The control plane's container runs as the image's unprivileged user and reads its Secrets here.
  if (IMAGE) fs.chmodSync(tmp, 0o755);

  // A fake API server on the control-plane node, holding the kubernetes Service and its endpoints.
  const api = c.spawn(node.ns, NODE_BIN, ['--input-type=module', '-e', `
    import { FakeApiServer } from ${JSON.stringify(`${REPO}test/fixtures/fake-apiserver.ts`)};
    const api = new FakeApiServer();
    api.upsert('/api/v1/services', { metadata: { name: 'kubernetes', namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] } });
    api.upsert('/apis/discovery.k8s.io/v1/endpointslices', { metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } }, addressType: 'IPv4', ports: [{ name: 'https', port: 6443, protocol: 'TCP' }], endpoints: [{ addresses: [${JSON.stringify(apiserver.ip)}], conditions: { ready: true } }] });
    console.log('PORT ' + await api.start());
    let n = 0;
    setInterval(() => { while (n < api.requests.length) console.log('REQ ' + api.requests[n++]); }, 20);
  `]);
  const apiPort = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('fake API server did not start')), 20000);
    readline.createInterface({ input: api.stdout! }).on('line', (l) => {
      if (l.startsWith('PORT ')) { clearTimeout(t); resolve(Number(l.slice(5))); }
      if (l.startsWith('REQ ')) apiRequests.push(l.slice(4));
    });
  });
  const kubeconfig = writeKubeconfig(tmp, `http://127.0.0.1:${apiPort}`, 'sluice-controlplane');

  // The control plane, as the Deployment runs it.
  const cpSpec = find('Deployment', 'sluice-controlplane').spec.template.spec;
  const cp = kubeletView(cpSpec, cpSpec.containers[0], node.nodeName, path.join(tmp, 'mounts-cp'));
  start('controlplane', node.ns, cp.cmd, [...cp.args, `--kubeconfig=${kubeconfig}`], cp.env, cpSpec.containers[0].securityContext);
  await probeOk('controlplane', node.ns, node.ip, cpSpec.containers[0]);

  // The agent, as the DaemonSet runs it.
  const dsSpec = find('DaemonSet', 'sluice-agent').spec.template.spec;
  // The host's cgroup v2 root the DaemonSet mounts is, for a simulated node, that node's cgroup
  // (sluice-…, made by the sim): the socket-level programs attach there, never to the machine's root.
  const ag = kubeletView(dsSpec, dsSpec.containers[0], node.nodeName, path.join(tmp, 'mounts-agent'), { '/sys/fs/cgroup': node.cgroup });
  const agentArgs = ag.args.map((a) => a.startsWith('--pod-interfaces=') ? `--pod-interfaces=${SIM_CNI_INTERFACES}` : a);
  agentLaunch = { cmd: ag.cmd, args: agentArgs, env: ag.env, container: dsSpec.containers[0] };
  start('agent', node.ns, ag.cmd, agentArgs, ag.env, dsSpec.containers[0].securityContext);
  await probeOk('agent', node.ns, node.ip, dsSpec.containers[0]);
  client = await c.client('client');
}, 240_000);

afterAll(async () => {
  await c?.destroy();
  // Killing `podman run` leaves its container: remove the ones this test started.
  if (IMAGE) spawnSync('sh', ['-c', `podman ps -aq --filter label=${LABEL} | xargs -r podman rm -f -t 2`], { stdio: 'ignore' });
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** The CLI, as `kubectl exec` runs it in the agent's container. */
function sluice(...args: string[]): string {
  const [cmd, cmdArgs, env] = launch('sluice', args, {}, agentLaunch.container.securityContext, 'none');
  return execFileSync(cmd, cmdArgs, { encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('the image entrypoints with the manifests\' flags, in the simulated cluster', () => {
  it('every entrypoint starts, and rejects an unknown flag with exit 2 (so accepting the manifests\' flags means something)', () => {
    for (const b of ['sluice-agent', 'sluice-controlplane', 'sluice']) {
      const run = (arg: string) => {
        const [cmd, args, env] = launch(b, [arg], {}, undefined, 'none');
        return spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
      };
      const help = run('--help');
      expect(help.status, `${b} --help: ${help.stderr}`).toBe(0);
      const bad = run('--no-such-flag');
      expect(bad.status, `${b} --no-such-flag`).toBe(2);
    }
  });

  it('the control plane and the agent run with the manifests\' flags and answer the manifests\' probes', () => {
    alive('controlplane');
    alive('agent');
    const all = [...procs.values()].flatMap((p) => p.out).join('\n');
    expect(all).not.toMatch(/unknown (flag|option)|Unknown option/i);
  });

  it('the agent is connected to the control plane over mTLS (sluice status)', async () => {
    const node = c.node('a');
    const st = await waitFor('connected', () => {
      const s = JSON.parse(sluice('status', '--node-name', node.nodeName, '-o', 'json'));
      return s.agent?.controlPlane?.connected ? s : undefined;
    }, 20000, 250);
    expect(st.agent.controlPlane.target).toBe(`${node.ip}:7443`);
    expect(procs.get('controlplane')!.out.join('\n')).toMatch(/"tls":true/);
  });

  it('a pod reaches the API server through the kubernetes Service, as the control plane sent it', async () => {
    await waitFor('10.96.0.1:443 answers', async () => (await client.burst('10.96.0.1:443', { count: 1 })).ok === 1, 20000);
    const r = await client.burst('10.96.0.1:443', { count: 20 });
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(r.counts).toEqual({ apiserver: 20 });
  });

  it('sluice service list (the CLI entrypoint, as run in the agent pod) shows it', () => {
    const rows = JSON.parse(sluice('service', 'list', '--node-name', c.node('a').nodeName, '--pin-root', '/sys/fs/bpf/sluice', '-o', 'json')) as Array<{ frontend: string; name: string; backends: Array<{ address: string }> }>;
    const k = rows.find((x) => x.frontend === '10.96.0.1:443/TCP');
    expect(k?.name).toBe('default/kubernetes:https');
    expect(k?.backends.map((b) => b.address)).toEqual([`${c.pod('apiserver').ip}:6443`]);
  });

  it('an agent update (SIGTERM, then a new agent with the same flags) never leaves the node without a datapath', async () => {
    const node = c.node('a');
    const old = procs.get('agent')!;
    const gone = new Promise((r) => old.proc.once('exit', r));
    old.proc.kill('SIGTERM'); // what the kubelet sends when the DaemonSet replaces the pod
    await gone;
    // No agent at all: the programs and pinned maps keep translating.
    const during = await client.burst('10.96.0.1:443', { count: 20 });
    expect(during.failed, JSON.stringify(during.errors)).toBe(0);
    expect(during.counts).toEqual({ apiserver: 20 });
    start('agent', node.ns, agentLaunch.cmd, agentLaunch.args, agentLaunch.env, agentLaunch.container.securityContext);
    // Hitless: no connection may wait on a lost packet (a dropped SYN costs the 1 s initial
    // retransmission timeout, far above the few ms a connection takes even on a loaded machine).
    const traffic = client.burst('10.96.0.1:443', { count: 400, concurrency: 2, slowMs: 1000 });
    await probeOk('agent', node.ns, node.ip, agentLaunch.container);
    const r = await traffic;
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(r.slow, 'connections that took 1 s or more (epoch ms, duration)').toEqual([]);
    // The probes run synchronously, so the agent's output may still be unread here: wait for it.
    await waitFor('the new agent to report adopting the pinned maps', () => procs.get('agent')!.out.join('\n').includes('adopted pinned maps'), 15000);
  });

  it('the API requests the control plane made are exactly what the ClusterRole grants', () => {
    const role = find('ClusterRole', 'sluice-controlplane');
    const granted = new Set<string>(role.rules.flatMap((r: Obj) => r.apiGroups.flatMap((g: string) =>
      r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${g}/${res}:${v}`)))));
    const used = new Set<string>();
    expect(apiRequests.length).toBeGreaterThan(0);
    for (const url of apiRequests) {
      const u = new URL(url, 'http://x');
      const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)(\/[^/]+)?$/.exec(u.pathname);
      expect(m, `unexpected API path ${url}`).not.toBeNull();
      const verb = m![3] ? 'get' : (u.searchParams.get('watch') === 'true' || u.searchParams.get('watch') === '1') ? 'watch' : 'list';
      const perm = `${m![1] ?? ''}/${m![2]}:${verb}`;
      expect(granted.has(perm), `${url} needs ${perm}, which the ClusterRole does not grant`).toBe(true);
      used.add(`${m![1] ?? ''}/${m![2]}`);
    }
    // Nothing granted that the code never asks for (get stays granted with list/watch: the
    // issue's get/list/watch on each resource).
    const grantedResources = new Set([...granted].map((p) => p.split(':')[0]));
    expect([...used].sort()).toEqual([...grantedResources].sort());
    expect([...used].sort()).toEqual(['/nodes', '/services', 'discovery.k8s.io/endpointslices']);
  });

  it('the preflight init container passes on bpffs, and fails with instructions where /sys/fs/bpf is not bpffs', () => {
    const pre = find('DaemonSet', 'sluice-agent').spec.template.spec.initContainers.find((x: Obj) => x.name === 'preflight');
    expect(pre.command.slice(0, 2)).toEqual(['sh', '-c']);
    const env = { ...process.env, NODE_NAME: c.node('a').nodeName };
    // As the manifest's unprivileged user.
    const uid = String(pre.securityContext.runAsUser);
    const asUser = ['setpriv', '--reuid', uid, '--regid', uid, '--clear-groups'];
    const ok = spawnSync(asUser[0]!, [...asUser.slice(1), ...pre.command], { encoding: 'utf8', env });
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('bpffs mounted at /sys/fs/bpf');
    // In a private mount namespace with a tmpfs over /sys/fs/bpf (nothing outside is touched).
    const bad = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /sys/fs/bpf && exec "$@"', 'x', ...asUser, ...pre.command], { encoding: 'utf8', env });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(`/sys/fs/bpf on node ${c.node('a').nodeName} is 'tmpfs', not bpffs`);
    expect(bad.stdout).toContain('mount -t bpf bpf /sys/fs/bpf');
  });

  it('the maps docs/kind.md and docs/minikube.md dump with bpftool are pinned where they say', () => {
    const dumps = new Set<string>();
    for (const f of ['docs/kind.md', 'docs/minikube.md']) {
      const doc = fs.readFileSync(path.join(REPO, f), 'utf8');
      const found = [...doc.matchAll(/bpftool map dump pinned \/sys\/fs\/bpf\/sluice\/\$NODE_NAME\/(\w+)/g)].map((m) => m[1]!);
      expect(found.length, f).toBeGreaterThan(0);
      for (const m of found) dumps.add(m);
    }
    const dir = path.join('/sys/fs/bpf/sluice', c.node('a').nodeName);
    for (const m of dumps) {
      expect(fs.existsSync(path.join(dir, m)), `${dir}/${m}`).toBe(true);
      const out = execFileSync('bpftool', ['map', 'dump', 'pinned', path.join(dir, m)], { encoding: 'utf8' });
      expect(out.length).toBeGreaterThan(0);
    }
  });
});
