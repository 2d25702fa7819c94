// Hand-built frames for BPF_PROG_TEST_RUN (bench/pktcost.ts, bench/pktab.ts).

/** An IPv4 address's four bytes. */
export function ip4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

/** Ethernet + IPv4 + TCP frame (no payload) from src:sport to dst:dport with TCP @flags. */
export function tcpFrame(src: string, sport: number, dst: string, dport: number, flags: number): Buffer {
  const b = Buffer.alloc(14 + 20 + 20);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(40, 16);
  b[22] = 64;
  b[23] = 6;
  ip4(src).copy(b, 26);
  ip4(dst).copy(b, 30);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += b.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  b.writeUInt16BE(~sum & 0xffff, 24);
  return tcpHeader(b, 34, sport, dport, flags);
}

/** A 20-byte TCP header at @at of @b (no checksum: test runs do not verify it); returns @b. */
function tcpHeader(b: Buffer, at: number, sport: number, dport: number, flags: number): Buffer {
  b.writeUInt16BE(sport, at);
  b.writeUInt16BE(dport, at + 2);
  b[at + 12] = 0x50;
  b[at + 13] = flags;
  b.writeUInt16BE(65535, at + 14);
  return b;
}

/** An IPv6 address's sixteen bytes ("::" expanded). */
export function ip6(a: string): Buffer {
  const [head, tail] = a.includes('::') ? a.split('::') as [string, string] : [a, undefined];
  const words = (s: string | undefined) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head), t = words(tail);
  const all = [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, 2 * i));
  return b;
}

/** Ethernet + IPv6 + TCP frame (no payload, no extension header) from src:sport to dst:dport with TCP @flags. */
export function tcp6Frame(src: string, sport: number, dst: string, dport: number, flags: number): Buffer {
  const b = Buffer.alloc(14 + 40 + 20);
  b.writeUInt16BE(0x86dd, 12);
  b[14] = 0x60;
  b.writeUInt16BE(20, 18);
  b[20] = 6;
  b[21] = 64;
  ip6(src).copy(b, 22);
  ip6(dst).copy(b, 38);
  return tcpHeader(b, 54, sport, dport, flags);
}
