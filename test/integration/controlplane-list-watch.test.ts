// The control plane's informer (controlplane/list-watch.ts) against the REAL client-node informer
// (makeInformer: client-node's ListWatch and Watch, the informer it replaces) on the same fake API
// server: both must report the same adds, updates and deletes through paged lists, watch events,
// 410 relists (as an ERROR event and as an HTTP status) and an expired continue token. And the
// connection (controlplane/kube-connection.ts) as the control plane runs it: a kubeconfig file or
// the pod's service account, over TLS with a CA and a client certificate, token files re-read,
// anything else handed to client-node.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CoreV1Api, KubeConfig, makeInformer, type KubernetesObject } from '@kubernetes/client-node';
import { FakeApiServer, type KObj } from '../fixtures/fake-apiserver.ts';
import { ListWatch, type KubeObject } from '../../controlplane/list-watch.ts';
import { fromKubeconfigFile, inCluster, viaClientNode, type KubeConnection } from '../../controlplane/kube-connection.ts';

const SVC = '/api/v1/services';

function svc(name: string, namespace = 'default', port = 80): KObj {
  return { metadata: { name, namespace }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ port, protocol: 'TCP' }] } };
}

async function waitFor(what: string, cond: () => boolean, ms = 45_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-lw-'));
}

type Log = string[];
function record(on: (verb: 'add' | 'update' | 'delete', cb: (o: KubeObject) => void) => void): Log {
  const log: Log = [];
  for (const verb of ['add', 'update', 'delete'] as const) {
    on(verb, (o) => log.push(`${verb} ${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}${verb === 'delete' ? '' : `@${o.metadata?.resourceVersion ?? ''}`}`));
  }
  return log;
}

describe('list-watch.ts reports what client-node\'s informer reports', () => {
  const api = new FakeApiServer();
  let ours: ListWatch;
  let ref: ReturnType<typeof makeInformer<KubernetesObject>>;
  let oursLog: Log, refLog: Log;
  let conn: KubeConnection;

  beforeAll(async () => {
    await api.start();
    for (const n of ['a', 'b', 'c']) api.upsert(SVC, svc(n));
    api.upsert(SVC, svc('x', 'other'));
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser({ name: 'fake', server: api.url, skipTLSVerify: true }, { name: 'test', token: 'test-token' });
    const core = kc.makeApiClient(CoreV1Api);
    ref = makeInformer(kc, SVC, () => core.listServiceForAllNamespaces());
    conn = fromKubeconfigFile(api.writeKubeconfig(tmp()));
    ours = new ListWatch(conn, { path: SVC, pageSize: 2 });
    oursLog = record((v, cb) => ours.on(v, cb));
    refLog = record((v, cb) => ref.on(v, cb as (o: KubernetesObject) => void));
    await Promise.all([ours.start(), ref.start()]);
  });
  afterAll(async () => {
    await ours?.stop();
    await ref?.stop();
    conn?.close();
    await api.close();
  });

  /** Both logs grew by `n` events since `from`; returns this step's events of each, sorted (deletes of one relist come in map order). */
  async function step(from: number, n: number): Promise<{ ours: string[]; ref: string[] }> {
    await waitFor(`${n} events from both informers`, () => oursLog.length >= from + n && refLog.length >= from + n);
    await new Promise((r) => setTimeout(r, 200)); // nothing more comes
    return { ours: oursLog.slice(from).sort(), ref: refLog.slice(from).sort() };
  }

  it('a paged first list: one add per object', async () => {
    const s = await step(0, 4);
    expect(s.ours).toEqual(s.ref);
    expect(s.ours.map((e) => e.replace(/@.*/, ''))).toEqual(['add default/a', 'add default/b', 'add default/c', 'add other/x']);
    expect(ours.latestResourceVersion()).toBe((ref as unknown as { latestResourceVersion(): string }).latestResourceVersion());
    expect(api.requests.filter((r) => r.startsWith(`${SVC}?`) && r.includes('limit=2')).length).toBe(2); // pages of 2
  });

  it('watch events: add, update, delete', async () => {
    await waitFor('both watches', () => api.watcherCount === 2);
    const from = oursLog.length;
    api.upsert(SVC, svc('d'));
    api.upsert(SVC, svc('a', 'default', 81));
    api.remove(SVC, 'default', 'b');
    const s = await step(from, 3);
    expect(s.ours).toEqual(s.ref);
    expect(s.ours.map((e) => e.replace(/@.*/, ''))).toEqual(['add default/d', 'delete default/b', 'update default/a']);
  });

  it('410 as an ERROR watch event: relist, only the differences reported', async () => {
    const from = oursLog.length;
    api.remove(SVC, 'default', 'c', { silent: true });
    api.remove(SVC, 'other', 'x', { silent: true });
    api.upsert(SVC, svc('a', 'default', 82), { silent: true });
    api.upsert(SVC, svc('e'), { silent: true });
    api.compact();
    api.closeWatches();
    const s = await step(from, 4);
    expect(s.ours).toEqual(s.ref);
    expect(s.ours.map((e) => e.replace(/@.*/, ''))).toEqual(['add default/e', 'delete default/c', 'delete other/x', 'update default/a']);
    expect(ours.size).toBe(ref.list().length);
  });

  it('410 as an HTTP status: relist too; an expired continue token restarts the list', async () => {
    await waitFor('both watches', () => api.watcherCount === 2);
    const from = oursLog.length;
    api.remove(SVC, 'default', 'd', { silent: true });
    for (const n of ['f', 'g', 'h']) api.upsert(SVC, svc(n), { silent: true });
    api.compact();
    api.http410OnNextWatches = 2;
    api.expireNextContinues = 1; // ours pages (the reference lists in one page)
    api.closeWatches();
    const s = await step(from, 4);
    expect(s.ours).toEqual(s.ref);
    expect(s.ours.map((e) => e.replace(/@.*/, ''))).toEqual(['add default/f', 'add default/g', 'add default/h', 'delete default/d']);
    expect(api.http410OnNextWatches).toBe(0);
    expect(api.expireNextContinues).toBe(0);
    await waitFor('both watches again', () => api.watcherCount === 2);
    const from2 = oursLog.length;
    api.upsert(SVC, svc('i'));
    const s2 = await step(from2, 1);
    expect(s2.ours).toEqual(s2.ref);
  });

  it('a watch error other than 410 is reported and stops the informer; start() resumes from the last resourceVersion', async () => {
    const errors: unknown[] = [];
    ours.on('error', (e) => errors.push(e));
    api.fail500OnNextWatches = 1;
    api.closeWatches();
    await waitFor('the error', () => errors.length === 1 || api.fail500OnNextWatches === 0);
    await waitFor('the error', () => errors.length === 1);
    expect((errors[0] as { statusCode?: number }).statusCode).toBe(500);
    expect(String((errors[0] as Error).message)).toContain('test failure');
    const lists = api.requests.filter((r) => !r.includes('watch=')).length;
    const from = oursLog.length;
    await ours.start();
    api.upsert(SVC, svc('j'));
    await waitFor('the event after the restart', () => oursLog.length > from);
    expect(oursLog.slice(from)[0]).toMatch(/^add default\/j@/);
    expect(api.requests.filter((r) => !r.includes('watch=')).length).toBe(lists); // no relist
  });
});

