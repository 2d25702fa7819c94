// The source ports masqueraded flows take (bpf/lib/lb.h lb_snat()): a range disjoint from the node's
// ephemeral range (net.ipv4.ip_local_port_range of the agent's network namespace, the node's), so a
// connection the node itself opens (a kubelet probe, say) never takes the port, and so the tuple, of
// a masqueraded flow towards the same backend. The kernel's NodePort range and the privileged ports
// are left out too.
import fs from 'node:fs';

export interface PortRange { min: number; max: number }

export const EPHEMERAL_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';
/** Linux's default ephemeral range, assumed when the file cannot be read. */
export const LINUX_EPHEMERAL: PortRange = { min: 32768, max: 60999 };
/** Kubernetes' default NodePort range (--service-node-port-range). */
export const NODEPORT_RANGE: PortRange = { min: 30000, max: 32767 };
const FIRST_UNPRIVILEGED = 1024;

/** Parse ip_local_port_range's "lo<TAB>hi"; throws naming the file and the text when it is not that. */
export function parseEphemeralRange(text: string, file = EPHEMERAL_RANGE_FILE): PortRange {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  const min = Number(m?.[1]), max = Number(m?.[2]);
  if (!m || min < 1 || max > 65535 || min > max) throw new Error(`${file}: expected "low high" ports, got ${JSON.stringify(text)}`);
  return { min, max };
}

/** The node's ephemeral range as its kernel holds it. */
export function readEphemeralRange(file = EPHEMERAL_RANGE_FILE): PortRange {
  return parseEphemeralRange(fs.readFileSync(file, 'utf8'), file);
}

/** [1024, 65535] less the ranges in @taken: the free stretches, in order. */
function freeStretches(taken: PortRange[]): PortRange[] {
  const out: PortRange[] = [];
  let from = FIRST_UNPRIVILEGED;
  for (const t of [...taken].sort((a, b) => a.min - b.min)) {
    if (t.min > from) out.push({ min: from, max: Math.min(t.min - 1, 65535) });
    from = Math.max(from, t.max + 1);
  }
  if (from <= 65535) out.push({ min: from, max: 65535 });
  return out;
}

/**
 * The masquerade range for a node whose ephemeral range is @ephemeral: the largest stretch of
 * unprivileged ports outside it and the NodePort range (1024–29999 for Linux's default). Undefined
 * when there is none: the ephemeral range covers every unprivileged port outside the NodePort range.
 */
export function masqueradePorts(ephemeral: PortRange, nodePorts: PortRange = NODEPORT_RANGE): PortRange | undefined {
  const free = freeStretches([ephemeral, nodePorts]);
  let best: PortRange | undefined;
  for (const r of free) if (!best || r.max - r.min > best.max - best.min) best = r;
  return best;
}

/** Whether two port ranges share a port. */
export function overlaps(a: PortRange, b: PortRange): boolean {
  return a.min <= b.max && b.min <= a.max;
}

/** Fewer masquerade ports than this (per node address and backend) is worth a warning. */
const FEW_PORTS = 1024;

/**
 * The masquerade range for this node, read from @file, with what it means logged: a warning when
 * the file cannot be read (Linux's default assumed), when the range is small, and when there is no
 * range at all (undefined: the datapath keeps its fixed 32768–60999, which may then clash).
 */
export function chooseMasqueradePorts(log: { warn(obj: object, msg: string): void }, file = EPHEMERAL_RANGE_FILE): PortRange | undefined {
  let ephemeral = LINUX_EPHEMERAL;
  try {
    ephemeral = readEphemeralRange(file);
  } catch (e) {
    log.warn({ err: (e as Error).message, assumed: `${ephemeral.min}-${ephemeral.max}` }, 'cannot read the node\'s ephemeral port range');
  }
  const ports = masqueradePorts(ephemeral);
  if (!ports) {
    log.warn({ ephemeral: `${ephemeral.min}-${ephemeral.max}` }, 'no ports outside the node\'s ephemeral range to masquerade with: ' +
      'a connection the node opens may share a masqueraded flow\'s tuple (narrow net.ipv4.ip_local_port_range)');
  } else if (ports.max - ports.min + 1 < FEW_PORTS) {
    log.warn({ ephemeral: `${ephemeral.min}-${ephemeral.max}`, ports: `${ports.min}-${ports.max}` },
      'few ports outside the node\'s ephemeral range to masquerade with: flows to one backend beyond that many are dropped (snat_fail)');
  }
  return ports;
}
