// A pod's workload in the simulated cluster: answers on the given TCP and UDP ports.
//   HTTP (a request starting with an HTTP method): 200 with "<pod> <client ip>:<port> <local port>\n"
//   "ECHO\n": sends "<pod>\n", then echoes every byte back until the client closes
//   anything else: "<pod> <client ip>:<port> <local port>\n", then closes
// UDP: the same line for each datagram, or the datagram itself after "<pod>\n" when it starts
// with "ECHO\n". Every port is served over IPv4 and, where the pod has an IPv6 address, IPv6
// (separate sockets, so an IPv4 client is never shown as ::ffff:a.b.c.d); an IPv6 client's address
// is written in brackets ([fd00::1]:5000).
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { formatAddrPort } from '../../common/ip.ts';

const { values } = parseArgs({
  options: { name: { type: 'string' }, tcp: { type: 'string', default: '' }, udp: { type: 'string', default: '' } },
});
const name = values.name ?? 'pod';
const ports = (s: string) => s.split(',').filter(Boolean).map(Number);

const HTTP = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS) /;
/** IPv6 too when this namespace has an IPv6 address beyond loopback (the simulation's pods do). */
const FAMILIES: Array<{ host: string; udp: 'udp4' | 'udp6' }> = [{ host: '0.0.0.0', udp: 'udp4' }];
if (Object.values(os.networkInterfaces()).flat().some((a) => a && a.family === 'IPv6' && !a.internal && !a.address.startsWith('fe80:'))) {
  FAMILIES.push({ host: '::', udp: 'udp6' });
}
let listening = 0;
const want = (ports(values.tcp).length + ports(values.udp).length) * FAMILIES.length;
const ready = () => { if (++listening === want) process.stdout.write('ready\n'); };

for (const port of ports(values.tcp)) for (const fam of FAMILIES) {
  const srv = net.createServer((sock) => {
    const who = `${name} ${formatAddrPort(sock.remoteAddress!, sock.remotePort!)} ${port}\n`;
    sock.on('error', () => sock.destroy());
    sock.once('data', (first) => {
      const text = first.subarray(0, 8).toString('latin1');
      if (text.startsWith('ECHO\n')) {
        sock.write(`${name}\n`);
        if (first.length > 5) sock.write(first.subarray(5));
        sock.pipe(sock);
      } else if (HTTP.test(text)) {
        sock.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(who)}\r\nconnection: close\r\n\r\n${who}`);
      } else {
        sock.end(who);
      }
    });
  });
  srv.listen({ port, host: fam.host, ipv6Only: fam.udp === 'udp6' }, ready);
}

for (const port of ports(values.udp)) for (const fam of FAMILIES) {
  const sock = dgram.createSocket({ type: fam.udp, ipv6Only: fam.udp === 'udp6' });
  sock.on('message', (msg, rinfo) => {
    const reply = msg.subarray(0, 5).toString('latin1') === 'ECHO\n'
      ? Buffer.concat([Buffer.from(`${name}\n`), msg.subarray(5)])
      : Buffer.from(`${name} ${formatAddrPort(rinfo.address, rinfo.port)} ${port}\n`);
    sock.send(reply, rinfo.port, rinfo.address);
  });
  sock.bind(port, fam.host, ready);
}
if (want === 0) process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
