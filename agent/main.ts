// sluice-agent: the node agent. Loads the datapath (adopting pinned maps from an earlier run),
// attaches it to pods' interfaces, and applies the desired services from the control plane (or,
// standalone, from a state file) to the maps.
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { InterfaceAttacher } from './attach.ts';
import { CapacityError, Datapath, DEFAULT_OBJECT, DEFAULT_PIN_ROOT, DEFAULT_SIZES } from './datapath.ts';
import { Reconciler } from './reconciler.ts';
import type { ServiceState } from './services.ts';

const HELP = `Usage: sluice-agent [options]

  --node-name NAME         this node's name (default: $NODE_NAME, else the host name)
  --state-file PATH        standalone mode: apply the services in this JSON file
                           ({"services": [sluice.v1.Service objects]}), re-read when it changes
  --pod-interfaces GLOBS   comma-separated interface name patterns of pods' host-side
                           veths (default: lxc*)
  --pin-root DIR           where maps are pinned, one directory per node (default: ${DEFAULT_PIN_ROOT})
  --bpf-object PATH        compiled datapath (default: build/bpf/sluice_lb.o in the repo)
  --max-services N         size of the services map when it is created (default: ${DEFAULT_SIZES.services})
  --max-backends N         (default: ${DEFAULT_SIZES.backends})
  --maglev-slots N         Maglev table slots for all services together (default: ${DEFAULT_SIZES.maglev})
  --max-conntrack N        (default: ${DEFAULT_SIZES.ct})
  --max-affinity N         (default: ${DEFAULT_SIZES.affinity})
  --scan-interval MS       how often to look for new pod interfaces (default: 500)
  --log-level LEVEL        trace|debug|info|warn|error (default: info)
  -h, --help
`;

function fail(msg: string): never {
  process.stderr.write(`sluice-agent: ${msg}\n\n${HELP}`);
  process.exit(2);
}

function int(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) fail(`--${name}: ${JSON.stringify(v)} is not a positive integer`);
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      'node-name': { type: 'string' }, 'state-file': { type: 'string' }, 'pod-interfaces': { type: 'string', default: 'lxc*' },
      'pin-root': { type: 'string', default: DEFAULT_PIN_ROOT }, 'bpf-object': { type: 'string', default: DEFAULT_OBJECT },
      'max-services': { type: 'string' }, 'max-backends': { type: 'string' }, 'maglev-slots': { type: 'string' },
      'max-conntrack': { type: 'string' }, 'max-affinity': { type: 'string' }, 'scan-interval': { type: 'string' },
      'log-level': { type: 'string', default: 'info' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
} catch (e) {
  fail((e as Error).message);
}
if (args.help) { process.stdout.write(HELP); process.exit(0); }

const log = pino({ level: args['log-level'], base: { component: 'agent' } });
const node = args['node-name'] ?? process.env.NODE_NAME ?? os.hostname();
if (!args['state-file']) fail('a source is needed: --state-file');

const dp = (() => {
  try {
    return Datapath.open({
      node, pinRoot: args['pin-root'], objectPath: args['bpf-object'],
      sizes: {
        services: int('max-services', args['max-services'], DEFAULT_SIZES.services),
        backends: int('max-backends', args['max-backends'], DEFAULT_SIZES.backends),
        maglev: int('maglev-slots', args['maglev-slots'], DEFAULT_SIZES.maglev),
        ct: int('max-conntrack', args['max-conntrack'], DEFAULT_SIZES.ct),
        affinity: int('max-affinity', args['max-affinity'], DEFAULT_SIZES.affinity),
      },
      warn: (msg, fields) => log.warn(fields, msg),
    });
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'cannot load the datapath');
    process.exit(1);
  }
})();
log.info({ node, pinDir: dp.pinDir, adopted: dp.adopted, frontends: dp.frontends.size, backends: dp.backendCount, sizes: dp.sizes },
  dp.adopted ? 'adopted pinned maps: traffic keeps flowing from the last state' : 'created maps');

const reconciler = new Reconciler(dp);
const attacher = new InterfaceAttacher(args['pod-interfaces'].split(','), dp.programs, (msg, fields) => log.info(fields, msg));
attacher.start(int('scan-interval', args['scan-interval'], 500));

/** Apply one version; returns the error text for a nack, or undefined when applied. */
function apply(version: number, snapshot: boolean, upserts: ServiceState[], removals: string[]): string | undefined {
  const t0 = performance.now();
  try {
    const r = snapshot ? reconciler.applySnapshot(upserts) : reconciler.applyDelta(upserts, removals);
    for (const e of r.errors) log.error({ version, err: e }, 'service left as it was');
    log.info({ version, snapshot, services: r.services, changed: r.changed, removed: r.removed, ms: +(performance.now() - t0).toFixed(2) }, 'applied');
    return undefined;
  } catch (e) {
    const msg = (e as Error).message;
    log.error({ version, err: msg, capacity: e instanceof CapacityError }, 'version not applied; previous state kept');
    return msg;
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

watchStateFile(args['state-file']);
log.info({ interfaces: attacher.attached.length }, 'agent ready');

function shutdown(sig: string): void {
  log.info({ signal: sig }, 'stopping; programs and maps stay in place for the next agent');
  attacher.stop();
  dp.close();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
