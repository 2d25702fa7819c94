// sluice-agent: the node agent. Loads the datapath (adopting pinned maps from an earlier run, so
// traffic never stops), attaches it to pods' interfaces, and applies the desired services from the
// control plane (or, standalone, from a state file) to the maps.
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { connectStateStream, type StateStreamClient } from '../controlplane/client.ts';
import { InterfaceAttacher } from './attach.ts';
import { attachExternal, EXTERNAL_MODES, type ExternalAttachment } from './external.ts';
import { CapacityError, Datapath, DEFAULT_PIN_ROOT, DEFAULT_SIZES } from './datapath.ts';
import { DEFAULT_BPF_DIR } from './bpf/objects.ts';
import { collectGarbage, DEFAULT_GC } from './gc.ts';
import { PinnedMaps } from './inspect.ts';
import { AgentMetrics } from './metrics.ts';
import { Reconciler } from './reconciler.ts';
import type { ServiceState } from './services.ts';
import { DEFAULT_RUN_DIR, writeStatus, type AgentStatus } from './status.ts';

const HELP = `Usage: sluice-agent [options]

Source of desired state (one of):
  --control-plane ADDRS    the control plane's gRPC address (host:port, or unix:/path); several
                           replicas comma-separated: the agent moves to the next when one is lost
  --state-file PATH        standalone: the services in this JSON file
                           ({"services": [sluice.v1.Service objects]}), re-read when it changes
mTLS to the control plane (all three, or none):
  --tls-ca FILE            CA that signed the control plane's certificate
  --tls-cert FILE          this agent's client certificate
  --tls-key FILE           its key

  --node-name NAME         this node's name (default: $NODE_NAME, else the host name)
  --pod-interfaces GLOBS   comma-separated name patterns of pods' host-side veths (default: lxc*)
  --external-interface IF  the node's external interface: NodePorts on its addresses, ExternalIPs
                           and LoadBalancer IPs are balanced there (north-south); off when unset
  --external-mode MODE     auto|xdp-native|xdp-generic|tc (default: auto, the fastest that attaches)
  --pin-root DIR           maps are pinned under DIR/<node>/ (default: ${DEFAULT_PIN_ROOT})
  --run-dir DIR            status file for 'sluice status' under DIR/<node>/ (default: ${DEFAULT_RUN_DIR})
  --bpf-dir DIR            compiled datapath, sluice_pod.o and sluice_ext.o (default: build/bpf of this checkout)
  --metrics-addr HOST:PORT Prometheus /metrics, /healthz, /readyz; "off" disables (default: 0.0.0.0:9964)
  --max-services N         map sizes, used when a map is first created
  --max-backends N           (defaults: ${DEFAULT_SIZES.services} services, ${DEFAULT_SIZES.backends} backends,
  --maglev-slots N            ${DEFAULT_SIZES.maglev} Maglev slots, ${DEFAULT_SIZES.ct} conntrack,
  --max-conntrack N           ${DEFAULT_SIZES.affinity} affinity entries)
  --max-affinity N
  --ct-tcp-timeout S       idle TCP flows are forgotten after S seconds (default: ${DEFAULT_GC.tcpSeconds})
  --ct-udp-timeout S       idle UDP flows (default: ${DEFAULT_GC.udpSeconds})
  --ct-closing-timeout S   TCP flows after FIN/RST (default: ${DEFAULT_GC.closingSeconds})
  --gc-interval S          how often expired entries are removed (default: 10)
  --scan-interval MS       how often to look for new pod interfaces (default: 500)
  --log-level LEVEL        trace|debug|info|warn|error (default: info)
  -h, --help
`;

function fail(msg: string): never {
  process.stderr.write(`sluice-agent: ${msg}\n\n${HELP}`);
  process.exit(2);
}

function num(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) fail(`--${name}: ${JSON.stringify(v)} is not a positive number`);
  return n;
}

