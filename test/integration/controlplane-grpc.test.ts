// End to end over real gRPC between processes: a control plane (controlplane/main.ts, manifests
// source) and two agent processes (test/fixtures/stream-agent.ts using agent/stream-client.ts).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'controlplane/main.ts');
const AGENT = path.join(ROOT, 'test/fixtures/stream-agent.ts');

type Line = Record<string, unknown>;

class Proc {
  readonly child: ChildProcess;
  readonly out: Line[] = [];
  readonly err: string[] = [];
  readonly name: string;
  exited = false;
  constructor(name: string, args: string[]) {
    this.name = name;
    this.child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const collect = (stream: NodeJS.ReadableStream, into: (l: string) => void): void => {
      let buf = '';
      stream.on('data', (d: Buffer) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) { into(buf.slice(0, i)); buf = buf.slice(i + 1); }
      });
    };
    collect(this.child.stdout!, (l) => { try { this.out.push(JSON.parse(l) as Line); } catch { this.err.push(l); } });
    collect(this.child.stderr!, (l) => this.err.push(l));
    this.child.on('exit', () => { this.exited = true; });
  }
  async waitLine(what: string, pred: (l: Line) => boolean, from = 0, ms = 45_000): Promise<Line> {
    const end = Date.now() + ms;
    for (;;) {
      for (let i = from; i < this.out.length; i++) if (pred(this.out[i]!)) return this.out[i]!;
      if (Date.now() > end) throw new Error(`${this.name}: timed out waiting for ${what}\nstdout tail: ${this.out.slice(-5).map((l) => JSON.stringify(l).slice(0, 400)).join('\n')}\nstderr tail: ${this.err.slice(-10).join('\n')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  send(line: string): void { this.child.stdin!.write(line + '\n'); }
  async kill(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill(sig);
    await done;
  }
}

const procs: Proc[] = [];
const tmpDirs: string[] = [];
function proc(name: string, args: string[]): Proc {
  const p = new Proc(name, args);
  procs.push(p);
  return p;
}
afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill('SIGKILL');
});
afterAll(() => { for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true }); });

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-grpc-'));
  tmpDirs.push(d);
  return d;
}

type Svc = { ports: { endpoints: { ip: string; port: number; nodeName: string; internal: boolean }[] }[]; clusterIps: string[]; internalTrafficLocal: boolean };
const applied = (l: Line): boolean => l.event === 'applied';
const services = (l: Line): Record<string, Svc> => l.services as Record<string, Svc>;
const epList = (s: Svc | undefined): string[] => (s?.ports[0]?.endpoints ?? []).map((e) => `${e.ip}:${e.port}`);
/** The endpoints cluster-IP traffic uses (the contract's `internal` set). */
const internalList = (s: Svc | undefined): string[] => (s?.ports[0]?.endpoints ?? []).filter((e) => e.internal).map((e) => `${e.ip}:${e.port}`);

const deployment = (name: string, replicas: number, ips: string): string => `
kind: Deployment
metadata: {name: ${name}, annotations: {sluice.io/pod-ips: "${ips}", sluice.io/node: "node-a,node-b"}}
spec:
  replicas: ${replicas}
  template:
    metadata: {labels: {app: ${name}}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
kind: Service
metadata: {name: ${name}}
spec: {selector: {app: ${name}}, ports: [{name: http, port: 80, targetPort: http}]}
`;

describe('control plane <-> agents over gRPC (processes)', () => {
  it('snapshot, deltas, ack/nack, restart with resync, several agents', async () => {
    const dir = tmp();
    const mdir = path.join(dir, 'manifests');
    fs.mkdirSync(mdir);
    const sock = path.join(dir, 'cp.sock');
    fs.writeFileSync(path.join(mdir, 'web.yaml'), deployment('web', 2, '10.244.1.2,10.244.2.2,10.244.1.3,10.244.2.3'));
    fs.writeFileSync(path.join(mdir, 'db.yaml'), deployment('db', 1, '10.244.1.9'));
    fs.writeFileSync(path.join(mdir, 'local.yaml'), `
kind: Service
metadata: {name: local}
spec: {clusterIP: 10.96.7.7, internalTrafficPolicy: Local, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`);
    const cpArgs = [MAIN, '--source', 'manifests', '--manifests', mdir, '--listen', `unix:${sock}`, '--log-level', 'debug', '--rescan-interval', '1'];
    let cp = proc('cp', cpArgs);
    await cp.waitLine('listening', (l) => l.msg === 'gRPC state server listening');
    expect(fs.statSync(sock).mode & 0o777).toBe(0o600);

    const a = proc('agent-a', [AGENT, '--target', `unix:${sock}`, '--node', 'node-a']);
    const b = proc('agent-b', [AGENT, '--target', `unix:${sock}`, '--node', 'node-b']);
    const snapA = await a.waitLine('snapshot', applied);
    const snapB = await b.waitLine('snapshot', applied);
    expect(snapA.snapshot).toBe(true);
    expect(Object.keys(services(snapA)).sort()).toEqual(['default/db', 'default/local', 'default/web']);
    expect(epList(services(snapA)['default/web'])).toEqual(['10.244.1.2:8080', '10.244.2.2:8080']);
    // internalTrafficPolicy Local: each node's internal set is its own endpoint (the others ride along
    // flagged cluster-only, so "no local endpoint" can be told from "no endpoint": drop versus reject)
    expect(internalList(services(snapA)['default/local'])).toEqual(['10.244.1.2:8080']);
    expect(internalList(services(snapB)['default/local'])).toEqual(['10.244.2.2:8080']);
    expect(epList(services(snapA)['default/local'])).toEqual(['10.244.1.2:8080', '10.244.2.2:8080']);
    const serverId1 = snapA.serverId;

    // Delta: scale web up.
    let fromA = a.out.length;
    let fromB = b.out.length;
    fs.writeFileSync(path.join(mdir, 'web.yaml'), deployment('web', 3, '10.244.1.2,10.244.2.2,10.244.1.3,10.244.2.3'));
    const dA = await a.waitLine('delta', (l) => applied(l) && epList(services(l)['default/web']).length === 3, fromA);
    await b.waitLine('delta', (l) => applied(l) && epList(services(l)['default/web']).length === 3, fromB);
    expect(dA.snapshot).toBe(false);
    expect(dA.upserts).toBe(2); // web and local (its node-a endpoints changed)
    expect(dA.version as number).toBeGreaterThan(snapA.version as number);

    // Nack on agent a only.
    a.send('nack-next');
    await a.waitLine('armed', (l) => l.event === 'armed', fromA);
    fromA = a.out.length;
    fromB = b.out.length;
    fs.writeFileSync(path.join(mdir, 'db.yaml'), deployment('db', 2, '10.244.1.9,10.244.2.9'));
    const nacked = await a.waitLine('nack', (l) => l.event === 'nacked', fromA);
    await b.waitLine('db scaled on b', (l) => applied(l) && epList(services(l)['default/db']).length === 2, fromB);
    await cp.waitLine('nack log', (l) => l.msg === 'agent rejected update (nack)' && l.node === 'node-a' && String(l.error).includes(`refused version ${nacked.version}`));
    // not resent on its own; the next change carries db again (newest state) together with web
    await new Promise((r) => setTimeout(r, 1500));
    expect(a.out.slice(fromA).filter((l) => applied(l) || l.event === 'nacked')).toHaveLength(1);
    fs.writeFileSync(path.join(mdir, 'web.yaml'), deployment('web', 4, '10.244.1.2,10.244.2.2,10.244.1.3,10.244.2.3'));
    const retry = await a.waitLine('retry', (l) => applied(l) && l.version as number > (nacked.version as number), fromA);
    expect(epList(services(retry)['default/db'])).toEqual(['10.244.1.9:8080', '10.244.2.9:8080']);
    expect(epList(services(retry)['default/web'])).toHaveLength(4);

    // Kill the control plane; delete a service while it is down; restart: agents resync.
    await cp.kill('SIGKILL');
    await a.waitLine('disconnect', (l) => l.event === 'disconnected', fromA);
    fs.rmSync(path.join(mdir, 'db.yaml'));
    fromA = a.out.length;
    fromB = b.out.length;
    cp = proc('cp2', cpArgs);
    const reA = await a.waitLine('resync a', (l) => applied(l) && l.snapshot === true, fromA);
    const reB = await b.waitLine('resync b', (l) => applied(l) && l.snapshot === true, fromB);
    expect(reA.serverId).not.toBe(serverId1);
    expect(reA.version as number).toBeGreaterThan(retry.version as number);
    expect(Object.keys(services(reA)).sort()).toEqual(['default/local', 'default/web']); // db gone, nothing stale
    expect(Object.keys(services(reB)).sort()).toEqual(['default/local', 'default/web']);
    expect(epList(services(reA)['default/web'])).toHaveLength(4);
    await cp.waitLine('agent connected log', (l) => l.msg === 'agent connected' && l.node === 'node-b');

    // Clean shutdown on SIGTERM.
    const exit = new Promise<number | null>((r) => cp.child.once('exit', (code) => r(code)));
    cp.child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(fs.existsSync(sock)).toBe(false);
  }, 150_000);

  it('mTLS: a client certificate from the right CA connects; one from another CA is refused with a clear log', async () => {
    const dir = tmp();
    const mdir = path.join(dir, 'manifests');
    fs.mkdirSync(mdir);
    fs.writeFileSync(path.join(mdir, 'web.yaml'), deployment('web', 1, '10.244.1.2'));
    const ossl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }); };
    const ca = (name: string): void => {
      ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
    };
    const leaf = (name: string, caName: string, ext: string): void => {
      ossl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
      ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`);
    };
    ca('ca');
    ca('evil-ca');
    leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
    leaf('intruder', 'evil-ca', 'extendedKeyUsage=clientAuth\n');
    const f = (n: string): string => path.join(dir, n);
    const cp = proc('cp-tls', [MAIN, '--manifests', mdir, '--listen', '127.0.0.1:0', '--tls-cert', f('server.crt'), '--tls-key', f('server.key'), '--tls-ca', f('ca.crt')]);
    const listening = await cp.waitLine('listening', (l) => l.msg === 'gRPC state server listening');
    const target = `127.0.0.1:${listening.port as number}`;

    const good = proc('good', [AGENT, '--target', target, '--node', 'node-a', '--tls-ca', f('ca.crt'), '--tls-cert', f('client.crt'), '--tls-key', f('client.key')]);
    const snap = await good.waitLine('snapshot', applied);
    expect(Object.keys(services(snap))).toEqual(['default/web']);

    const tlsLog = (l: Line): boolean => String(l.msg).startsWith('TLS handshake refused');
    expect(cp.out.some(tlsLog)).toBe(false); // the good client caused none
    const before = cp.out.length;
    const bad = proc('bad', [AGENT, '--target', target, '--node', 'node-b', '--tls-ca', f('ca.crt'), '--tls-cert', f('intruder.crt'), '--tls-key', f('intruder.key')]);
    const refused = await cp.waitLine('TLS refusal log', tlsLog, before);
    expect(String(refused.msg)).toMatch(/client certificate missing or not signed by the configured CA/);
    const lost = await bad.waitLine('disconnect', (l) => l.event === 'disconnected');
    expect(String(lost.error)).toMatch(/UNAVAILABLE/);
    await new Promise((r) => setTimeout(r, 1000));
    expect(bad.out.some(applied)).toBe(false);
    expect(cp.out.filter((l) => l.msg === 'agent connected').map((l) => l.node)).toEqual(['node-a']);
  }, 120_000);
});
