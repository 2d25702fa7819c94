#!/usr/bin/env node
// The Sluice control plane: a source (Kubernetes informers or a manifests directory) feeding the
// state store, served to agents over gRPC, with metrics and health over HTTP.
import * as fs from 'node:fs';
import { pino, type Logger } from 'pino';
import { StateStore } from './store.ts';
import { StateServer, listenProblem, type TlsFiles } from './server.ts';
import { createMetrics } from './metrics.ts';
import { createManifestsMetrics } from './metrics-manifests.ts';
import { DEFAULT_SERVICE_CIDR_V6, ManifestsSource } from './source-manifests.ts';
import { KubernetesSource } from './source-kubernetes.ts';
import { parseCidr, parsePortRange } from './ipalloc.ts';
import { serveStatus, type StatusServer } from '../common/status-server.ts';

export const USAGE = `Usage: node controlplane/main.ts [flags]

  --source kubernetes|manifests   where Services and EndpointSlices come from (default: manifests
                                  when --manifests is given, else kubernetes)
  --kubeconfig PATH               kubeconfig for the kubernetes source (default: in-cluster config)
  --manifests DIR                 directory of YAML manifests (manifests source)
  --state-file PATH               allocation state of the manifests source
                                  (default: <DIR>.sluice-state.json next to DIR)
  --service-cidr CIDR             IPv4 ClusterIP range for the manifests source (default 10.96.0.0/12)
  --service-cidr-v6 CIDR|none     IPv6 ClusterIP range for the manifests source, making it dual-stack
                                  (IPv4 primary) as the API server with two ranges (default
                                  fd00:10:96::/112; none: IPv4 only)
  --pod-cidr CIDR                 pod IP range for Deployments of the manifests source (default 10.244.0.0/16)
  --service-node-port-range A-B   NodePort range of the manifests source, as the API server's (default 30000-32767)
  --max-manifest-bytes N          manifest files above N bytes are refused (default 1048576)
  --rescan-interval SECONDS       manifests safety-net rescan period (default 10)
  --listen ADDR                   gRPC address: host:port or unix:/path (default 127.0.0.1:7443).
                                  A TCP address needs mTLS (below) or --insecure-listen; a Unix socket
                                  is made mode 0600 and needs neither
  --tls-cert PATH --tls-key PATH --tls-ca PATH
                                  mTLS: server certificate, key, and the CA that client certificates
                                  must be signed by (all three or none)
  --insecure-listen               allow a TCP --listen without mTLS (logs a warning): anyone who can
                                  reach the address receives every node's state
  --metrics-addr HOST:PORT        serve /metrics, /healthz, /readyz (default: off; the manifests in
                                  deploy/ set it)
  --log-level LEVEL               trace|debug|info|warn|error (default info)
  --help                          this text
`;

export interface Flags {
  source: 'kubernetes' | 'manifests';
  kubeconfig?: string;
  manifests?: string;
  stateFile?: string;
  serviceCidr: string;
  /** '' or 'none': no IPv6 service range. */
  serviceCidr6: string;
  podCidr: string;
  nodePortRange: string;
  maxManifestBytes: number;
  rescanIntervalS: number;
  listen: string;
  tls?: TlsFiles;
  insecureListen: boolean;
  metricsAddr?: string;
  logLevel: string;
}

export class FlagError extends Error {}

const VALUE_FLAGS = new Set(['source', 'kubeconfig', 'manifests', 'state-file', 'service-cidr', 'service-cidr-v6', 'pod-cidr', 'service-node-port-range', 'max-manifest-bytes', 'rescan-interval', 'listen', 'tls-cert', 'tls-key', 'tls-ca', 'metrics-addr', 'log-level']);

