// deploy/: every manifest that `kubectl apply -k deploy/<overlay>` would send, rendered by the real
// kustomize (kubectl kustomize) after deploy/configure.sh, is validated against the Kubernetes API
// schemas (kubernetes-models), checked for fields the API does not know (the field lists of
// @kubernetes/client-node's generated models, as `kubectl apply --validate=strict` would), and held to
// the deployment's rules: RBAC, privileges, bpffs, reaching the API server and the control plane
// without any ClusterIP. The Dockerfile's stages and entrypoints are checked against the repo.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import * as k8s from '@kubernetes/client-node';

const REPO = path.resolve(import.meta.dirname, '../..');
const OVERLAYS = ['kind', 'minikube'] as const;
const CP_IP = '172.18.0.2';

type Obj = Record<string, any>;

function which(cmd: string): string {
  for (const d of (process.env.PATH ?? '').split(':')) {
    const p = path.join(d, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  throw new Error(`${cmd} not found on PATH: kustomize rendering uses kubectl's built-in kustomize`);
}

let tmp = '';
const rendered = new Map<string, Obj[]>();
const kubectlLog: string[] = [];

beforeAll(() => {
  const kubectl = which('kubectl');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-deploy-'));
  fs.cpSync(path.join(REPO, 'deploy'), path.join(tmp, 'deploy'), {
    recursive: true, filter: (src) => !/\/(certs|cluster\.env)$/.test(src),
  });
  // A stand-in kubectl for configure.sh's questions to the cluster: one control-plane node, no
  // kube-proxy DaemonSet. Everything else (kustomize) goes to the real kubectl.
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'kubectl'), `#!/bin/sh
echo "$*" >> ${tmp}/kubectl.log
case "$*" in
  "config current-context") echo kind-sluice ;;
  "get nodes -l node-role.kubernetes.io/control-plane"*) printf '${CP_IP}\\n' ;;
  "-n kube-system get daemonset kube-proxy"*) ;;
  *) exec ${kubectl} "$@" ;;
esac
`, { mode: 0o755 });
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  for (const o of OVERLAYS) {
    execFileSync('bash', [path.join(tmp, 'deploy/configure.sh'), path.join(tmp, 'deploy', o)], { env, stdio: 'pipe' });
    const out = execFileSync(kubectl, ['kustomize', path.join(tmp, 'deploy', o)], { encoding: 'utf8' });
    rendered.set(o, parseAllDocuments(out).map((d) => d.toJS() as Obj).filter(Boolean));
  }
  kubectlLog.push(...fs.readFileSync(path.join(tmp, 'kubectl.log'), 'utf8').split('\n').filter(Boolean));
});

