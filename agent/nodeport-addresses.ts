// --nodeport-addresses: which of the node's addresses take NodePorts, as kube-proxy's flag of that
// name decides it. "primary" means the node's primary addresses (here: the external interface's,
// kube-proxy's nftables default); a CIDR (of either family) adds every local address in it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canonicalIp, cidrContains, familyOf, parseCidr, type Family } from '../common/ip.ts';

/** Throws on an entry that is neither "primary" nor a CIDR. */
export function checkNodePortAddresses(spec: string[]): void {
  for (const s of spec) {
    if (s !== 'primary' && (!/^[0-9A-Fa-f.:]+\/\d{1,3}$/.test(s) || !parseCidr(s))) {
      throw new Error(`--nodeport-addresses: ${JSON.stringify(s)} is neither "primary" nor a CIDR`);
    }
  }
}

/**
 * The node's own addresses of both families, canonical; loopback and IPv6 link-local left out
 * (kube-proxy never serves NodePorts there).
 */
export function localAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? [])
    .filter((a) => !a.internal && (a.family === 'IPv4' ? !a.address.startsWith('127.') : a.scopeid === 0 && !/^fe[89ab]/i.test(a.address)))
    .flatMap((a) => canonicalIp(a.address) ?? []));
}

/** Addresses that take NodePorts for @spec, in order, without repeats. */
export function nodePortIps(spec: string[], primary: string[], local: string[] = localAddresses()): string[] {
  checkNodePortAddresses(spec);
  const out = spec.flatMap((s) => {
    if (s === 'primary') return primary;
    const c = parseCidr(s)!;
    return local.filter((ip) => cidrContains(c, ip));
  });
  return [...new Set(out.flatMap((ip) => canonicalIp(ip) ?? []))];
}

const LINK_LOCAL = parseCidr('169.254.0.0/16')!;

/**
 * The families this node's kernel serves: IPv6 unless it is turned off (`ipv6.disable=1` removes
 * /proc/sys/net/ipv6). kube-proxy likewise runs single-stack where the second family is missing.
 */
export function kernelFamilies(procNet = '/proc/sys/net'): Family[] {
  return fs.existsSync(path.join(procNet, 'ipv6')) ? [4, 6] : [4];
}

/**
 * The address source-NATed flows of @family take (kube-proxy's masquerade: hairpin,
 * externalTrafficPolicy Cluster): the external interface's first, else the first NodePort address,
 * else the first local address that is neither loopback nor link-local (a pods' gateway such as
 * 169.254.1.1 would do for hairpin but means nothing to a backend). Undefined when the node has none.
 */
export function masqueradeAddress(external: string[], nodePorts: string[], local: string[] = localAddresses(), family: Family = 4): string | undefined {
  const mine = (ips: string[]) => ips.filter((ip) => familyOf(ip) === family);
  return mine(external)[0] ?? mine(nodePorts)[0] ?? mine(local).find((ip) => family === 6 || !cidrContains(LINK_LOCAL, ip));
}
