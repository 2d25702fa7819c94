// IPv4 CIDR helpers, a persistent, never-duplicating allocator (ClusterIPs and Deployment pod IPs of
// the manifests source) and the state file that records who holds which address and NodePort.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';

export interface Cidr {
  base: number;
  bits: number;
  size: number;
  text: string;
}

export function ipToNum(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

export function numToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(text: string): Cidr {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text);
  if (!m || !isIPv4(m[1]!)) throw new Error(`invalid IPv4 CIDR ${JSON.stringify(text)}`);
  const bits = Number(m[2]);
  if (bits < 8 || bits > 30) throw new Error(`CIDR ${text}: prefix length must be between 8 and 30`);
  const size = 2 ** (32 - bits);
  const base = ipToNum(m[1]!);
  if (base % size !== 0) throw new Error(`CIDR ${text}: address has host bits set`);
  return { base, bits, size, text };
}

export function cidrContains(c: Cidr, ip: string): boolean {
  if (!isIPv4(ip)) return false;
  const n = ipToNum(ip);
  return n >= c.base && n < c.base + c.size;
}

/** In the CIDR and neither its network nor its broadcast address (what the API server's range holds). */
export function cidrUsable(c: Cidr, ip: string): boolean {
  if (!cidrContains(c, ip)) return false;
  const n = ipToNum(ip);
  return n !== c.base && n !== c.base + c.size - 1;
}

export interface PortRange { min: number; max: number; text: string }

/** "30000-32767" (the API server's --service-node-port-range syntax). */
export function parsePortRange(text: string): PortRange {
  const m = /^(\d+)-(\d+)$/.exec(text);
  const min = Number(m?.[1]);
  const max = Number(m?.[2]);
  if (!m || min < 1 || max > 65535 || min > max) throw new Error(`invalid port range ${JSON.stringify(text)} (expected MIN-MAX within 1-65535)`);
  return { min, max, text };
}

/**
 * Allocates one address per key from a CIDR. The first candidate is derived from a hash of the key
 * (so even a lost state file tends to give the same answer), then linear probing; the network and
 * broadcast addresses are never handed out. `taken` holds addresses already in use.
 */
export function allocate(c: Cidr, key: string, taken: Set<string>): string | null {
  const usable = c.size - 2;
  const h = createHash('sha256').update(key).digest().readUInt32BE(0);
  for (let i = 0; i < usable; i++) {
    const ip = numToIp(c.base + 1 + ((h + i) % usable));
    if (!taken.has(ip)) return ip;
  }
  return null;
}

export interface AllocationState {
  version: 1;
  serviceCidr: string;
  podCidr: string;
  /** "namespace/name" -> ClusterIP allocated for a Service without spec.clusterIP. */
  services: Record<string, string>;
  /** "namespace/pod-name" -> IP allocated for a Deployment's pod. */
  pods: Record<string, string>;
  /**
   * Explicit addresses and ports -> the Service ("namespace/name") that holds them: the first to
   * claim one keeps it (first come, first served, as the API server's allocators), across restarts.
   * clusterIPs: "10.96.0.80" -> key; nodePorts: "30080/TCP" -> key.
   */
  held: { clusterIPs: Record<string, string>; nodePorts: Record<string, string> };
}

function stringRecord(v: unknown): Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The state file: JSON, written atomically (temporary file + rename). */
export class StateFile {
  readonly file: string;
  state: AllocationState;
  private saved: string;

  constructor(file: string, serviceCidr: string, podCidr: string) {
    this.file = file;
    let st: AllocationState = { version: 1, serviceCidr, podCidr, services: {}, pods: {}, held: { clusterIPs: {}, nodePorts: {} } };
    try {
      const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { services?: unknown; pods?: unknown; held?: { clusterIPs?: unknown; nodePorts?: unknown } };
      st = {
        version: 1, serviceCidr, podCidr, services: stringRecord(raw.services), pods: stringRecord(raw.pods),
        held: { clusterIPs: stringRecord(raw.held?.clusterIPs), nodePorts: stringRecord(raw.held?.nodePorts) },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read state file ${file}: ${(e as Error).message}`);
    }
    this.state = st;
    this.saved = JSON.stringify(st);
  }

  /** Writes the file if the state changed. */
  save(): boolean {
    const text = JSON.stringify(this.state, null, 1);
    if (JSON.stringify(this.state) === this.saved) return false;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text + '\n', { mode: 0o644 });
    fs.renameSync(tmp, this.file);
    this.saved = JSON.stringify(this.state);
    return true;
  }
}