afterAll(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

function docs(o: string): Obj[] {
  const d = rendered.get(o);
  if (!d) throw new Error(`overlay ${o} not rendered`);
  return d;
}
function one(o: string, kind: string, name: string): Obj {
  const d = docs(o).find((x) => x.kind === kind && x.metadata?.name === name);
  if (!d) throw new Error(`${o}: no ${kind} ${name}`);
  return d;
}
function byPrefix(o: string, kind: string, prefix: string): Obj {
  const d = docs(o).find((x) => x.kind === kind && String(x.metadata?.name).startsWith(prefix));
  if (!d) throw new Error(`${o}: no ${kind} ${prefix}*`);
  return d;
}
function containers(podSpec: Obj): Obj[] {
  return [...(podSpec.initContainers ?? []), ...podSpec.containers];
}

/** Schema validation by kubernetes-models: types, required fields, enums and formats. */
async function validateSchema(obj: Obj): Promise<void> {
  const [group, version] = String(obj.apiVersion).includes('/') ? String(obj.apiVersion).split('/') : ['', obj.apiVersion];
  const mod = await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${obj.kind}`) as Record<string, any>;
  const Model = mod[obj.kind];
  if (!Model) throw new Error(`kubernetes-models has no ${obj.apiVersion} ${obj.kind}`);
  let o = obj;
  if (obj.kind === 'Secret' && obj.data) {
    // kustomize folds long base64 values over several lines; the API server's base64 decoding
    // (Go's encoding/base64) skips the line breaks, the schema's "byte" format does not.
    o = { ...obj, data: Object.fromEntries(Object.entries(obj.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\n/g, '')])) };
  }
  new Model(o).validate();
}

/** Fields the API does not know (the OpenAPI schemas allow them; the API server's strict field validation does not). */
function unknownFields(obj: Obj): string[] {
  const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => { baseName: string; type: string }[] }>;
  const errors: string[] = [];
  const walk = (v: unknown, type: string, at: string): void => {
    if (v === null || v === undefined) return;
    const arr = /^Array<(.+)>$/.exec(type);
    if (arr) { if (Array.isArray(v)) v.forEach((x, i) => walk(x, arr[1]!, `${at}[${i}]`)); return; }
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (map) { for (const [k, x] of Object.entries(v as Obj)) walk(x, map[1]!, `${at}.${k}`); return; }
    const model = models[type];
    if (!model?.getAttributeTypeMap || typeof v !== 'object') return;
    const attrs = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
    for (const [k, x] of Object.entries(v as Obj)) {
      const t = attrs.get(k);
      if (t === undefined) errors.push(`${at}.${k}: unknown field (${type})`);
      else walk(x, t, `${at}.${k}`);
    }
  };
  const type = `V1${obj.kind}`;
  if (!models[type]?.getAttributeTypeMap) return [`no model ${type} in @kubernetes/client-node`];
  walk(obj, type, obj.kind);
  return errors;
}

describe.each(OVERLAYS)('deploy/%s rendered by kustomize', (o) => {
  it('has the resources Sluice needs, all in kube-system or cluster-scoped', () => {
    const kinds = docs(o).map((d) => `${d.kind}/${String(d.metadata.name).replace(/-[a-z0-9]{10}$/, '')}`).sort();
    expect(kinds).toEqual([
      'ClusterRole/sluice-controlplane', 'ClusterRoleBinding/sluice-controlplane', 'ConfigMap/sluice-config',
      'DaemonSet/sluice-agent', 'Deployment/sluice-controlplane', 'Secret/sluice-agent-tls', 'Secret/sluice-controlplane-tls',
      'ServiceAccount/sluice-agent', 'ServiceAccount/sluice-controlplane',
    ]);
    for (const d of docs(o)) if (!d.kind.startsWith('Cluster')) expect(d.metadata.namespace, `${d.kind} ${d.metadata.name}`).toBe('kube-system');
  });

  it('every manifest validates against the Kubernetes API schemas', async () => {
    for (const d of docs(o)) await expect(validateSchema(d), `${d.kind} ${d.metadata.name}`).resolves.toBeUndefined();
  });

  it('no manifest has a field the API does not know', () => {
    for (const d of docs(o)) expect(unknownFields(d), `${d.kind} ${d.metadata.name}`).toEqual([]);
  });

  it('the validation catches broken manifests (it is not a no-op)', async () => {
    const ds = structuredClone(one(o, 'DaemonSet', 'sluice-agent'));
    ds.spec.template.spec.hostNetwork = 'yes';
    await expect(validateSchema(ds)).rejects.toThrow(/hostNetwork must be boolean/);
    const ds2 = structuredClone(one(o, 'DaemonSet', 'sluice-agent'));
    ds2.spec.template.spec.containers[0].securityContext.capabilitys = { add: ['BPF'] };
    expect(unknownFields(ds2)).toEqual([expect.stringContaining('capabilitys: unknown field')]);
    const role = structuredClone(one(o, 'ClusterRole', 'sluice-controlplane'));
    delete role.rules[0].verbs;
    await expect(validateSchema(role)).rejects.toThrow(/verbs/);
  });

  it('RBAC: the control plane may get/list/watch services, endpointslices and nodes, nothing else; agents get nothing', () => {
    const role = one(o, 'ClusterRole', 'sluice-controlplane');
    const granted = role.rules.flatMap((r: Obj) => r.apiGroups.flatMap((g: string) => r.resources.flatMap((res: string) =>
      r.verbs.map((v: string) => `${g || 'core'}/${res}:${v}`)))).sort();
    expect(granted).toEqual([
      'core/nodes:get', 'core/nodes:list', 'core/nodes:watch',
      'core/services:get', 'core/services:list', 'core/services:watch',
      'discovery.k8s.io/endpointslices:get', 'discovery.k8s.io/endpointslices:list', 'discovery.k8s.io/endpointslices:watch',
    ]);
    for (const r of role.rules) expect(r.resourceNames ?? r.nonResourceURLs).toBeUndefined();
    const binding = one(o, 'ClusterRoleBinding', 'sluice-controlplane');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'sluice-controlplane' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'sluice-controlplane', namespace: 'kube-system' }]);
    expect(one(o, 'Deployment', 'sluice-controlplane').spec.template.spec.serviceAccountName).toBe('sluice-controlplane');
    // Only one binding in the whole install, and not to the agents.
    expect(docs(o).filter((d) => /Binding$/.test(d.kind))).toHaveLength(1);
    const agent = one(o, 'DaemonSet', 'sluice-agent').spec.template.spec;
    expect(agent.serviceAccountName).toBe('sluice-agent');
    expect(agent.automountServiceAccountToken).toBe(false);
  });

  it('the agent DaemonSet: host network, BPF/NET_ADMIN/PERFMON only, host bpffs, node name, every node, safe rolling update', () => {
    const ds = one(o, 'DaemonSet', 'sluice-agent');
    const spec = ds.spec.template.spec;
    expect(spec.hostNetwork).toBe(true);
    expect(spec.hostPID ?? false).toBe(false);
    const agent = spec.containers.find((c: Obj) => c.name === 'agent');
    expect(agent.command).toEqual(['sluice-agent']);
    const sc = agent.securityContext;
    expect(sc.privileged).toBe(false);
    expect(sc.capabilities.drop).toEqual(['ALL']);
    expect([...sc.capabilities.add].sort()).toEqual(['BPF', 'NET_ADMIN', 'PERFMON']);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    // bpffs from the host, at the path the agent pins under, with host-to-container propagation.
    const vol = spec.volumes.find((v: Obj) => v.hostPath?.path === '/sys/fs/bpf');
    expect(vol.hostPath.type).toBe('Directory');
    const mount = agent.volumeMounts.find((m: Obj) => m.name === vol.name);
    expect(mount).toMatchObject({ mountPath: '/sys/fs/bpf', mountPropagation: 'HostToContainer' });
    expect(agent.args).toContain('--pin-root=/sys/fs/bpf/sluice');
    // The host's cgroup v2 root, read-only, where --cgroup-root points (socket-level balancing).
    const cg = spec.volumes.find((v: Obj) => v.hostPath?.path === '/sys/fs/cgroup');
    expect(agent.volumeMounts.find((m: Obj) => m.name === cg.name)).toMatchObject({ mountPath: '/host/cgroup', readOnly: true });
    expect(agent.args).toContain('--cgroup-root=/host/cgroup');
    // Only the agent's status dir, /tmp and the TLS secret besides bpffs and the cgroup root: no other host path.
    expect(spec.volumes.filter((v: Obj) => v.hostPath)).toHaveLength(2);
    // Node name from the downward API.
    const env = (c: Obj, n: string) => c.env.find((e: Obj) => e.name === n);
    expect(env(agent, 'NODE_NAME').valueFrom).toEqual({ fieldRef: { fieldPath: 'spec.nodeName' } });
    expect(agent.args).toContain('--node-name=$(NODE_NAME)');
    // Every node: one toleration that matches every taint.
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(spec.nodeSelector).toBeUndefined();
    expect(spec.affinity).toBeUndefined();
    // One node at a time, no surge (two agents on one node would share maps and the host port).
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(agent.readinessProbe.httpGet.path).toBe('/readyz');
    expect(agent.livenessProbe.httpGet.path).toBe('/healthz');
    expect(agent.args).toContain(`--metrics-addr=0.0.0.0:${agent.readinessProbe.httpGet.port}`);
    // The preflight check reads bpffs with no privilege at all.
    const pre = spec.initContainers.find((c: Obj) => c.name === 'preflight');
    expect(pre.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pre.securityContext.capabilities.add).toBeUndefined();
  });

  it('the control plane: replicas, its ServiceAccount, probes, unprivileged', () => {
    const dep = one(o, 'Deployment', 'sluice-controlplane');
    const spec = dep.spec.template.spec;
    expect(dep.spec.replicas).toBeGreaterThanOrEqual(1);
    // hostNetwork with a fixed port: a surge pod could never start on the same node.
    expect(dep.spec.strategy.rollingUpdate.maxSurge).toBe(0);
    const c = spec.containers[0];
    expect(c.command).toEqual(['sluice-controlplane']);
    expect(c.args).toContain('--source=kubernetes');
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz' });
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz' });
    expect(c.args).toContain(`--metrics-addr=0.0.0.0:${c.readinessProbe.httpGet.port}`);
    // V8's heap cap stays below the container's limit (with room for code and buffers outside it)
    const nodeOptions: string = c.env.find((e: Obj) => e.name === 'NODE_OPTIONS')?.value ?? '';
    const heapMi = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1]);
    const limitMi = Number(/^(\d+)Mi$/.exec(c.resources.limits.memory)?.[1]);
    expect(heapMi).toBeGreaterThan(0);
    expect(heapMi).toBeLessThanOrEqual(limitMi * 0.8);
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c.securityContext.capabilities.add).toBeUndefined();
  });

  it('nothing depends on a ClusterIP: API server and control plane by node address, DNS from the node', () => {
    const cfg = byPrefix(o, 'ConfigMap', 'sluice-config');
    expect(cfg.data).toEqual({
      'api-server-host': CP_IP, 'api-server-port': o === 'kind' ? '6443' : '8443', 'control-plane-address': `${CP_IP}:7443`,
    });
    const cp = one(o, 'Deployment', 'sluice-controlplane').spec.template.spec;
    const ag = one(o, 'DaemonSet', 'sluice-agent').spec.template.spec;
    for (const [what, spec] of [['control plane', cp], ['agent', ag]] as const) {
      // hostNetwork pods with ClusterFirstWithHostNet would resolve through CoreDNS's ClusterIP.
      expect(spec.hostNetwork, what).toBe(true);
      expect(spec.dnsPolicy, what).toBe('Default');
      expect(spec.enableServiceLinks, what).toBe(false);
      for (const c of spec.containers) {
        // KUBERNETES_SERVICE_HOST/PORT would otherwise be the kubernetes Service (10.96.0.1:443).
        const host = c.env.find((e: Obj) => e.name === 'KUBERNETES_SERVICE_HOST');
        const port = c.env.find((e: Obj) => e.name === 'KUBERNETES_SERVICE_PORT');
        expect(host?.valueFrom?.configMapKeyRef, `${what} ${c.name}`).toEqual({ name: cfg.metadata.name, key: 'api-server-host' });
        expect(port?.valueFrom?.configMapKeyRef, `${what} ${c.name}`).toEqual({ name: cfg.metadata.name, key: 'api-server-port' });
      }
    }
    // The control plane listens on the node's port that the agents dial, on a control-plane node.
    const cpc = cp.containers[0];
    expect(cpc.args).toContain('--listen=0.0.0.0:7443');
    expect(cp.nodeSelector).toEqual({ 'node-role.kubernetes.io/control-plane': '' });
    expect(cp.tolerations).toContainEqual({ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' });
    const agent = ag.containers[0];
    expect(agent.args).toContain('--control-plane=$(SLUICE_CONTROL_PLANE)');
    expect(agent.env.find((e: Obj) => e.name === 'SLUICE_CONTROL_PLANE').valueFrom.configMapKeyRef)
      .toEqual({ name: cfg.metadata.name, key: 'control-plane-address' });
    // No Service object at all: nothing of Sluice's own goes through a ClusterIP.
    expect(docs(o).filter((d) => d.kind === 'Service')).toEqual([]);
    expect(JSON.stringify(docs(o).filter((d) => d.kind !== 'Secret'))).not.toMatch(/\.svc\b|10\.96\.0\.1\b/);
  });

  it('mTLS: the control plane serves its certificate and checks the agents\' against the CA, and vice versa', () => {
    const cp = one(o, 'Deployment', 'sluice-controlplane').spec.template.spec;
    const ag = one(o, 'DaemonSet', 'sluice-agent').spec.template.spec;
    const cpSecret = byPrefix(o, 'Secret', 'sluice-controlplane-tls');
    const agSecret = byPrefix(o, 'Secret', 'sluice-agent-tls');
    for (const [spec, secret, flags] of [[cp, cpSecret, cp.containers[0].args], [ag, agSecret, ag.containers[0].args]] as const) {
      expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
      const vol = spec.volumes.find((v: Obj) => v.secret?.secretName === secret.metadata.name);
      const mount = spec.containers[0].volumeMounts.find((m: Obj) => m.name === vol.name);
      expect(mount.readOnly).toBe(true);
      for (const [flag, file] of [['--tls-cert', 'tls.crt'], ['--tls-key', 'tls.key'], ['--tls-ca', 'ca.crt']]) {
        expect(flags).toContain(`${flag}=${mount.mountPath}/${file}`);
      }
    }
    // The server certificate names the address the agents dial; the agent's is a client certificate.
    const pem = (s: Obj, k: string) => Buffer.from(s.data[k], 'base64').toString();
    const x509 = (p: string) => execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], { input: p, encoding: 'utf8' });
    expect(x509(pem(cpSecret, 'tls.crt'))).toContain(`IP Address:${CP_IP}`);
    expect(x509(pem(cpSecret, 'tls.crt'))).toContain('TLS Web Server Authentication');
    expect(x509(pem(agSecret, 'tls.crt'))).toContain('TLS Web Client Authentication');
    expect(pem(cpSecret, 'ca.crt')).toBe(pem(agSecret, 'ca.crt'));
    // The CA's private key never goes into the cluster.
    expect(JSON.stringify(docs(o).map((d) => Object.keys(d.data ?? {})))).not.toContain('ca.key');
  });
});

describe('deploy/configure.sh', () => {
  it('asked the cluster for the control-plane node and for kube-proxy', () => {
    expect(kubectlLog.some((l) => l.startsWith('get nodes -l node-role.kubernetes.io/control-plane'))).toBe(true);
    expect(kubectlLog.some((l) => l.startsWith('-n kube-system get daemonset kube-proxy'))).toBe(true);
  });

  it('refuses while kube-proxy runs, and with more than one control-plane node', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-configure-'));
    try {
      fs.cpSync(path.join(REPO, 'deploy'), path.join(dir, 'deploy'), { recursive: true, filter: (src) => !/\/(certs|cluster\.env)$/.test(src) });
      const fake = (nodes: string, proxy: string) => {
        fs.writeFileSync(path.join(dir, 'kubectl'), `#!/bin/sh
case "$*" in
  "config current-context") echo test ;;
  "get nodes"*) printf '${nodes}' ;;
  "-n kube-system get daemonset kube-proxy"*) printf '${proxy}' ;;