function parseHostPort(v: string, flag: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(v);
  const port = Number(m?.[2]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new FlagError(`--${flag}: expected HOST:PORT, got ${JSON.stringify(v)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function parseFlags(argv: string[]): Flags | 'help' {
  const v: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--insecure-listen') { v['insecure-listen'] = 'true'; continue; }
    if (!a.startsWith('--')) throw new FlagError(`unexpected argument ${JSON.stringify(a)}`);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    if (!VALUE_FLAGS.has(name)) throw new FlagError(`unknown flag --${name}`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new FlagError(`--${name} needs a value`);
    }
    v[name] = value;
  }
  const source = (v.source ?? (v.manifests ? 'manifests' : 'kubernetes'));
  if (source !== 'kubernetes' && source !== 'manifests') throw new FlagError(`--source must be kubernetes or manifests, got ${JSON.stringify(source)}`);
  if (source === 'manifests' && !v.manifests) throw new FlagError('--source manifests needs --manifests DIR');
  if (source === 'manifests') {
    let st: fs.Stats;
    try { st = fs.statSync(v.manifests!); } catch { throw new FlagError(`--manifests: ${v.manifests} does not exist`); }
    if (!st.isDirectory()) throw new FlagError(`--manifests: ${v.manifests} is not a directory`);
  }
  if (source === 'kubernetes' && (v.manifests || v['state-file'])) throw new FlagError('--manifests/--state-file only apply to --source manifests');
  if (source === 'manifests' && v.kubeconfig) throw new FlagError('--kubeconfig only applies to --source kubernetes');
  const serviceCidr = v['service-cidr'] ?? '10.96.0.0/12';
  const podCidr = v['pod-cidr'] ?? '10.244.0.0/16';
  const serviceCidr6 = v['service-cidr-v6'] ?? DEFAULT_SERVICE_CIDR_V6;
  for (const [f, c, fam] of [['service-cidr', serviceCidr, 4], ['pod-cidr', podCidr, 0], ['service-cidr-v6', serviceCidr6, 6]] as const) {
    if (f === 'service-cidr-v6' && c === 'none') continue;
    let family: number;
    try { family = parseCidr(c).family; } catch (e) { throw new FlagError(`--${f}: ${(e as Error).message}`); }
    if (fam && family !== fam) throw new FlagError(`--${f}: ${c} is not an IPv${fam} range`);
  }
  const rescan = Number(v['rescan-interval'] ?? '10');
  if (!Number.isFinite(rescan) || rescan <= 0) throw new FlagError(`--rescan-interval: expected a positive number of seconds`);
  const listen = v.listen ?? '127.0.0.1:7443';
  if (listen.startsWith('unix:')) {
    if (listen.length <= 'unix:'.length) throw new FlagError('--listen unix: needs a path');
  } else parseHostPort(listen, 'listen');
  const tlsGiven = ['tls-cert', 'tls-key', 'tls-ca'].filter((f) => v[f] !== undefined);
  let tls: TlsFiles | undefined;
  if (tlsGiven.length > 0) {
    if (tlsGiven.length !== 3) throw new FlagError('--tls-cert, --tls-key and --tls-ca go together');
    for (const f of tlsGiven) if (!fs.existsSync(v[f]!)) throw new FlagError(`--${f}: ${v[f]} does not exist`);
    tls = { certFile: v['tls-cert']!, keyFile: v['tls-key']!, caFile: v['tls-ca']! };
  }
  const insecureListen = v['insecure-listen'] === 'true';
  const refused = listenProblem(listen, { tls, insecure: insecureListen });
  if (refused) throw new FlagError(refused);
  if (v['metrics-addr'] !== undefined) parseHostPort(v['metrics-addr'], 'metrics-addr');
  const nodePortRange = v['service-node-port-range'] ?? '30000-32767';
  try { parsePortRange(nodePortRange); } catch (e) { throw new FlagError(`--service-node-port-range: ${(e as Error).message}`); }
  const maxManifestBytes = Number(v['max-manifest-bytes'] ?? 1 << 20);
  if (!Number.isInteger(maxManifestBytes) || maxManifestBytes <= 0) throw new FlagError('--max-manifest-bytes: expected a positive whole number of bytes');
  const logLevel = v['log-level'] ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) throw new FlagError(`--log-level: unknown level ${JSON.stringify(logLevel)}`);
  return {
    source, kubeconfig: v.kubeconfig, manifests: v.manifests, stateFile: v['state-file'], serviceCidr, serviceCidr6, podCidr, nodePortRange, maxManifestBytes,
    rescanIntervalS: rescan, listen, tls, insecureListen, metricsAddr: v['metrics-addr'], logLevel,
  };
}

export interface ControlPlane {
  store: StateStore;
  server: StateServer;
  grpcPort: number;
  metricsPort: number;
  stop(): Promise<void>;
}

export async function startControlPlane(flags: Flags, log: Logger): Promise<ControlPlane> {
  const store = new StateStore();
  const metrics = createMetrics(store);
  store.on('errors', (obj, errs) => {
    if (errs.length === 0) { log.info({ object: obj }, 'object valid again (or gone)'); return; }
    for (const e of errs) {
      metrics.invalidObjects.inc({ kind: e.kind });
      log.warn({ kind: e.kind, object: e.object, field: e.field, err: e.message }, 'invalid object');
    }
  });
  const server = new StateServer({ store, logger: log, metrics });
  let source: { stop(): unknown };
  if (flags.source === 'manifests') {
    const manifestsMetrics = createManifestsMetrics(metrics.registry);
    const m = new ManifestsSource({
      dir: flags.manifests!, store, logger: log, stateFile: flags.stateFile, serviceCidr: flags.serviceCidr, serviceCidr6: flags.serviceCidr6, podCidr: flags.podCidr,
      nodePortRange: flags.nodePortRange, maxFileBytes: flags.maxManifestBytes, rescanIntervalMs: flags.rescanIntervalS * 1000,
      onSourceError: (reason) => { metrics.sourceErrors.inc({ source: 'manifests' }); manifestsMetrics.onSourceError(reason); },
    });
    manifestsMetrics.watch(m);
    await m.start();
    log.info({ dir: flags.manifests, stateFile: m.stateFile.file, services: store.size }, 'manifests source started');
    source = m;
  } else {
    const k = new KubernetesSource({ store, logger: log, kubeconfig: flags.kubeconfig, onSourceError: () => metrics.sourceErrors.inc({ source: 'kubernetes' }) });
    k.start();
    log.info({ kubeconfig: flags.kubeconfig ?? '(in-cluster)' }, 'kubernetes source started');
    source = k;
  }
  const grpcPort = await server.listen(flags.listen, { tls: flags.tls, insecure: flags.insecureListen });
  let status: StatusServer | null = null;
  if (flags.metricsAddr) {
    const { host, port } = parseHostPort(flags.metricsAddr, 'metrics-addr');
    status = await serveStatus({ host, port, registry: metrics.registry, notReady: () => (store.synced ? undefined : 'source not synced') });
    log.info({ address: `${host}:${status.port}` }, 'metrics server listening');
  }
  const metricsPort = status?.port ?? 0;
  return {
    store, server, grpcPort, metricsPort,
    async stop() {
      await source.stop();
      await server.close();
      await status?.close();
    },
  };
}

async function main(): Promise<void> {
  let flags: Flags | 'help';
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`sluice-controlplane: ${e.message}\nRun with --help for usage.\n`);
      process.exit(2);
    }
    throw e;
  }
  if (flags === 'help') { process.stdout.write(USAGE); return; }
  const log = pino({ level: flags.logLevel, base: { component: 'controlplane' } });
  let cp: ControlPlane;
  try {
    cp = await startControlPlane(flags, log);
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'control plane failed to start');
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'shutting down');
    const hard = setTimeout(() => process.exit(1), 5000);
    hard.unref();
    cp.stop().then(() => process.exit(0), (e: Error) => { log.error({ err: e.message }, 'shutdown error'); process.exit(1); });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (import.meta.main) void main();
