// common/ip.ts: the contract's one textual form of addresses and CIDRs of both families.
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { bytesToIp, canonicalIp, cidrContains, compareIps, familyOf, formatAddrPort, ipBytes, ipProblem, ipv4Value, parseCidr } from '../../common/ip.ts';

describe('canonical addresses', () => {
  it('IPv6 is RFC 5952 text: lowercase, leading zeros dropped, the longest (first) zero run compressed, a single zero group kept', () => {
    expect(canonicalIp('2001:0DB8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIp('0:0:0:0:0:0:0:0')).toBe('::');
    expect(canonicalIp('fd00:0:0:1::')).toBe('fd00:0:0:1::');
    expect(canonicalIp('10.96.0.1')).toBe('10.96.0.1');
  });

  it('refuses what has no single form, saying why', () => {
    for (const bad of ['::ffff:10.0.0.1', '::ffff:a00:1', 'fe80::1%eth0', '10.96.0.01', '1.2.3', 'x', 42, undefined]) expect(canonicalIp(bad), String(bad)).toBeNull();
    expect(ipProblem('::ffff:10.0.0.1')).toMatch(/IPv4-mapped/);
    expect(ipProblem('fe80::1%eth0')).toMatch(/scoped/);
    expect(ipProblem('nope')).toBe('malformed IP "nope"');
  });

  it('bytes round-trip for both families (4 and 16 bytes), embedded dotted quads included', () => {
    for (const ip of ['0.0.0.0', '255.255.255.255', '10.244.1.2', '::', '::1', 'fd00:10:96::a', '2001:db8:85a3::8a2e:370:7334', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']) {
      const b = ipBytes(ip);
      expect(b.length, ip).toBe(isIP(ip) === 4 ? 4 : 16);
      expect(bytesToIp(b), ip).toBe(ip);
    }
    expect(ipBytes('::ffff:1.2.3.4').toString('hex')).toBe('00000000000000000000ffff01020304');
  });

  it('IPv6 text is the URL standard\'s serialization, for random addresses rich in zero groups', () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let n = 0; n < 5000; n++) {
      const b = Buffer.alloc(16);
      for (let g = 0; g < 8; g++) if (rnd() < 0.4) b.writeUInt16BE(rnd() < 0.3 ? Math.floor(rnd() * 16) : Math.floor(rnd() * 65536), g * 2);
      const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
      const want = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
      expect(bytesToIp(b)).toBe(want);
      // Parsing back, from the canonical text and from the full, upper-case one.
      expect(ipBytes(want).equals(b), want).toBe(true);
      expect(ipBytes(groups.join(':').toUpperCase()).equals(b), want).toBe(true);
      if (!(b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)) expect(canonicalIp(groups.join(':').toUpperCase())).toBe(want);
    }
  });

  it('orders IPv4 first, then by value; brackets IPv6 next to a port', () => {
    expect(['fd00::2', '10.0.0.10', 'fd00::10', '10.0.0.9'].sort(compareIps)).toEqual(['10.0.0.9', '10.0.0.10', 'fd00::2', 'fd00::10']);
    expect(formatAddrPort('fd00::1', 80)).toBe('[fd00::1]:80');
    expect(formatAddrPort('10.0.0.1', 80)).toBe('10.0.0.1:80');
  });
});

describe('CIDRs', () => {
  it('host bits cleared, spaces tolerated, both families; family-aware membership', () => {
    expect(parseCidr(' 10.1.2.3/8')).toEqual({ family: 4, addr: '10.0.0.0', bits: 8 });
    expect(parseCidr('2001:DB8::1:2/64')).toEqual({ family: 6, addr: '2001:db8::', bits: 64 });
    expect(parseCidr('fd00::ff/121')).toEqual({ family: 6, addr: 'fd00::80', bits: 121 });
    expect(parseCidr('::/0')).toEqual({ family: 6, addr: '::', bits: 0 });
    for (const bad of ['10.0.0.0/33', 'fd00::/129', '::ffff:10.0.0.0/104', 'fd00::/', '10.0.0.0', 'x/8']) expect(parseCidr(bad), bad).toBeNull();
    const c = parseCidr('fd00:10:96::/112')!;
    expect(cidrContains(c, 'fd00:10:96::ffff')).toBe(true);
    expect(cidrContains(c, 'fd00:10:97::1')).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, 'fd00::1')).toBe(false);
  });

  it('the dotted-quad fast path agrees with isIP on every kind of text (and gives the address\'s value)', () => {
    let seed = 11;
    const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 12) % n; };
    const alphabet = '0123456789..:a1f ';
    const texts = ['', '.', '1.2.3', '1.2.3.4.', '.1.2.3.4', '1..2.3', '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3.00',
      '1.2.3.0', '10.96.0.1', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.4:80', '::1', 'fd00::1', '::ffff:1.2.3.4', '1.2.3.1000', '١.2.3.4'];
    for (let i = 0; i < 20000; i++) texts.push(Array.from({ length: 1 + rnd(16) }, () => alphabet[rnd(alphabet.length)]).join(''));
    for (let i = 0; i < 5000; i++) texts.push([0, 1, 2, 3].map(() => String(rnd(300))).join('.'));
    for (const t of texts) {
      expect(familyOf(t), JSON.stringify(t)).toBe(isIP(t));
      const v = ipv4Value(t);
      if (isIP(t) === 4) expect(v, JSON.stringify(t)).toBe(t.split('.').reduce((a, p) => a * 256 + Number(p), 0));
      else expect(v, JSON.stringify(t)).toBe(-1);
    }
  });
});
