// Attaches the north-south datapath to the node's external interface: XDP in the driver (native)
// where it can run, generic XDP otherwise, and tc alone as the last resort. tc ingress also runs
// behind XDP (for frames whose next hop needs ARP), and tc egress gives replies from this node's
// pods their service address back. The mode is reported.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import * as bpf from './bpf/libbpf.ts';

export type ExternalMode = 'xdp-native' | 'xdp-generic' | 'tc';
export const EXTERNAL_MODES = ['auto', 'xdp-native', 'xdp-generic', 'tc'] as const;

export interface ExternalAttachment {
  name: string;
  ifindex: number;
  mode: ExternalMode;
  ips: string[];
  /** Its global IPv6 addresses (link-local ones left out): NodePorts of IPv6 frontends. */
  ips6: string[];
  /** Why a faster mode was not used, when it was not. */
  fallbacks: string[];
}

export function interfaceIPv4(name: string): string[] {
  return (os.networkInterfaces()[name] ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address);
}

/** The interface's IPv6 addresses other than link-local (fe80::/10) ones. */
export function interfaceIPv6(name: string): string[] {
  return (os.networkInterfaces()[name] ?? []).filter((a) => a.family === 'IPv6' && a.scopeid === 0 && !/^fe[89ab]/i.test(a.address)).map((a) => a.address);
}

/** The interface's link kind ("veth", "bridge", …; empty for a plain NIC). */
export function linkKind(name: string): string {
  const r = spawnSync('ip', ['-j', '-d', 'link', 'show', 'dev', name], { encoding: 'utf8' });
  try {
    return (JSON.parse(r.stdout) as Array<{ linkinfo?: { info_kind?: string } }>)[0]?.linkinfo?.info_kind ?? '';
  } catch {
    return '';
  }
}

export function attachExternal(name: string, progs: { extXdp: number; extTc: number; extEgress: number },
  want: (typeof EXTERNAL_MODES)[number]): ExternalAttachment {
  const ifindex = bpf.ifIndex(name);
  const ips = interfaceIPv4(name);
  if (!ips.length) throw new Error(`external interface ${name} has no IPv4 address`);
  const fallbacks: string[] = [];
  let order: ExternalMode[] = want === 'auto' ? ['xdp-native', 'xdp-generic', 'tc'] : [want];
  if (want === 'auto' && linkKind(name) === 'veth') {
    // A veth accepts native XDP, but frames it sends back out (XDP_TX, to another node or to the
    // client) are silently lost unless the peer runs XDP too, which a kind node cannot know.
    order = ['xdp-generic', 'tc'];
    fallbacks.push('xdp-native: a veth delivers native XDP_TX only when its peer runs XDP (ask for it with --external-mode xdp-native)');
  }
  for (const mode of order) {
    try {
      // Only one north-south program may run: clear the other hooks first (a mode change, or what
      // an earlier agent with other settings left).
      if (mode !== 'xdp-native') bpf.xdpDetach(ifindex, bpf.XDP_FLAGS_DRV_MODE);
      if (mode !== 'xdp-generic') bpf.xdpDetach(ifindex, bpf.XDP_FLAGS_SKB_MODE);
      if (mode !== 'tc') bpf.xdpAttach(ifindex, progs.extXdp, mode === 'xdp-native' ? bpf.XDP_FLAGS_DRV_MODE : bpf.XDP_FLAGS_SKB_MODE);
      // Behind XDP, tc ingress only sees what XDP passed on: frames waiting for ARP, and traffic
      // that is not a service's.
      bpf.tcAttach(ifindex, 'ingress', progs.extTc);
      bpf.tcAttach(ifindex, 'egress', progs.extEgress);
      return { name, ifindex, mode, ips, ips6: interfaceIPv6(name), fallbacks };
    } catch (e) {
      fallbacks.push(`${mode}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`cannot attach the north-south datapath to ${name}: ${fallbacks.join('; ')}`);
}