describe('list-watch.ts on keep-alive sockets', () => {
  it('retries a GET once when the server resets a reused keep-alive socket (the idle-close race), without reporting an error', async () => {
    // Each connection answers its first request and resets (RST) on the second: every page after
    // the first, and the watch, meet a reset on the socket the agent reuses.
    let resets = 0;
    const pages: Record<string, object> = {
      '': { metadata: { resourceVersion: '5', continue: 'p2' }, items: [{ metadata: { name: 'a', namespace: 'default', resourceVersion: '3' } }] },
      p2: { metadata: { resourceVersion: '5' }, items: [{ metadata: { name: 'b', namespace: 'default', resourceVersion: '4' } }] },
    };
    const srv = net.createServer((sock) => {
      let served = 0;
      let buf = '';
      sock.on('error', () => {});
      sock.on('data', (d) => {
        buf += d.toString();
        if (!buf.includes('\r\n\r\n')) return;
        const line = buf.slice(0, buf.indexOf('\r\n'));
        buf = '';
        if (served++ > 0) { resets++; sock.resetAndDestroy(); return; }
        const url = new URL(line.split(' ')[1]!, 'http://x');
        if (url.searchParams.get('watch') === 'true') { sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'); return; }
        const body = JSON.stringify(pages[url.searchParams.get('continue') ?? '']);
        sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const d = tmp();
    const file = path.join(d, 'kubeconfig');
    fs.writeFileSync(file, JSON.stringify({ 'current-context': 'c', contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }], clusters: [{ name: 'k', cluster: { server: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, 'insecure-skip-tls-verify': true } }], users: [{ name: 'u', user: { token: 't' } }] }));
    const conn = fromKubeconfigFile(file);
    const lw = new ListWatch(conn, { path: SVC, pageSize: 1 });
    const added: string[] = [];
    const errors: unknown[] = [];
    lw.on('add', (o) => added.push(o.metadata?.name ?? ''));
    lw.on('error', (e) => errors.push(e));
    try {
      await lw.start();
      expect(errors).toEqual([]);
      expect(added).toEqual(['a', 'b']);
      expect(lw.latestResourceVersion()).toBe('5');
      expect(resets).toBeGreaterThanOrEqual(2); // page 2 and the watch each met one
    } finally {
      await lw.stop();
      conn.close();
      srv.close();
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('kube-connection.ts', () => {
  const dirs: string[] = [];
  const dir = (): string => { const d = tmp(); dirs.push(d); return d; };
  afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });
  afterEach(() => { vi.useRealTimers(); });

  const kubeconfig = (d: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string => {
    const file = path.join(d, 'kubeconfig');
    fs.writeFileSync(file, [
      'apiVersion: v1', 'kind: Config', 'current-context: c',
      'contexts:', '- name: c', '  context: {cluster: k, user: u}',
      `clusters:`, `- name: k`, `  cluster: ${JSON.stringify(cluster)}`,
      `users:`, `- name: u`, `  user: ${JSON.stringify(user)}`, '',
    ].join('\n'));
    return file;
  };

  it('reads a token file (relative to the kubeconfig) and reads it again after 60 s, as client-go does', async () => {
    const d = dir();
    fs.writeFileSync(path.join(d, 'tok'), 'first\n');
    const c = fromKubeconfigFile(kubeconfig(d, { server: 'https://10.0.0.1:6443/' }, { tokenFile: 'tok' }));
    vi.useFakeTimers({ toFake: ['Date'] });
    const r1 = await c.request('/api/v1/nodes?limit=1');
    expect(r1.url.toString()).toBe('https://10.0.0.1:6443/api/v1/nodes?limit=1');
    expect(r1.options.headers.authorization).toBe('Bearer first');
    fs.writeFileSync(path.join(d, 'tok'), 'second\n');
    expect((await c.request('/x')).options.headers.authorization).toBe('Bearer first');
    vi.setSystemTime(Date.now() + 61_000);
    expect((await c.request('/x')).options.headers.authorization).toBe('Bearer second');
    c.close();
  });

  it('refuses what it cannot use, naming the file and the field', () => {
    const d = dir();
    expect(() => fromKubeconfigFile(kubeconfig(d, { server: 'http://127.0.0.1:1' }, { token: 't' }))).toThrow(/kubeconfig .*kubeconfig: HTTP server http:\/\/127.0.0.1:1 without insecure-skip-tls-verify/);
    expect(() => fromKubeconfigFile(kubeconfig(d, { 'insecure-skip-tls-verify': true }, {}))).toThrow(/cluster "k" has no server/);
    expect(() => fromKubeconfigFile(kubeconfig(d, { server: 'https://h', 'certificate-authority': 'missing.crt' }, {}))).toThrow(/ENOENT.*missing.crt/);
    const f = path.join(d, 'other');
    fs.writeFileSync(f, 'current-context: nope\ncontexts: []\n');
    expect(() => fromKubeconfigFile(f)).toThrow(/no context named "nope"/);
    expect(() => inCluster({}, d)).toThrow(/KUBERNETES_SERVICE_HOST/);
  });

  it('hands a kubeconfig it does not handle (impersonation here) to client-node', async () => {
    const d = dir();
    const c = fromKubeconfigFile(kubeconfig(d, { server: 'https://10.0.0.1:6443', 'insecure-skip-tls-verify': true }, { token: 't', as: 'someone' }));
    const r = await c.request('/api/v1/services');
    expect(r.options.headers.Authorization).toBe('Bearer t');
    expect(r.options.headers['Impersonate-User']).toBe('someone');
    expect(r.options.rejectUnauthorized).toBe(false);
    c.close();
  });

  describe('over TLS: CA, client certificate, server name', () => {
    const api = new FakeApiServer();
    let front: tls.Server, tokenFront: tls.Server;
    let port = 0, tokenPort = 0;
    let d = '';
    const f = (n: string): string => path.join(d, n);

    beforeAll(async () => {
      d = dir();
      const ossl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: d, stdio: 'pipe' }); };
      ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
      const leaf = (name: string, ext: string): void => {
        ossl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
        fs.writeFileSync(f(`${name}.ext`), ext);
        ossl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`);
      };
      leaf('apiserver', 'subjectAltName=DNS:kubernetes.default.svc,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
      leaf('client', 'extendedKeyUsage=clientAuth\n');
      await api.start();
      api.upsert(SVC, svc('a'));
      api.upsert(SVC, svc('b'));
      // The API server's TLS in front of the plain fake: one port requires client certificates, one does not (tokens).
      const listen = async (clientCerts: boolean): Promise<[tls.Server, number]> => {
        const srv = tls.createServer({ key: fs.readFileSync(f('apiserver.key')), cert: fs.readFileSync(f('apiserver.crt')), ca: fs.readFileSync(f('ca.crt')), requestCert: clientCerts, rejectUnauthorized: clientCerts }, (s) => {
          const up = net.connect(api.port, '127.0.0.1');
          s.pipe(up).pipe(s);
          s.on('error', () => up.destroy());
          up.on('error', () => s.destroy());
        });
        await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
        return [srv, (srv.address() as net.AddressInfo).port];
      };
      [front, port] = await listen(true);
      [tokenFront, tokenPort] = await listen(false);
    }, 60_000);
    afterAll(async () => {
      front?.close();
      tokenFront?.close();
      await api.close();
    });

    async function listAll(c: KubeConnection): Promise<string[]> {
      const lw = new ListWatch(c, { path: SVC });
      const names: string[] = [];
      const errors: unknown[] = [];
      lw.on('add', (o) => names.push(o.metadata?.name ?? ''));
      lw.on('error', (e) => errors.push(e));
      await lw.start();
      await lw.stop();
      c.close();
      if (errors.length > 0) throw errors[0];
      return names.sort();
    }

    it('a kubeconfig with the CA and client certificate as files and tls-server-name', async () => {
      const file = kubeconfig(d, { server: `https://127.0.0.1:${port}`, 'certificate-authority': 'ca.crt', 'tls-server-name': 'kubernetes.default.svc' }, { 'client-certificate': 'client.crt', 'client-key': 'client.key' });
      expect(await listAll(fromKubeconfigFile(file))).toEqual(['a', 'b']);
    });

    it('the same as base64 data, and refused without the client certificate or with the wrong server name', async () => {
      const b64 = (n: string): string => fs.readFileSync(f(n)).toString('base64');
      const ok = kubeconfig(dir(), { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': b64('ca.crt'), 'tls-server-name': 'kubernetes.default.svc' }, { 'client-certificate-data': b64('client.crt'), 'client-key-data': b64('client.key') });
      expect(await listAll(fromKubeconfigFile(ok))).toEqual(['a', 'b']);
      const noCert = kubeconfig(dir(), { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': b64('ca.crt'), 'tls-server-name': 'kubernetes.default.svc' }, { token: 't' });
      await expect(listAll(fromKubeconfigFile(noCert))).rejects.toThrow();
      const wrongName = kubeconfig(dir(), { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': b64('ca.crt'), 'tls-server-name': 'other.example' }, { 'client-certificate-data': b64('client.crt'), 'client-key-data': b64('client.key') });
      await expect(listAll(fromKubeconfigFile(wrongName))).rejects.toThrow(/other\.example/);
      const otherCa = kubeconfig(dir(), { server: `https://127.0.0.1:${port}` }, { 'client-certificate-data': b64('client.crt'), 'client-key-data': b64('client.key') });
      await expect(listAll(fromKubeconfigFile(otherCa))).rejects.toThrow(/self.signed|unable to verify|certificate/i);
    });

    it('client-node\'s KubeConfig given by the caller reaches it the same way', async () => {
      const kc = new KubeConfig();
      kc.loadFromClusterAndUser({ name: 'k', server: `https://127.0.0.1:${port}`, caFile: f('ca.crt'), tlsServerName: 'kubernetes.default.svc', skipTLSVerify: false }, { name: 'u', certFile: f('client.crt'), keyFile: f('client.key') });
      expect(await listAll(viaClientNode(kc))).toEqual(['a', 'b']);
    });

    it('in-cluster: KUBERNETES_SERVICE_HOST/PORT, the service account CA and token', async () => {
      const sa = dir();
      fs.copyFileSync(f('ca.crt'), path.join(sa, 'ca.crt'));
      fs.writeFileSync(path.join(sa, 'token'), 'sa-token');
      const c = inCluster({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(tokenPort) }, sa);
      const r = await c.request('/api/v1/services');
      expect(r.url.toString()).toBe(`https://127.0.0.1:${tokenPort}/api/v1/services`);
      expect(r.options.headers.authorization).toBe('Bearer sa-token');
      expect(await listAll(c)).toEqual(['a', 'b']);
      // The port that wants a client certificate refuses the service account's token alone.
      await expect(listAll(inCluster({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, sa))).rejects.toThrow();
      expect((await inCluster({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, sa).request('/')).url.host).toBe('[fd00::1]:6443');
    });
  });
});