const str = { type: 'string' } as const;
function parse() {
  try {
    return parseArgs({
      options: {
        'control-plane': str, 'state-file': str, 'tls-ca': str, 'tls-cert': str, 'tls-key': str, 'node-name': str,
        'external-interface': str, 'external-mode': { type: 'string', default: 'auto' },
        'pod-interfaces': { type: 'string', default: 'lxc*' }, 'pin-root': { type: 'string', default: DEFAULT_PIN_ROOT },
        'run-dir': { type: 'string', default: DEFAULT_RUN_DIR }, 'bpf-dir': { type: 'string', default: DEFAULT_BPF_DIR },
        'metrics-addr': { type: 'string', default: '0.0.0.0:9964' }, 'max-services': str, 'max-backends': str,
        'maglev-slots': str, 'max-conntrack': str, 'max-affinity': str, 'ct-tcp-timeout': str, 'ct-udp-timeout': str,
        'ct-closing-timeout': str, 'gc-interval': str, 'scan-interval': str,
        'log-level': { type: 'string', default: 'info' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    return fail((e as Error).message);
  }
}
const args = parse();
if (args.help) { process.stdout.write(HELP); process.exit(0); }
if (!!args['control-plane'] === !!args['state-file']) fail('give exactly one source: --control-plane or --state-file');
const tlsFlags = [args['tls-ca'], args['tls-cert'], args['tls-key']];
if (tlsFlags.some(Boolean) && !tlsFlags.every(Boolean)) fail('mTLS needs all of --tls-ca, --tls-cert and --tls-key');
for (const f of ['tls-ca', 'tls-cert', 'tls-key', 'bpf-dir'] as const) {
  if (args[f] && !fs.existsSync(args[f])) fail(`--${f}: ${args[f]} does not exist`);
}
if (args['metrics-addr'] !== 'off' && !/^[^:]*:\d+$/.test(args['metrics-addr'])) fail(`--metrics-addr: ${args['metrics-addr']} is not HOST:PORT`);
const externalMode = args['external-mode'] as (typeof EXTERNAL_MODES)[number];
if (!EXTERNAL_MODES.includes(externalMode)) fail(`--external-mode: ${externalMode} is not one of ${EXTERNAL_MODES.join(', ')}`);

const log = pino({ level: args['log-level'], base: { component: 'agent' } });
const node = args['node-name'] ?? process.env.NODE_NAME ?? os.hostname();
const runDir = args['run-dir'];
const gcTimeouts = {
  tcpSeconds: num('ct-tcp-timeout', args['ct-tcp-timeout'], DEFAULT_GC.tcpSeconds),
  udpSeconds: num('ct-udp-timeout', args['ct-udp-timeout'], DEFAULT_GC.udpSeconds),
  closingSeconds: num('ct-closing-timeout', args['ct-closing-timeout'], DEFAULT_GC.closingSeconds),
};

let dp: Datapath;
try {
  dp = Datapath.open({
    node, pinRoot: args['pin-root'], objectDir: args['bpf-dir'],
    sizes: {
      services: num('max-services', args['max-services'], DEFAULT_SIZES.services),
      backends: num('max-backends', args['max-backends'], DEFAULT_SIZES.backends),
      maglev: num('maglev-slots', args['maglev-slots'], DEFAULT_SIZES.maglev),
      ct: num('max-conntrack', args['max-conntrack'], DEFAULT_SIZES.ct),
      affinity: num('max-affinity', args['max-affinity'], DEFAULT_SIZES.affinity),
    },
    warn: (msg, fields) => log.warn(fields, msg),
  });
} catch (e) {
  log.fatal({ err: (e as Error).message }, 'cannot load the datapath');
  process.exit(1);
}
log.info({ node, pinDir: dp.pinDir, adopted: dp.adopted, frontends: dp.frontends.size, backends: dp.backendCount, sizes: dp.sizes },
  dp.adopted ? 'adopted pinned maps: traffic keeps flowing from the last state' : 'created maps');

let external: ExternalAttachment | undefined;
if (args['external-interface']) {
  try {
    external = attachExternal(args['external-interface'], dp.programs, externalMode);
    dp.setNodeIp(external.ips[0]!);
    log.info({ interface: external.name, mode: external.mode, addresses: external.ips, fallbacks: external.fallbacks }, 'north-south datapath attached');
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'cannot attach the north-south datapath');
    process.exit(1);
  }
}

const maps = new PinnedMaps(node, args['pin-root']);
const reconciler = new Reconciler(dp, { node, nodeIps: external?.ips ?? [] });
const attacher = new InterfaceAttacher(args['pod-interfaces'].split(','), dp.programs, (msg, fields) => log.info(fields, msg));
const metrics = new AgentMetrics(dp, maps, () => attacher.attached.length);
const status: AgentStatus = {
  node, pid: process.pid, startedAt: new Date().toISOString(), adopted: dp.adopted,
  source: args['control-plane'] ? `control plane ${args['control-plane']}` : `state file ${args['state-file']}`,
  appliedVersion: 0, nacked: [], interfaces: [],
  external: external ? `${external.name} ${external.mode} (${external.ips.join(', ')})${external.fallbacks.length ? `; not used: ${external.fallbacks.join('; ')}` : ''}` : undefined,
};
let stream: StateStreamClient | undefined;
let ready = false;

function saveStatus(): void {
  status.interfaces = attacher.attached.map((a) => a.name).sort();
  if (stream) {
    status.controlPlane = {
      target: stream.target, connected: stream.connected, serverId: stream.serverId || undefined,
      lastError: stream.lastError || undefined, reconnects: status.controlPlane?.reconnects ?? 0,
    };
  }
  try { writeStatus(status, runDir); } catch (e) { log.warn({ err: (e as Error).message }, 'cannot write the status file'); }
}

/** Apply one version; returns the error text for a nack, or undefined when applied. */
function apply(version: number, snapshot: boolean, upserts: ServiceState[], removals: string[]): string | undefined {
  const t0 = performance.now();
  try {
    const r = snapshot ? reconciler.applySnapshot(upserts) : reconciler.applyDelta(upserts, removals);
    const seconds = (performance.now() - t0) / 1000;
    for (const e of r.errors) log.error({ version, err: e }, 'service left as it was');
    metrics.serviceErrors.inc(r.errors.length);
    metrics.applied.inc();
    metrics.applySeconds.observe(seconds);
    metrics.appliedVersion.set(version);
    status.appliedVersion = version;
    status.appliedAt = new Date().toISOString();
    ready = true;
    log.info({ version, snapshot, services: r.services, changed: r.changed, removed: r.removed, ms: +(seconds * 1000).toFixed(2) }, 'applied');
    return undefined;
  } catch (e) {
    const msg = (e as Error).message;
    metrics.nacked.inc();
    metrics.errors.inc({ kind: e instanceof CapacityError ? 'map_full' : 'apply' });
    status.nacked = [...status.nacked, { version, error: msg, at: new Date().toISOString() }].slice(-10);
    log.error({ version, err: msg, capacity: e instanceof CapacityError }, 'version not applied; previous state kept');
    return msg;
  } finally {
    saveStatus();
  }
}

function watchStateFile(file: string): void {
  let version = 0;
  const load = () => {
    let services: ServiceState[];
    try {
      const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { services?: ServiceState[] };
      if (!Array.isArray(doc.services)) throw new Error('"services" must be an array');
      services = doc.services;
    } catch (e) {
      log.error({ file, err: (e as Error).message }, 'state file unreadable; previous state kept');
      return;
    }
    apply(++version, true, services, []);
  };
  load();
  fs.watchFile(file, { interval: 100 }, (cur, prev) => { if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size) load(); });
}

function followControlPlane(targets: string[]): void {
  let i = 0, failures = 0, wasConnected = false;
  const connect = (target: string) => {
    const s = connectStateStream({
      target, nodeName: node, agentId: `${node}/${process.pid}`, lastAppliedVersion: status.appliedVersion,
      tls: args['tls-ca'] ? { caFile: args['tls-ca'], certFile: args['tls-cert']!, keyFile: args['tls-key']! } : undefined,
      logger: log.child({ component: 'stream' }),
      onUpdate: async (u) => apply(u.version, u.snapshot, u.upserts, u.removals),
    });
    s.on('connected', (serverId) => {
      failures = 0;
      wasConnected = true;
      metrics.cpConnected.set(1);
      log.info({ target, serverId }, 'control plane connected');
      saveStatus();
    });
    s.on('disconnected', (why) => {
      metrics.cpConnected.set(0);
      if (wasConnected) {
        wasConnected = false;
        metrics.cpReconnects.inc();
        if (status.controlPlane) status.controlPlane.reconnects++;
        log.warn({ target, why }, 'control plane unreachable; the datapath keeps its last state while reconnecting');
      }
      // With replicas, try the next one (backing off once all have failed); whichever answers
      // sends a full snapshot to reconcile with.
      if (targets.length > 1 && stream === s) {
        s.close();
        i = (i + 1) % targets.length;
        const delay = Math.min(10_000, 200 * 2 ** Math.floor(failures++ / targets.length));
        const next = targets[i]!;
        setTimeout(() => { if (stream === s) stream = connect(next); }, delay);
      }
      saveStatus();
    });
    return s;
  };
  stream = connect(targets[0]!);
}

if (args['metrics-addr'] !== 'off') {
  try {
    await metrics.serve(args['metrics-addr'], () => ready);
  } catch (e) {
    log.fatal({ addr: args['metrics-addr'], err: (e as Error).message }, 'cannot serve metrics');
    process.exit(1);
  }
}
attacher.start(num('scan-interval', args['scan-interval'], 500));
const scanSave = setInterval(() => {
  metrics.attachErrors.set(attacher.errors);
  if (attacher.attached.length !== status.interfaces.length) saveStatus();
}, 1000);
scanSave.unref();

const gcTimer = setInterval(() => {
  try {
    const r = collectGarbage(dp, gcTimeouts);
    metrics.gcDeleted.inc({ map: 'sl_ct' }, r.ctDeleted);
    metrics.gcDeleted.inc({ map: 'sl_affinity' }, r.affinityDeleted);
    if (r.ctDeleted || r.affinityDeleted) log.debug(r, 'expired entries removed');
  } catch (e) {
    metrics.errors.inc({ kind: 'gc' });
    log.warn({ err: (e as Error).message }, 'garbage collection failed');
  }
}, num('gc-interval', args['gc-interval'], 10) * 1000);
gcTimer.unref();

if (args['state-file']) watchStateFile(args['state-file']);
else followControlPlane(args['control-plane']!.split(',').map((t) => t.trim()).filter(Boolean));
saveStatus();
log.info({ interfaces: attacher.attached.length }, 'agent ready');

function shutdown(sig: string): void {
  log.info({ signal: sig }, 'stopping; programs and maps stay in place for the next agent');
  stream?.close();
  attacher.stop();
  clearInterval(gcTimer);
  status.pid = 0;
  saveStatus();
  maps.close();
  dp.close();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
