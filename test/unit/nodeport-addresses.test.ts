// --nodeport-addresses as kube-proxy reads it: "primary" and CIDRs of either family over the node's addresses.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkNodePortAddresses, kernelFamilies, masqueradeAddress, nodePortIps } from '../../agent/nodeport-addresses.ts';

describe('nodePortIps', () => {
  const local = ['10.10.0.1', '192.168.5.7', '10.10.1.9'];

  it('primary is the external interface\'s addresses; CIDRs add the local addresses in them, once each', () => {
    expect(nodePortIps(['primary'], ['10.10.0.1'], local)).toEqual(['10.10.0.1']);
    expect(nodePortIps(['10.10.0.0/16'], ['10.10.0.1'], local)).toEqual(['10.10.0.1', '10.10.1.9']);
    expect(nodePortIps(['primary', '10.10.0.0/24', '192.168.0.0/16'], ['10.10.0.1'], local)).toEqual(['10.10.0.1', '192.168.5.7']);
    expect(nodePortIps(['0.0.0.0/0'], [], local)).toEqual(local);
    expect(nodePortIps(['172.16.0.0/12'], ['10.10.0.1'], local)).toEqual([]);
  });

  it('IPv6: primary takes the interface\'s IPv6 addresses too; an IPv6 CIDR selects local IPv6 addresses only (canonical text)', () => {
    const dual = [...local, 'fd00:10::5', '2001:db8::7'];
    expect(nodePortIps(['primary'], ['10.10.0.1', 'FD00:10:0::5'], dual)).toEqual(['10.10.0.1', 'fd00:10::5']);
    expect(nodePortIps(['fd00::/8'], [], dual)).toEqual(['fd00:10::5']);
    expect(nodePortIps(['::/0'], [], dual)).toEqual(['fd00:10::5', '2001:db8::7']);
    expect(nodePortIps(['0.0.0.0/0'], [], dual)).toEqual(local);
  });

  it('refuses anything else, naming the flag', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fd00::/129', 'fe80::1%eth0/64', 'all', '300.0.0.0/8']) {
      expect(() => checkNodePortAddresses([bad]), bad).toThrow('--nodeport-addresses');
    }
  });
});

describe('masqueradeAddress', () => {
  it('takes the external interface\'s address, else a NodePort address, else a local one that is not link-local', () => {
    expect(masqueradeAddress(['10.10.0.1'], ['192.168.5.7'], ['172.16.0.1'])).toBe('10.10.0.1');
    expect(masqueradeAddress([], ['192.168.5.7', '10.10.0.1'], ['172.16.0.1'])).toBe('192.168.5.7');
    // A pods' gateway on lo (169.254.1.1) is skipped for the node's real address.
    expect(masqueradeAddress([], [], ['169.254.1.1', '10.10.0.3'])).toBe('10.10.0.3');
    expect(masqueradeAddress([], [], ['169.254.1.1'])).toBeUndefined();
  });

  it('IPv6 (sl_config6): the same order over the IPv6 addresses; IPv4 ones never', () => {
    expect(masqueradeAddress(['fd00:10:10::1'], ['10.10.0.1', 'fd00:10:10::2'], ['fd00:1::3'], 6)).toBe('fd00:10:10::1');
    expect(masqueradeAddress(['10.10.0.1'], ['10.10.0.2', 'fd00:10:10::2'], ['fd00:1::3'], 6)).toBe('fd00:10:10::2');
    expect(masqueradeAddress([], ['10.10.0.2'], ['10.10.0.3', 'fd00:1::3'], 6)).toBe('fd00:1::3');
    expect(masqueradeAddress(['10.10.0.1'], ['10.10.0.2'], ['10.10.0.3'], 6)).toBeUndefined();
    // IPv4 is as it was, whatever IPv6 addresses come first.
    expect(masqueradeAddress(['fd00:10:10::1', '10.10.0.1'], [], [])).toBe('10.10.0.1');
  });
});

describe('kernelFamilies', () => {
  it('both families while /proc/sys/net/ipv6 exists; IPv4 alone when the kernel has IPv6 off', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-procnet-'));
    try {
      expect(kernelFamilies(dir)).toEqual([4]);
      fs.mkdirSync(path.join(dir, 'ipv6'));
      expect(kernelFamilies(dir)).toEqual([4, 6]);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});
