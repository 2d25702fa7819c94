// sluice: look at a node's datapath. Reads the pinned maps directly, so it works while the agent
// is down; `status` also reads the agent's status file.
import { parseArgs } from 'node:util';
import { DEFAULT_PIN_ROOT, pinDir } from '../datapath.ts';
import { PinnedMaps } from '../inspect.ts';
import { monitorCommand, MONITOR_HELP, MONITOR_OPTIONS } from './monitor.ts';
import { DEFAULT_RUN_DIR, readStatusFile, type AgentStatus } from '../status.ts';
import { kprDetails, renderKpr } from './status-verbose.ts';
import { table } from './table.ts';
import { skippedLines, skippedRows } from './families.ts';
import { CliError, checkReadable, chooseNode } from './node-select.ts';
import { age, liveness } from './liveness.ts';

// `sluice … | head`: the reader is gone, which is how such a pipeline ends, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const HELP = `Usage: sluice [options] <command>

Commands:
  service list         frontends with their backends and counters (as 'cilium service list'),
                       both IP families: IPv6 frontends the datapath does not program yet are
                       listed from the agent's status as not programmed
  bpf ct list          connection tracking entries
  bpf affinity list    sessionAffinity ClientIP entries
  status [--verbose]   the agent's versions, control plane link, interfaces, map fill; with
                       --verbose also the kube-proxy replacement's configuration
  monitor              datapath events as they happen: drops and rejects with their reason,
                       sampled new flows and affinity hits (as 'cilium monitor')

Options:
  -o, --output table|json   (default: table)
  --node-name NAME          node whose maps to read (default: $NODE_NAME, else the only node
                            pinned under --pin-root, else the host name; with several pinned,
                            they are listed to choose from)
  --pin-root DIR            (default: ${DEFAULT_PIN_ROOT})
  --run-dir DIR             where the agent writes its status (default: ${DEFAULT_RUN_DIR})
  -h, --help
