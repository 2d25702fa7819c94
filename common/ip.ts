// IP addresses and CIDRs of both families, in the one textual form the contract uses
// (proto/sluice/v1/state.proto): IPv4 as a dotted quad, IPv6 as RFC 5952 text (lowercase, the longest
// run of zero groups compressed). In that form the text tells the family by itself, and equal
// addresses are equal strings, so they can key maps and be compared. IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d) and scoped ones (fe80::1%eth0) have no canonical form here: they would make one
// endpoint two addresses, or name an interface a remote node does not have.
import { isIP } from 'node:net';

export type Family = 4 | 6;

/** The family of @ip as isIP sees it (0: not an address). */
export function familyOf(ip: string): 0 | Family {
  // The dotted quads (most addresses a node programs: 100,000 endpoints at 10,000 x 10) without isIP's regexes.
  return ipv4Value(ip) >= 0 ? 4 : isIP(ip) as 0 | Family;
}

/**
 * An IPv4 address as isIPv4 accepts it ("a.b.c.d", each 0-255 without leading zeros) as its
 * big-endian u32, read by char code (no regex, no split, no allocation); -1 for anything else.
 */
export function ipv4Value(ip: string): number {
  let v = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (!digits || dots === 3) return -1;
      v = (v << 8) | part; part = 0; digits = 0; dots++;
      continue;
    }
    if (c < 48 || c > 57 || (digits === 1 && part === 0)) return -1;
    part = part * 10 + (c - 48);
    if (part > 255) return -1;
    digits++;
  }
  if (!digits || dots !== 3) return -1;
  return ((v << 8) | part) >>> 0;
}

/** Whether @ip is an IPv4-mapped IPv6 address (::ffff:0:0/96). */
function isMapped(b: Buffer): boolean {
  return b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
}

/** @ip in canonical form, or null when it is not an address the contract can carry. */
export function canonicalIp(ip: unknown): string | null {
  if (typeof ip !== 'string') return null;
  const fam = isIP(ip);
  if (fam === 4) return ip;
  if (fam !== 6 || ip.includes('%')) return null;
  const b = ipBytes(ip);
  return isMapped(b) ? null : ip6Text(b);
}

/** Why canonicalIp() refused @ip, for error messages. */
export function ipProblem(ip: unknown): string {
  if (typeof ip === 'string' && isIP(ip) === 6) {
    if (ip.includes('%')) return `scoped IPv6 address ${JSON.stringify(ip)} (a zone names a local interface)`;
    return `IPv4-mapped IPv6 address ${JSON.stringify(ip)} (use the IPv4 address)`;
  }
  return `malformed IP ${JSON.stringify(ip)}`;
}

/** Network-order bytes of @ip: 4 for IPv4, 16 for IPv6; throws on anything else. */
export function ipBytes(ip: string): Buffer {
  const fam = isIP(ip);
  if (fam === 4) return Buffer.from(ip.split('.').map(Number));
  if (fam !== 6) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
  // The common form (hex groups, at most one "::", no zone or dotted quad) read in one pass:
  // the agent reads every IPv6 endpoint this way, and the general path below allocates per group.
  if (!ip.includes('.') && !ip.includes('%')) return hexGroups(ip);
  let text = ip.split('%')[0]!;
  const out = Buffer.alloc(16);
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const b = quad[1]!.split('.').map(Number);
    text = text.slice(0, -quad[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const groups = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** 16 bytes of @ip, which isIP() accepted and which holds only hex groups and at most one "::". */
function hexGroups(ip: string): Buffer {
  const out = Buffer.alloc(16);
  const after: number[] = [];
  let n = 0, gap = -1, cur = 0, digits = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 58; // a ':' past the end closes the last group
    if (c !== 58) {
      cur = cur * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
      digits++;
      continue;
    }
    if (digits) {
      if (gap < 0) out.writeUInt16BE(cur, 2 * n++);
      else after.push(cur);
    }
    cur = 0;
    digits = 0;
    // "::": the gap is here; its second colon is skipped.
    if (gap < 0 && i + 1 < ip.length && ip.charCodeAt(i + 1) === 58) { gap = n; i++; }
  }
  // The groups after "::" go to the end.
  after.forEach((g, k) => out.writeUInt16BE(g, 2 * (8 - after.length + k)));
  return out;
}

/** The address of @b (4 or 16 bytes) in canonical form. */
export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length !== 16) throw new Error(`an address has 4 or 16 bytes, not ${b.length}`);
  return ip6Text(b);
}

/**
 * 16 bytes as RFC 5952 text, serialized as the WHATWG URL standard does (lowercase hex without
 * leading zeros, the first longest run of two or more zero groups as "::"). Written out rather than
 * through `new URL()`, which costs ~100 µs a call: the agent checks every IPv6 endpoint.
 */
function ip6Text(b: Buffer): string {
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (b.readUInt16BE(i * 2) !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && b.readUInt16BE(j * 2) === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) { out += i === 0 ? '::' : ':'; i += bestLen - 1; continue; }
    out += b.readUInt16BE(i * 2).toString(16);
    if (i !== 7) out += ':';
  }
  return out;
}

/** Orders addresses IPv4 first, then by value (so lists are stable and read naturally). */
export function compareIps(a: string, b: string): number {
  const x = ipBytes(a), y = ipBytes(b);
  return x.length - y.length || Buffer.compare(x, y);
}

/** "ip:port", with an IPv6 address in brackets ([fd00::1]:80) as URLs and ss print it. */
export function formatAddrPort(ip: string, port: number | string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export interface Cidr {
  family: Family;
  /** The network address (host bits cleared), canonical. */
  addr: string;
  bits: number;
}

/**
 * A CIDR ("192.0.2.0/24", "fd00::/8") with its host bits cleared; null when malformed. Spaces around
 * it are tolerated, as kube-proxy tolerates them in loadBalancerSourceRanges.
 */
export function parseCidr(text: unknown): Cidr | null {
  if (typeof text !== 'string') return null;
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return null;
  const fam = isIP(m[1]!);
  const bits = Number(m[2]);
  if (fam === 0 || m[1]!.includes('%') || bits > (fam === 4 ? 32 : 128)) return null;
  const b = ipBytes(m[1]!);
  if (fam === 6 && isMapped(b)) return null;
  maskBytes(b, bits);
  return { family: fam as Family, addr: bytesToIp(b), bits };
}

export function cidrText(c: Cidr): string {
  return `${c.addr}/${c.bits}`;
}

/** Clears every bit of @b past the first @bits. */
export function maskBytes(b: Buffer, bits: number): Buffer {
  for (let i = 0; i < b.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    b[i]! &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return b;
}

/** Whether @ip lies in @c (an address of the other family never does). */
export function cidrContains(c: Cidr, ip: string): boolean {
  if (familyOf(ip) !== c.family) return false;
  return bytesToIp(maskBytes(ipBytes(ip), c.bits)) === c.addr;
}
