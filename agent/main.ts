// sluice-agent: the node agent's command line. Parses the flags and runs startAgent (agent/agent.ts)
// until SIGTERM or SIGINT.
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { AgentStartError, startAgent, type AgentHandle } from './agent.ts';
import { startCpuProfile } from './cpu-profile.ts';
import { EXTERNAL_MODES } from './external.ts';
import { DEFAULT_BPF_DIR } from './bpf/objects.ts';
import { DEFAULT_PIN_ROOT, DEFAULT_SIZES } from './datapath.ts';
import { DEFAULT_GC } from './gc.ts';
import { checkNodePortAddresses } from './nodeport-addresses.ts';
import { NEXT_HOP_CACHE_MODES, type NextHopCacheMode } from './next-hop-cache.ts';
import { DEFAULT_HEALTHZ_TIMEOUT_S } from './health.ts';
import { SOCKET_LB_MODES, type SocketLbMode } from './socket-lb.ts';
import { DEFAULT_RUN_DIR } from './status.ts';

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
  --nodeport-addresses L   comma-separated CIDRs (IPv4, IPv6) and "primary": the node addresses that
                           take NodePorts (default: primary, the external interface's addresses)
  --external-mode MODE     auto|xdp-native|xdp-generic|tc (default: auto, the fastest that attaches)
  --next-hop-cache MODE    auto|per-flow|off: how XDP caches the next hop of frames it sends back out
                           (one lookup per destination a second); auto keys by addresses when the
                           node's fib_multipath_hash_policy reads addresses only, else by flow
                           (default: auto; docs/datapath.md, "Next-hop cache")
  --socket-lb MODE         off|on|host-only: translate service addresses at connect()/sendmsg() for
                           every socket under --cgroup-root (on), or only the node's own (host-only,
                           pods stay on the per-packet path) (default: off)
  --cgroup-root DIR        cgroup v2 directory the socket-level programs attach to (in a cluster:
                           the host's cgroup v2 root mounted into the agent's pod)
  --socket-lb-destroy-tcp  also destroy TCP sockets connected to a removed backend (connected UDP
                           sockets always are, on Linux >= 6.5) (default: off)
  --pin-root DIR           maps are pinned under DIR/<node>/ (default: ${DEFAULT_PIN_ROOT})
  --run-dir DIR            status file for 'sluice status' under DIR/<node>/ (default: ${DEFAULT_RUN_DIR})
  --bpf-dir DIR            compiled datapath, sluice_pod.o and sluice_ext.o (default: build/bpf of this checkout)
  --metrics-addr HOST:PORT Prometheus /metrics, /healthz, /readyz; "off" disables (default: 127.0.0.1:9964,
                           loopback only as kube-proxy's 127.0.0.1:10249; the DaemonSet sets the pod IP)
  --healthz-addr HOST:PORT kube-proxy's node health server, /healthz and /livez (its
                           --healthz-bind-address); "off" disables (default: 0.0.0.0:10256)
  --healthz-timeout S      /healthz answers 503 once a received change has waited S seconds
                           without being programmed (default: ${DEFAULT_HEALTHZ_TIMEOUT_S}, as kube-proxy's)
  --max-services N         map sizes, used when a map is first created (defaults: ${DEFAULT_SIZES.services}
  --max-backends N           frontends, ${DEFAULT_SIZES.backends} backends, ${DEFAULT_SIZES.maglev} Maglev slots
  --maglev-slots N           (1,030 per service of 10 endpoints), ${DEFAULT_SIZES.ct} conntrack,
  --max-conntrack N          ${DEFAULT_SIZES.affinity} affinity and ${DEFAULT_SIZES.sockRev} socket-level
  --max-affinity N           reverse entries (UDP sockets; TCP ones keep theirs in the socket):
                             10,000 services of 10 endpoints; see
  --max-sock-rev N           docs/operations.md for more; IPv6 frontends and backends share the
  --max-conntrack6 N         first two, IPv6 flows have ${DEFAULT_SIZES.ct6} conntrack entries of their own)
  --ct-tcp-timeout S       idle TCP flows are forgotten after S seconds (default: ${DEFAULT_GC.tcpSeconds})
  --ct-udp-timeout S       idle UDP flows (default: ${DEFAULT_GC.udpSeconds})
  --ct-closing-timeout S   TCP flows after FIN/RST (default: ${DEFAULT_GC.closingSeconds})
  --ct-syn-timeout S       TCP flows the backend never answered, from their first packet (default: ${DEFAULT_GC.synSeconds})
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
        'external-interface': str, 'socket-lb': { type: 'string', default: 'off' }, 'cgroup-root': str,
        'socket-lb-destroy-tcp': { type: 'boolean', default: false }, 'external-mode': { type: 'string', default: 'auto' },
        'next-hop-cache': { type: 'string', default: 'auto' },
        'pod-interfaces': { type: 'string', default: 'lxc*' }, 'pin-root': { type: 'string', default: DEFAULT_PIN_ROOT },
        'run-dir': { type: 'string', default: DEFAULT_RUN_DIR }, 'bpf-dir': { type: 'string', default: DEFAULT_BPF_DIR },
        'metrics-addr': { type: 'string', default: '127.0.0.1:9964' },
        'healthz-addr': { type: 'string', default: '0.0.0.0:10256' }, 'healthz-timeout': str, 'max-services': str, 'max-backends': str,
        'maglev-slots': str, 'max-conntrack': str, 'max-affinity': str, 'max-sock-rev': str, 'max-conntrack6': str, 'ct-tcp-timeout': str, 'ct-udp-timeout': str,
        'ct-closing-timeout': str, 'ct-syn-timeout': str, 'nodeport-addresses': { type: 'string', default: 'primary' }, 'gc-interval': str, 'scan-interval': str,
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
if (args['healthz-addr'] !== 'off' && !/^[^:]*:\d+$/.test(args['healthz-addr'])) fail(`--healthz-addr: ${args['healthz-addr']} is not HOST:PORT`);
const hostPort = (v: string) => ({ host: v.slice(0, v.lastIndexOf(':')) || '0.0.0.0', port: Number(v.slice(v.lastIndexOf(':') + 1)) });
const externalMode = args['external-mode'] as (typeof EXTERNAL_MODES)[number];
if (!EXTERNAL_MODES.includes(externalMode)) fail(`--external-mode: ${externalMode} is not one of ${EXTERNAL_MODES.join(', ')}`);

const nextHopCache = args['next-hop-cache'] as NextHopCacheMode;
if (!NEXT_HOP_CACHE_MODES.includes(nextHopCache)) fail(`--next-hop-cache: ${nextHopCache} is not one of ${NEXT_HOP_CACHE_MODES.join(', ')}`);

const nodePortAddresses = args['nodeport-addresses'].split(',').map((s) => s.trim()).filter(Boolean);
try { checkNodePortAddresses(nodePortAddresses); } catch (e) { fail((e as Error).message); }
const socketLb = args['socket-lb'] as SocketLbMode;
if (!SOCKET_LB_MODES.includes(socketLb)) fail(`--socket-lb: ${socketLb} is not one of ${SOCKET_LB_MODES.join(', ')}`);
if (socketLb !== 'off' && !args['cgroup-root']) fail(`--socket-lb=${socketLb} needs --cgroup-root`);
if (socketLb !== 'off' && !fs.existsSync(args['cgroup-root']!)) fail(`--cgroup-root: ${args['cgroup-root']} does not exist`);

const log = pino({ level: args['log-level'], base: { component: 'agent' } });
const metricsAddr = args['metrics-addr'];
let agent: AgentHandle;
try {
  agent = await startAgent({
    node: args['node-name'] ?? process.env.NODE_NAME ?? os.hostname(),
    source: args['state-file'] ? { stateFile: args['state-file'] } : {
      controlPlane: args['control-plane']!.split(',').map((t) => t.trim()).filter(Boolean),
      tls: args['tls-ca'] ? { caFile: args['tls-ca'], certFile: args['tls-cert']!, keyFile: args['tls-key']! } : undefined,
    },
    podInterfaces: args['pod-interfaces'].split(','),
    externalInterface: args['external-interface'],
    externalMode,
    nextHopCache,
    nodePortAddresses,
    socketLb,
    cgroupRoot: args['cgroup-root'],
    socketLbDestroyTcp: args['socket-lb-destroy-tcp'],
    pinRoot: args['pin-root'],
    runDir: args['run-dir'],
    bpfDir: args['bpf-dir'],
    metrics: metricsAddr === 'off' ? undefined : hostPort(metricsAddr),
    healthz: args['healthz-addr'] === 'off' ? undefined : hostPort(args['healthz-addr']),
    healthzTimeoutMs: num('healthz-timeout', args['healthz-timeout'], DEFAULT_HEALTHZ_TIMEOUT_S) * 1000,
    sizes: {
      services: num('max-services', args['max-services'], DEFAULT_SIZES.services),
      backends: num('max-backends', args['max-backends'], DEFAULT_SIZES.backends),
      maglev: num('maglev-slots', args['maglev-slots'], DEFAULT_SIZES.maglev),
      ct: num('max-conntrack', args['max-conntrack'], DEFAULT_SIZES.ct),
      ct6: num('max-conntrack6', args['max-conntrack6'], DEFAULT_SIZES.ct6!),
      affinity: num('max-affinity', args['max-affinity'], DEFAULT_SIZES.affinity),
      sockRev: num('max-sock-rev', args['max-sock-rev'], DEFAULT_SIZES.sockRev!),
    },
    gc: {
      tcpSeconds: num('ct-tcp-timeout', args['ct-tcp-timeout'], DEFAULT_GC.tcpSeconds),
      udpSeconds: num('ct-udp-timeout', args['ct-udp-timeout'], DEFAULT_GC.udpSeconds),
      closingSeconds: num('ct-closing-timeout', args['ct-closing-timeout'], DEFAULT_GC.closingSeconds),
      synSeconds: num('ct-syn-timeout', args['ct-syn-timeout'], DEFAULT_GC.synSeconds!),
    },
    gcIntervalMs: num('gc-interval', args['gc-interval'], 10) * 1000,
    scanIntervalMs: num('scan-interval', args['scan-interval'], 500),
    log,
  });
} catch (e) {
  if (!(e instanceof AgentStartError)) throw e;
  log.fatal(e.fields, e.message);
  process.exit(1);
}

// Diagnosis: SLUICE_CPU_PROFILE_DIR=DIR profiles from here (the datapath is loaded) to shutdown.
const profile = process.env.SLUICE_CPU_PROFILE_DIR ? startCpuProfile(process.env.SLUICE_CPU_PROFILE_DIR) : undefined;

function shutdown(sig: string): void {
  log.info({ signal: sig }, 'stopping; programs and maps stay in place for the next agent');
  if (profile) log.info({ file: profile.stop() }, 'CPU profile written');
  void agent.stop().finally(() => process.exit(0));
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
