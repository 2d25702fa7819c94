// CIDR helpers of both families, a persistent, never-duplicating allocator (ClusterIPs and Deployment
// pod IPs of the manifests source) and the state file that records who holds which address and NodePort.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { bytesToIp, canonicalIp, familyOf, ipBytes, type Family } from '../common/ip.ts';

export interface Cidr {
  family: Family;
  /** The network address as a number. */
  base: bigint;
  bits: number;
  /** Addresses in the range. */
  size: bigint;
  text: string;
}

/**
 * The API server's allocator keeps a bitmap of at most 2^16 addresses: a larger IPv6 range hands out
 * only its first ones. IPv4 ranges are limited by their prefix length instead (at most a /8).
 */
const MAX_V6_ADDRESSES = 65536n;

function toBig(ip: string): bigint {
  return BigInt(`0x${ipBytes(ip).toString('hex')}`);
}

function fromBig(n: bigint, family: Family): string {
  return bytesToIp(Buffer.from(n.toString(16).padStart(family === 4 ? 8 : 32, '0'), 'hex'));
}

/** An IPv4 range (prefix 8..30) or an IPv6 one (prefix 64..126), without host bits. */
export function parseCidr(text: string): Cidr {
  const m = /^([^/]+)\/(\d+)$/.exec(text);
  const family = m ? familyOf(m[1]!) : 0;
  if (!m || family === 0 || (family === 6 && canonicalIp(m[1]!) === null) || (family === 4 && !isIPv4(m[1]!))) {
    throw new Error(`invalid CIDR ${JSON.stringify(text)} (IPv4 or IPv6)`);
  }
  const bits = Number(m[2]);
  const [lo, hi] = family === 4 ? [8, 30] : [64, 126];
  if (bits < lo || bits > hi) throw new Error(`CIDR ${text}: prefix length must be between ${lo} and ${hi}`);
  const size = 1n << BigInt((family === 4 ? 32 : 128) - bits);
  const base = toBig(m[1]!);
  if (base % size !== 0n) throw new Error(`CIDR ${text}: address has host bits set`);
  return { family, base, bits, size, text };
}

export function cidrContains(c: Cidr, ip: string): boolean {
  if (familyOf(ip) !== c.family || canonicalIp(ip) === null) return false;
  const n = toBig(ip);
  return n >= c.base && n < c.base + c.size;
}

/**
 * In the CIDR and one the API server's range hands out: never the network address (for IPv6, the
 * subnet-router anycast address), nor IPv4's broadcast address.
 */
export function cidrUsable(c: Cidr, ip: string): boolean {
  if (!cidrContains(c, ip)) return false;
  const n = toBig(ip);
  return n !== c.base && (c.family === 6 || n !== c.base + c.size - 1n);
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
 * (so even a lost state file tends to give the same answer), then linear probing over the addresses
 * cidrUsable() accepts (the first 2^16 of a larger IPv6 range). `taken` holds addresses already in
 * use (canonical text).
 */
export function allocate(c: Cidr, key: string, taken: Set<string>): string | null {
  const usable = c.family === 4 ? c.size - 2n : (c.size - 1n < MAX_V6_ADDRESSES - 1n ? c.size - 1n : MAX_V6_ADDRESSES - 1n);
  const h = BigInt(createHash('sha256').update(key).digest().readUInt32BE(0));
  for (let i = 0n; i < usable; i++) {
    const ip = fromBig(c.base + 1n + ((h + i) % usable), c.family);
    if (!taken.has(ip)) return ip;
  }
  return null;
}

export interface AllocationState {
  version: 1;
  serviceCidr: string;
  /** The IPv6 service range ('' when IPv6 allocation is off). */
  serviceCidr6?: string;
  podCidr: string;
  /** "namespace/name" -> IPv4 ClusterIP allocated for a Service without an explicit one of that family. */
  services: Record<string, string>;
  /** "namespace/name" -> IPv6 ClusterIP allocated likewise. */
  services6?: Record<string, string>;
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

  constructor(file: string, serviceCidr: string, podCidr: string, serviceCidr6 = '') {
    this.file = file;
    let st: AllocationState = { version: 1, serviceCidr, serviceCidr6, podCidr, services: {}, services6: {}, pods: {}, held: { clusterIPs: {}, nodePorts: {} } };
    try {
      const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { services?: unknown; services6?: unknown; pods?: unknown; held?: { clusterIPs?: unknown; nodePorts?: unknown } };
      st = {
        version: 1, serviceCidr, serviceCidr6, podCidr, services: stringRecord(raw.services), services6: stringRecord(raw.services6), pods: stringRecord(raw.pods),
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
