// How the control plane reaches the Kubernetes API server: where it is, which CA to trust, which
// credentials to present; from a kubeconfig file or the pod's service account (in-cluster).
//
// Memory (issue 14): @kubernetes/client-node's KubeConfig imports the library's whole generated
// API (its config.js loads gen/index.js: every API class and model, ~25 MB of JavaScript), which
// costs ~65 MiB of RSS before a single object is listed. The credentials a control plane uses are
// read here directly, as client-node reads them (the same kubeconfig fields, the same in-cluster
// files and rules): the server URL; certificate-authority(-data), insecure-skip-tls-verify,
// tls-server-name; token, tokenFile / token-file (re-read every 60 s, as client-go and client-node do: bound
// service account tokens rotate), client-certificate(-data) / client-key(-data), username/password.
// A kubeconfig that needs more (exec or auth-provider plugins, proxy-url, impersonation) is handed
// to client-node's KubeConfig, imported only then (`viaClientNode`); a KubeConfig object given by
// the caller is used the same way.
import fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { KubeConfig } from '@kubernetes/client-node';

/** One request's target and node:http(s) options (agent, TLS, Authorization header). */
export interface KubeRequest {
  url: URL;
  options: https.RequestOptions & { headers: Record<string, string> };
}

export interface KubeConnection {
  /** `server` + `pathAndQuery`, with what node:http(s).request needs to reach it. */
  request(pathAndQuery: string): Promise<KubeRequest>;
  /** Closes idle keep-alive sockets. */
  close(): void;
}

/** The service account's files (client-node's SERVICEACCOUNT_*_PATH). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_REREAD_MS = 60_000;

interface Tls { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string }

/** A server and credentials read without client-node. */
class DirectConnection implements KubeConnection {
  private readonly agent: http.Agent;
  private token: { value: string; at: number } | null = null;
  private readonly server: string;
  private readonly auth: { token?: string; tokenFile?: string; basic?: string };

  constructor(server: string, tls: Tls, auth: { token?: string; tokenFile?: string; basic?: string }) {
    this.server = server;
    this.auth = auth;
    // TCP keep-alive probes 30 s after the last byte (client-go and client-node's choice), so that
    // a watch over a dead path is noticed.
    const opts = { keepAlive: true, keepAliveMsecs: 30_000 };
    this.agent = server.startsWith('https:') ? new https.Agent({ ...opts, ...tls }) : new http.Agent(opts);
  }

  private bearer(): string | undefined {
    if (this.auth.tokenFile) {
      const now = Date.now();
      if (!this.token || now - this.token.at > TOKEN_REREAD_MS) this.token = { value: fs.readFileSync(this.auth.tokenFile, 'utf8').trim(), at: now };
      if (this.token.value) return this.token.value;
    }
    return this.auth.token || undefined;
  }

  async request(pathAndQuery: string): Promise<KubeRequest> {
    const headers: Record<string, string> = {};
    const token = this.bearer();
    if (token) headers.authorization = `Bearer ${token}`;
    else if (this.auth.basic) headers.authorization = `Basic ${Buffer.from(this.auth.basic).toString('base64')}`;
    return { url: new URL(this.server + pathAndQuery), options: { agent: this.agent, headers } };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** client-node's KubeConfig (loaded by the caller, or imported here for a kubeconfig file this module does not handle). */
class ClientNodeConnection implements KubeConnection {
  private readonly kc: Promise<KubeConfig>;
  private agent: http.Agent | undefined;

  constructor(kc: Promise<KubeConfig>) {
    this.kc = kc;
    this.kc.catch(() => { /* reported by request() */ });
  }

  async request(pathAndQuery: string): Promise<KubeRequest> {
    const kc = await this.kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig: no current cluster');
    const options: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(options); // TLS, Authorization (auth plugins too), agent (proxies too)
    this.agent = options.agent instanceof http.Agent ? options.agent : undefined;
    return { url: new URL(cluster.server + pathAndQuery), options: { ...options, headers: (options.headers ?? {}) as Record<string, string> } };
  }

  close(): void {
    this.agent?.destroy();
  }
}

/** A KubeConfig the caller already holds (tests, embedders). */
export function viaClientNode(kc: KubeConfig): KubeConnection {
  return new ClientNodeConnection(Promise.resolve(kc));
}

type Doc = Record<string, unknown>;
const obj = (v: unknown): Doc => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Doc) : {});
const named = (list: unknown, name: unknown, what: string, file: string): Doc => {
  const hit = (Array.isArray(list) ? list : []).map(obj).find((e) => e.name === name);
  if (!hit) throw new Error(`kubeconfig ${file}: no ${what} named ${JSON.stringify(name)}`);
  return obj(hit[what]);
};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Fields of a kubeconfig cluster / user this module reads; any other set field sends the file to client-node. */
const CLUSTER_FIELDS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions', 'disable-compression']);
const USER_FIELDS = new Set(['token', 'tokenFile', 'token-file', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'username', 'password', 'extensions']);

