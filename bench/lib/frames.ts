// Hand-built frames for BPF_PROG_TEST_RUN (bench/pktcost.ts, bench/pktab.ts).
import { ipBytes } from '../../common/ip.ts';

/** Ethernet + IPv4 + TCP frame (no payload) from src:sport to dst:dport with TCP @flags. */
export function tcpFrame(src: string, sport: number, dst: string, dport: number, flags: number): Buffer {
  const b = Buffer.alloc(14 + 20 + 20);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(40, 16);
  b[22] = 64;
  b[23] = 6;
  ipBytes(src).copy(b, 26);
  ipBytes(dst).copy(b, 30);
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

/** Ethernet + IPv6 + TCP frame (no payload, no extension header) from src:sport to dst:dport with TCP @flags. */
export function tcp6Frame(src: string, sport: number, dst: string, dport: number, flags: number): Buffer {
  const b = Buffer.alloc(14 + 40 + 20);
  b.writeUInt16BE(0x86dd, 12);
  b[14] = 0x60;
  b.writeUInt16BE(20, 18);
  b[20] = 6;
  b[21] = 64;
  ipBytes(src).copy(b, 22);
  ipBytes(dst).copy(b, 38);
  return tcpHeader(b, 54, sport, dport, flags);
}