${MONITOR_HELP}`;

function fail(msg: string, code = 2): never {
  process.stderr.write(`sluice: ${msg}\n`);
  if (code === 2) process.stderr.write(`\n${HELP}`);
  process.exit(code);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o', default: 'table' }, 'node-name': { type: 'string' },
      'pin-root': { type: 'string', default: DEFAULT_PIN_ROOT }, 'run-dir': { type: 'string', default: DEFAULT_RUN_DIR },
      help: { type: 'boolean', short: 'h' }, verbose: { type: 'boolean', short: 'v' }, ...MONITOR_OPTIONS,
    },
  });
} catch (e) {
  fail((e as Error).message);
}
const { values: o, positionals } = parsed;
if (o.help || positionals.length === 0) { process.stdout.write(HELP); process.exit(o.help ? 0 : 2); }
if (o.output !== 'table' && o.output !== 'json') fail(`--output: ${o.output} is not table or json`);
const json = o.output === 'json';
const cmd = positionals.join(' ');
const COMMANDS = ['service list', 'bpf ct list', 'bpf affinity list', 'status', 'monitor'];
if (!COMMANDS.includes(cmd)) fail(`unknown command: ${cmd}`);

function out(data: unknown, render: () => string): void {
  process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : render());
}

let node: string;
let maps: PinnedMaps;
try {
  node = chooseNode(o['pin-root']!, o['node-name'], process.env.NODE_NAME);
  checkReadable(pinDir(node, o['pin-root']));
  maps = new PinnedMaps(node, o['pin-root']);
} catch (e) {
  fail((e as Error).message, e instanceof CliError ? e.code : 1);
}

/** The agent's status file, or undefined (none, or not readable: the maps are still shown). */
function statusOrNothing(): AgentStatus | undefined {
  try { return readStatusFile(node, o['run-dir']!)?.status; } catch { return undefined; }
}

switch (cmd) {
  case 'service list': {
    const rows = maps.services();
    const skipped = skippedRows(statusOrNothing());
    out([...rows, ...skipped], () => table(['ID', 'Frontend', 'Service Type', 'Name', 'Backend'], [...rows.flatMap((s) => {
      const bs = s.backends.length ? s.backends.map((b, i) => `${i + 1} => ${b.address}/${s.protocol} (${b.state})`) : ['(none: connections are refused)'];
      const type = s.type + (s.affinityTimeout ? ` affinity=${s.affinityTimeout}s` : '');
      return bs.map((b, i) => (i === 0 ? [String(s.id), s.frontend, type, s.name, b] : ['', '', '', '', b]));
    }), ...skipped.map((k) => ['-', k.frontend, k.type, k.name, '(not programmed: IPv6 is off on this node)'])]));
    break;
  }
  case 'bpf ct list': {
    const rows = maps.conntrack();
    out(rows, () => table(['Dir', 'Proto', 'Source', 'Destination', 'NAT', 'Service', 'Backend', 'State', 'Age(s)', 'Idle(s)'],
      rows.map((r) => [r.direction, r.protocol, r.source, r.destination, r.nat, String(r.serviceId), String(r.backendId),
        r.closing ? 'closing' : 'open', r.ageSeconds.toFixed(1), r.idleSeconds.toFixed(1)])));
    break;
  }
  case 'bpf affinity list': {
    const rows = maps.affinity();
    out(rows, () => table(['Service', 'Client', 'Backend', 'Idle(s)'],
      rows.map((r) => [String(r.serviceId), r.client, String(r.backendId), r.idleSeconds.toFixed(1)])));
    break;
  }
  case 'status': {
    let file: ReturnType<typeof readStatusFile>;
    try { file = readStatusFile(node, o['run-dir']!); } catch { fail(`permission denied reading the agent's status under ${o['run-dir']}: run as root (or with sudo)`, 1); }
    const status: AgentStatus | undefined = file?.status;
    const live = file && liveness(file.status, file.mtimeMs);
    // A dead agent's link is not connected, whatever its last status said.
    if (status?.controlPlane && live && !live.running) status.controlPlane.connected = false;
    const fill = maps.fill();
    const counters = maps.counters();
    const kpr = o.verbose ? kprDetails(status, maps.services(), fill) : undefined;
    const data = { node, agent: status && { ...status, running: live!.running, statusAgeSeconds: Math.round(live!.ageMs / 1000) }, maps: fill, counters, ...(kpr && { kubeProxyReplacement: kpr }) };
    out(data, () => {
      const lines: string[] = [`Node:            ${node}`];
      if (!status) {
        lines.push(`Agent:           no status file under ${o['run-dir']} (agent not running here?)`);
      } else {
        const running = live!.running;
        lines.push(`Agent:           ${running ? `running (pid ${status.pid})` : `not running (${live!.why})`}, started ${status.startedAt}${status.adopted ? ', adopted pinned maps' : ''}`);
        lines.push(`Facts as of:     ${status.updatedAt ?? new Date(file!.mtimeMs).toISOString()} (${age(live!.ageMs)})`);
        const cp = status.controlPlane;
        lines.push(`Control plane:   ${!running && cp ? `agent not running; last known: ${cp.target}${cp.serverId ? ` (server ${cp.serverId})` : ''}` : cp ? `${cp.target} ${cp.connected ? 'connected' : 'disconnected'}${cp.serverId ? ` (server ${cp.serverId})` : ''}${cp.lastError ? `, last error: ${cp.lastError}` : ''}` : `standalone (${status.source})`}`);
        const ns = status.nodeState;
        if (ns) lines.push(`Node state:      ${ns.eligible ? (ns.known ? 'eligible' : 'eligible (no Node object known to the control plane)') : `being deleted (${ns.reason}) since ${ns.since}: /healthz answers 503`}`);
        lines.push(`Applied version: ${status.appliedVersion}${status.appliedAt ? ` at ${status.appliedAt}` : ''}`);
        lines.push(`Nacked versions: ${status.nacked.length ? status.nacked.map((n) => `${n.version} (${n.error})`).join('; ') : 'none'}`);
        lines.push(`Interfaces:      ${status.interfaces.length ? status.interfaces.join(', ') : 'none attached'}`);
        if (status.external) lines.push(`External:        ${status.external}`);
        for (const r of status.refused ?? []) lines.push(`Refused port:    ${r.port}: ${r.reason}`);
        lines.push(...skippedLines(status.skipped));
        const sl = status.socketLb;
        if (sl) lines.push(`Socket LB:       ${sl.mode}${sl.cgroup ? ` at cgroup ${sl.cgroup}; sockets to removed backends: ${sl.staleSockets}` : ''}`);
        const mg = status.migration;
        if (mg) lines.push(`Migrated:        map layout ${mg.from} -> ${mg.to} (${mg.maps.join(', ')}: ${mg.entries} entries carried) at ${mg.at}`);
      }
      lines.push('', table(['Map', 'Entries', 'Capacity', 'Fill'], fill.map((f) => [f.map, String(f.entries), String(f.capacity), `${((100 * f.entries) / f.capacity).toFixed(1)}%`])).trimEnd());
      if (kpr) lines.push('', ...renderKpr(kpr));
      lines.push('', `Datapath counters: ${Object.entries(counters).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      return lines.join('\n') + '\n';
    });
    break;
  }
  case 'monitor':
    process.exitCode = await monitorCommand(maps, o, json, fail);
    break;
  default:
    fail(`unknown command: ${cmd}`);
}
maps.close();
