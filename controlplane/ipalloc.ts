// IPv4 CIDR helpers and a persistent, never-duplicating allocator (ClusterIPs and Deployment pod
// IPs of the manifests source).
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
}

/** The state file: JSON, written atomically (temporary file + rename). */
export class StateFile {
  readonly file: string;
  state: AllocationState;
  private saved: string;

  constructor(file: string, serviceCidr: string, podCidr: string) {
    this.file = file;
    let st: AllocationState = { version: 1, serviceCidr, podCidr, services: {}, pods: {} };
    try {
      const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<AllocationState>;
      st = { version: 1, serviceCidr, podCidr, services: { ...(raw.services ?? {}) }, pods: { ...(raw.pods ?? {}) } };
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
