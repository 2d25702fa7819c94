// --nodeport-addresses: which of the node's addresses take NodePorts, as kube-proxy's flag of that
// name decides it. "primary" means the node's primary addresses (here: the external interface's,
// kube-proxy's nftables default); a CIDR adds every local IPv4 address in it.
import os from 'node:os';

const CIDR = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/;

/** Throws on an entry that is neither "primary" nor an IPv4 CIDR. */
export function checkNodePortAddresses(spec: string[]): void {
  for (const s of spec) {
    const m = CIDR.exec(s);
    if (s !== 'primary' && (!m || Number(m[2]) > 32 || m[1]!.split('.').some((o) => Number(o) > 255))) {
      throw new Error(`--nodeport-addresses: ${JSON.stringify(s)} is neither "primary" nor an IPv4 CIDR`);
    }
  }
}

const toU32 = (ip: string) => ip.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);

function inCidr(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const bits = Number(len);
  const mask = bits ? (~0 << (32 - bits)) >>> 0 : 0;
  return ((toU32(ip) & mask) >>> 0) === ((toU32(net!) & mask) >>> 0);
}

/** The node's own IPv4 addresses, loopback left out (kube-proxy never serves NodePorts there). */
export function localIpv4(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? [])
    .filter((a) => a.family === 'IPv4' && !a.address.startsWith('127.')).map((a) => a.address));
}

/** Addresses that take NodePorts for @spec, in order, without repeats. */
export function nodePortIps(spec: string[], primary: string[], local: string[] = localIpv4()): string[] {
  checkNodePortAddresses(spec);
  const out = spec.flatMap((s) => (s === 'primary' ? primary : local.filter((ip) => inCidr(ip, s))));
  return [...new Set(out)];
}

const LINK_LOCAL = '169.254.0.0/16';

/**
 * The address source-NATed flows take (kube-proxy's masquerade: hairpin, externalTrafficPolicy
 * Cluster): the external interface's first, else the first NodePort address, else the first local
 * address that is neither loopback nor link-local (a pods' gateway such as 169.254.1.1 would do for
 * hairpin but means nothing to a backend). Undefined when the node has none.
 */
export function masqueradeAddress(external: string[], nodePorts: string[], local: string[] = localIpv4()): string | undefined {
  return external[0] ?? nodePorts[0] ?? local.find((ip) => !inCidr(ip, LINK_LOCAL));
}