/**
 * The connection a kubeconfig file describes (its current-context). Throws when the file cannot
 * be read or names what it does not have; a file that needs client-node is loaded by client-node.
 */
export function fromKubeconfigFile(file: string): KubeConnection {
  const doc = obj(parseYaml(fs.readFileSync(file, 'utf8')));
  const ctxName = doc['current-context'];
  const ctx = named(doc.contexts, ctxName, 'context', file);
  const cluster = named(doc.clusters, ctx.cluster, 'cluster', file);
  const user = ctx.user === undefined ? {} : named(doc.users, ctx.user, 'user', file);
  const unhandled = [
    ...Object.keys(cluster).filter((k) => !CLUSTER_FIELDS.has(k) && cluster[k] !== undefined && cluster[k] !== null),
    ...Object.keys(user).filter((k) => !USER_FIELDS.has(k) && user[k] !== undefined && user[k] !== null),
  ];
  if (unhandled.length > 0) return new ClientNodeConnection(loadWithClientNode(file));
  const server = str(cluster.server)?.replace(/\/$/, '');
  if (!server) throw new Error(`kubeconfig ${file}: cluster ${JSON.stringify(ctx.cluster)} has no server`);
  const dir = path.dirname(file);
  const read = (fileField: unknown, dataField: unknown, what: string): Buffer | undefined => {
    const f = str(fileField);
    if (f) return fs.readFileSync(path.resolve(dir, f));
    const d = str(dataField);
    if (d) return Buffer.from(d, 'base64');
    if (fileField !== undefined || dataField !== undefined) throw new Error(`kubeconfig ${file}: ${what} is empty`);
    return undefined;
  };
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  // client-node's rule: credentials go over plain HTTP only when the kubeconfig says TLS is off.
  if (server.startsWith('http:') && !insecure) throw new Error(`kubeconfig ${file}: HTTP server ${server} without insecure-skip-tls-verify`);
  const tls: Tls = {};
  const ca = read(cluster['certificate-authority'], cluster['certificate-authority-data'], 'certificate-authority');
  if (ca) tls.ca = ca;
  if (insecure) tls.rejectUnauthorized = false;
  if (str(cluster['tls-server-name'])) tls.servername = str(cluster['tls-server-name']);
  const cert = read(user['client-certificate'], user['client-certificate-data'], 'client-certificate');
  const key = read(user['client-key'], user['client-key-data'], 'client-key');
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  const tokenFile = str(user.tokenFile) ?? str(user['token-file']); // kubectl's name, client-node's name
  const basic = str(user.username) ? `${str(user.username)}:${str(user.password) ?? ''}` : undefined;
  return new DirectConnection(server, tls, { token: str(user.token), tokenFile: tokenFile && path.resolve(dir, tokenFile), basic });
}

async function loadWithClientNode(file: string): Promise<KubeConfig> {
  const { KubeConfig: KC } = await import('@kubernetes/client-node');
  const kc = new KC();
  kc.loadFromFile(file);
  return kc;
}

/**
 * The pod's service account (client-node's loadFromCluster): KUBERNETES_SERVICE_HOST/PORT, the
 * mounted CA and token (re-read as it rotates). `dir` is for tests.
 */
export function inCluster(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod? use --kubeconfig)');
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const server = `${scheme}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  const caFile = path.join(dir, 'ca.crt');
  return new DirectConnection(server, { ca: fs.readFileSync(caFile) }, { tokenFile: path.join(dir, 'token') });
}