esac
`, { mode: 0o755 });
        try {
          execFileSync('bash', [path.join(dir, 'deploy/configure.sh'), path.join(dir, 'deploy/kind')],
            { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, stdio: 'pipe', encoding: 'utf8' });
          return 'ok';
        } catch (e) {
          return String((e as { stderr: string }).stderr);
        }
      };
      expect(fake('10.0.0.1\\n', 'daemonset.apps/kube-proxy\\n')).toMatch(/kube-proxy is still running/);
      expect(fake('10.0.0.1\\n10.0.0.2\\n', '')).toMatch(/expected one control-plane node.*found 2/);
      expect(fs.existsSync(path.join(dir, 'deploy/kind/cluster.env'))).toBe(false);
      expect(fake('10.0.0.1\\n', '')).toBe('ok');
      expect(fs.readFileSync(path.join(dir, 'deploy/kind/cluster.env'), 'utf8')).toBe('api-server-host=10.0.0.1\ncontrol-plane-address=10.0.0.1:7443\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Dockerfile', () => {
  const text = fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages = lines.filter((l) => /^FROM /i.test(l));
  const runtimeAt = lines.findIndex((l) => /^FROM .* AS runtime$/i.test(l));
  const runtime = lines.slice(runtimeAt);

  it('is multi-stage on Node 24 (bookworm, as the machine the BPF object is built and tested on)', () => {
    expect(lines).toContain('ARG NODE_IMAGE=node:24-bookworm-slim');
    expect(stages.map((l) => l.split(/\s+/).pop())).toEqual(['build', 'deps', 'runtime']);
    expect(runtimeAt).toBe(lines.length - runtime.length);
  });

  it('builds the BPF object with clang and compiles the TypeScript in the build stage', () => {
    const build = lines.slice(0, lines.findIndex((l) => /^FROM .* AS deps$/i.test(l))).join('\n');
    for (const p of ['clang', 'llvm', 'libbpf-dev', 'linux-libc-dev']) expect(build).toMatch(new RegExp(`apt-get install[^\\n]*\\b${p}\\b`));
    expect(build).toContain('npm ci');
    expect(build).toContain('make build');
    expect(build).toContain('deploy/image/assemble.sh /src /opt/sluice');
  });

  it('ships a slim runtime: Node, libbpf, bpftool, iproute2, production node_modules, no compiler', () => {
    const rt = runtime.join('\n');
    expect(rt).toMatch(/apt-get install[^\n]*\blibbpf1\b[^\n]*\bbpftool\b[^\n]*\biproute2\b/);
    expect(rt).not.toMatch(/clang|llvm|libbpf-dev|typescript/);
    expect(rt).toContain('COPY --from=deps /opt/sluice/node_modules /opt/sluice/node_modules');
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(rt).toContain('COPY --from=build /opt/sluice /opt/sluice');
    expect(rt).toContain('COPY deploy/image/bin/ /usr/local/bin/');
  });

  it('runs unprivileged unless a manifest asks for more (only the agent does)', () => {
    const user = runtime.filter((l) => /^USER /i.test(l)).pop();
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)(:|$)/);
  });

  it('has one entrypoint per binary, each a script of the repo, and the manifests use only those', () => {
    const bin = path.join(REPO, 'deploy/image/bin');
    const entry: Record<string, string> = {};
    for (const name of fs.readdirSync(bin)) {
      const src = fs.readFileSync(path.join(bin, name), 'utf8');
      expect(fs.statSync(path.join(bin, name)).mode & 0o111, name).not.toBe(0);
      // Node flags may come first (the agent's --max-semi-space-size).
      const m = /^exec node (?:--\S+ )*"\$\{SLUICE_HOME:-\/opt\/sluice\}\/(\S+)\.js" "\$@"$/m.exec(src);
      expect(m, `${name}: exec line`).not.toBeNull();
      entry[name] = `${m![1]}.ts`;
      expect(fs.existsSync(path.join(REPO, entry[name]!)), `${name} -> ${entry[name]}`).toBe(true);
    }
    expect(entry).toEqual({ 'sluice-agent': 'agent/main.ts', 'sluice-controlplane': 'controlplane/main.ts', sluice: 'agent/cli/main.ts' });
    for (const o of OVERLAYS) {
      for (const d of docs(o).filter((x) => x.spec?.template)) {
        for (const c of containers(d.spec.template.spec)) {
          const cmd = c.command[0];
          expect(cmd === 'sh' || cmd in entry, `${d.kind} ${c.name}: ${cmd}`).toBe(true);
        }
      }
    }
    // The image reference is the one the docs build and load.
    const images = new Set(OVERLAYS.flatMap((o) => docs(o).filter((x) => x.spec?.template).flatMap((d) => containers(d.spec.template.spec).map((c) => c.image))));
    expect([...images]).toEqual(['sluice:dev']);
  });

  it('.dockerignore keeps local installs, outputs and secrets out of the build context', () => {
    const ignore = fs.readFileSync(path.join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', '.tools', 'dist', 'build', 'deploy/*/certs', 'deploy/*/cluster.env']) expect(ignore).toContain(p);
  });
});

describe('deploy/bench/iperf3.yaml', () => {
  const benchDocs = parseAllDocuments(fs.readFileSync(path.join(REPO, 'deploy/bench/iperf3.yaml'), 'utf8')).map((d) => d.toJS() as Obj);

  it('validates against the Kubernetes API schemas, with no unknown field', async () => {
    expect(benchDocs.map((d) => d.kind)).toEqual(['Deployment', 'Service', 'Pod']);
    for (const d of benchDocs) {
      await expect(validateSchema(d), `${d.kind} ${d.metadata.name}`).resolves.toBeUndefined();
      expect(unknownFields(d), `${d.kind} ${d.metadata.name}`).toEqual([]);
    }
  });

  it('the Service selects the server, on the port the docs\' iperf3 client uses', () => {
    const [dep, svc] = benchDocs as [Obj, Obj];
    expect(dep.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
    expect(svc.spec.ports[0].port).toBe(5201);
  });
});

describe.each(OVERLAYS)('docs/%s.md', (o) => {
  const doc = fs.readFileSync(path.join(REPO, `docs/${o}.md`), 'utf8');
  const code = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).join('\n');

  it('uses this overlay, the image tag of the manifests and a cluster without kube-proxy', () => {
    expect(code).toContain(`deploy/configure.sh deploy/${o}`);
    expect(code).toContain(`kubectl apply -k deploy/${o}`);
    expect(code).toContain('docker build -t sluice:dev .');
    if (o === 'kind') {
      expect(code).toContain('kubeProxyMode: "none"');
      expect(code).toContain('kind load docker-image sluice:dev --name sluice');
    } else {
      expect(code).toContain('kubectl -n kube-system delete daemonset kube-proxy');
      expect(code).toContain('minikube -p sluice image load sluice:dev');
    }
    // Steps in order: cluster, image, configure, apply, check.
    const at = (s: string) => code.indexOf(s);
    expect(at('docker build')).toBeLessThan(at('deploy/configure.sh'));
    expect(at('deploy/configure.sh')).toBeLessThan(at('kubectl apply -k'));
  });

  it('names only objects, labels and containers that the manifests have', () => {
    // The manifests, the bench's iperf3 and every example the guide applies.
    const applied = ['deploy/bench/iperf3.yaml', ...[...code.matchAll(/kubectl apply -f (examples\/[\w.-]+\.yaml)/g)].map((m) => m[1]!)];
    const all = [...docs(o), ...applied.flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(REPO, f), 'utf8')).map((d) => d.toJS() as Obj))];
    const labels = all.flatMap((d) => [d.metadata?.labels ?? {}, d.spec?.template?.metadata?.labels ?? {}]);
    for (const [, k, v] of code.matchAll(/-l ([\w./-]+)=([\w.-]+)/g)) {
      if (k === 'k8s-app') continue; // CoreDNS's own label
      expect(labels.some((l) => l[k!] === v), `label ${k}=${v}`).toBe(true);
    }
    for (const [, kind, name] of code.matchAll(/\b(deployment|daemonset)\/([\w-]+)/g)) {
      const k = kind === 'deployment' ? 'Deployment' : 'DaemonSet';
      if (name === 'web') continue; // the example's own Deployment
      expect(all.some((d) => d.kind === k && d.metadata.name === name), `${k} ${name}`).toBe(true);
    }
    const agentContainers = one(o, 'DaemonSet', 'sluice-agent').spec.template.spec.containers.map((c: Obj) => c.name);
    for (const [, c] of code.matchAll(/exec "\$AGENT" -c (\S+)/g)) expect(agentContainers).toContain(c);
    // $NODE_NAME inside the agent container is what the bpftool commands use.
    const env = one(o, 'DaemonSet', 'sluice-agent').spec.template.spec.containers[0].env.map((e: Obj) => e.name);
    if (code.includes('$NODE_NAME')) expect(env).toContain('NODE_NAME');
  });

  it('has the three troubleshooting entries', () => {
    for (const t of ['**bpffs not mounted.**', '**kube-proxy still running.**', '**Certificates.**']) expect(doc).toContain(t);
    // The preflight message the docs quote is the init container's.
    const pre = one(o, 'DaemonSet', 'sluice-agent').spec.template.spec.initContainers[0].command.join(' ');
    expect(pre).toContain('not bpffs');
    expect(doc.replace(/\s+/g, ' ')).toMatch(/\/sys\/fs\/bpf on node .* is '.*', not bpffs/);
  });
});
